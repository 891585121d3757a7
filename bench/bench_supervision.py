"""Time to detect a dead post: SIGKILL of the edge process, and a silent link (power cut of the
router: no FIN, only the MQTT keepalive can tell), each until the hub's `offline` alert.

    .venv/bin/python bench/bench_supervision.py [--rounds 3]

Prints JSON and writes bench/results/supervision.json. Baseline in the same run: the
keepalive (5 s) and the 1.5x keepalive bound the broker applies (7.5 s).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.provisioning.broker_files import new_secret
from poskamling.broker import MosquittoBroker
from poskamling.httpsink import NotificationSink
from tests.fault.relay import TcpRelay
from tests.fault.rig import Rig

HUB_USER = "poskamling-hub"
KEEPALIVE = 5


def _offline_open(rig: Rig, device: str) -> bool:
    assert rig.hub is not None
    return any(a["device"] == device and a["kind"] == "offline" and a["open"] for a in rig.hub.alerts())


def _online(rig: Rig, device: str) -> bool:
    assert rig.hub is not None
    try:
        return any(p["device_id"] == device and p["online"] for p in rig.hub.api("/api/posts"))
    except Exception:
        return False


def _until(cond, timeout: float = 60.0) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    while not cond():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out")
        time.sleep(0.02)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    kill_times: list[float] = []
    silent_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-supervision-") as tmp:
        root = Path(tmp)
        broker = MosquittoBroker(root / "broker", accounts={HUB_USER: new_secret()})
        broker.start()
        sink = NotificationSink()
        sink.start()
        relay = TcpRelay(broker.host, broker.port)
        relay.start()
        rig = Rig(root / "rig", broker, sink.url("officer"))
        try:
            killed = rig.add_edge("pos-s01", count=1, rate=0, keepalive=KEEPALIVE)
            silent = rig.add_edge("pos-s02", count=1, rate=0, port=relay.port, keepalive=KEEPALIVE)
            rig.add_hub().start()
            for _ in range(args.rounds):
                killed.start()
                _until(lambda: _online(rig, killed.device_id) and not _offline_open(rig, killed.device_id))
                killed.kill()
                kill_times.append(_until(lambda: _offline_open(rig, killed.device_id)))
                silent.start()
                _until(lambda: _online(rig, silent.device_id) and not _offline_open(rig, silent.device_id))
                relay.cut()
                silent_times.append(_until(lambda: _offline_open(rig, silent.device_id)))
                silent.kill()
                relay.restore()
        finally:
            rig.stop()
            relay.stop()
            sink.stop()
            broker.stop()
    result = {
        "name": "supervision",
        "keepalive_s": KEEPALIVE,
        "bound_s": 1.5 * KEEPALIVE,
        "sigkill_to_offline_alert_s": {
            "median": round(statistics.median(kill_times), 3),
            "max": round(max(kill_times), 3),
        },
        "silent_link_to_offline_alert_s": {
            "median": round(statistics.median(silent_times), 3),
            "max": round(max(silent_times), 3),
        },
        "silent_ratio_to_bound": round(max(silent_times) / (1.5 * KEEPALIVE), 3),
    }
    out = Path(__file__).resolve().parent / "results" / "supervision.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
