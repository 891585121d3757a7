"""Fault-injection rig: broker, hub and edge agents as real processes the tests kill and restart.

The hub's store is a database URL: SQLite in the hub's data_dir by default, or a PostgreSQL database
(the `database_url` of the rig fixture), so the same scenarios run on both backends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from edge.outbox import Outbox
from hub.accounts.auth import new_token
from hub.storage.sql.database import Database
from hub.storage.sql.events import SqlEventStore
from kamling.protocol import ALARM_KINDS
from poskamling.broker import MosquittoBroker
from poskamling.net import free_port, wait_for_port
from poskamling.sim import BUZZER_PIN, LED_PIN, PANIC_PIN
from tests.support import HUB_USER, add_device, post_entry, wait_for

CLI = [sys.executable, "-m", "poskamling.cli"]
REPO = Path(__file__).resolve().parents[2]


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "ab")
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    return subprocess.Popen([*CLI, *args], stdout=handle, stderr=subprocess.STDOUT, cwd=REPO, env=env)


def _terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _kill(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL: a crash or a power cut."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


@dataclass
class HubProcess:
    """`poskamling hub --config hub.yaml` in its own process."""

    workdir: Path
    broker: MosquittoBroker
    devices: list[str]
    sink_url: str
    database_url: str | None = None  # None: SQLite in data_dir (the hub's default)
    http_port: int = field(default_factory=free_port)
    token: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hub.db'}"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        token, digest = new_token()
        self.token = token
        config = {
            "mqtt_host": self.broker.host,
            "mqtt_port": self.broker.port,
            "mqtt_password": self.broker.accounts[HUB_USER],
            "data_dir": str(self.data_dir),
            "http_port": self.http_port,
            "posts": [post_entry(d) for d in self.devices],
            "officers": [{"name": "officer", "urls": [self.sink_url]}],
            "api_tokens": [{"name": "fault-test", "role": "operator", "sha256": digest}],
            # The posts here stream far faster than real ones: the flood guard must not throttle.
            "rate_limit": {"rate": 10_000, "burst": 10_000, "panic_rate": 10_000, "panic_burst": 10_000},
            # These tests kill posts seconds after the hub connects: a short hold keeps their offline
            # alerts within the tests' waits (the hold itself: tests/e2e/test_offline_hold.py).
            "offline_hold_after_connect": 2.0,
        }
        if self.database_url:
            config["database_url"] = self.database_url
        path = self.workdir / "hub.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def start(self) -> None:
        path = self.write_config()
        self.proc = _spawn(["hub", "--config", str(path)], self.workdir / "hub.log")
        if not wait_for_port("127.0.0.1", self.http_port, 30):
            raise AssertionError(f"hub did not start: {self.log_tail()}")
        wait_for(lambda: self.health().get("mqtt_connected"), timeout=20, what="hub connected to the broker")

    def health(self) -> dict[str, Any]:
        try:
            return httpx.get(f"{self.url}/api/health", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return {}

    def api(self, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.get(f"{self.url}{path}", params=params, headers=headers, timeout=5).json()

    def alerts(self) -> list[dict[str, Any]]:
        try:
            return self.api("/api/alerts")
        except (httpx.HTTPError, ValueError):
            return []

    def kill(self) -> None:
        _kill(self.proc)

    def stop(self) -> None:
        _terminate(self.proc)

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "hub.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@dataclass
class EdgeProcess:
    """`poskamling sim stream edge.yaml --count N`: a real agent on mock pins, streaming."""

    workdir: Path
    device_id: str
    password: str
    host: str
    port: int
    count: int
    rate: float
    kinds: str = "motion,checkin,motion,panic"
    keepalive: int = 5  # the edge default
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log(self) -> Path:
        return self.workdir / "edge.log"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "device_id": self.device_id,
            "mqtt": {
                "host": self.host,
                "port": self.port,
                "password": self.password,
                "keepalive": self.keepalive,
                "reconnect_max": 2.0,
            },
            "panic_button": {"pin": PANIC_PIN, "bounce_time": None},
            "status_led": {"pin": LED_PIN},
            "buzzer": {"pin": BUZZER_PIN, "alarm_seconds": 1.0},
            "data_dir": str(self.data_dir),
            "ack_timeout": 3.0,
        }
        path = self.workdir / "edge.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def start(self, linger: bool = True) -> None:
        path = self.write_config()
        args = ["sim", "stream", str(path), "--count", str(self.count), "--rate", str(self.rate), "--kinds", self.kinds]
        self.proc = _spawn([*args, "--linger"] if linger else args, self.log)

    def lines(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def acked(self) -> bool:
        """The hub acked every one of the `count` events (the run since the last start)."""
        lines = self.lines()
        return bool(lines) and lines[-1].get("event") == "acked"

    def stored(self) -> int:
        """Events durably in the outbox so far (last seq), read from the SQLite file."""
        box = Outbox(self.data_dir / "outbox.sqlite", self.device_id)
        try:
            box.open()
            return box.last_seq()
        finally:
            box.close()

    def kill(self) -> None:
        _kill(self.proc)

    def stop(self) -> None:
        _terminate(self.proc)


@dataclass
class Rig:
    root: Path
    broker: MosquittoBroker
    sink_url: str
    database_url: str | None = None  # the hub's store; None: SQLite in its data_dir
    hub: HubProcess | None = None
    edges: list[EdgeProcess] = field(default_factory=list)

    def add_hub(self) -> HubProcess:
        self.hub = HubProcess(
            self.root / "hub", self.broker, [e.device_id for e in self.edges], self.sink_url, self.database_url
        )
        return self.hub

    def add_edge(self, device_id: str, count: int, rate: float, port: int | None = None, **kw: Any) -> EdgeProcess:
        password = self.broker.accounts.get(device_id) or add_device(self.broker, device_id)
        edge = EdgeProcess(
            self.root / device_id, device_id, password, self.broker.host, port or self.broker.port, count, rate, **kw
        )
        self.edges.append(edge)
        return edge

    def wait_all_acked(self, timeout: float) -> None:
        wait_for(
            lambda: all(e.acked() for e in self.edges),
            timeout=timeout,
            interval=0.2,
            what="every edge's events acked by the hub",
        )

    def stop(self) -> None:
        for edge in self.edges:
            edge.stop()
        if self.hub:
            self.hub.stop()


def stored_records(store_url: str) -> list[dict[str, Any]]:
    """Every event in the hub's store, in commit order (the hub's receive time, then id)."""
    store = SqlEventStore(Database(store_url))
    store.open()
    try:
        return list(store.scan())
    finally:
        store.close()


def assert_log_exactly_once(store_url: str, expected: dict[str, int], edges: list[EdgeProcess] | None = None) -> None:
    """What the system promises: each device's seqs 1..N stored exactly once; per post, committed in
    seq order, except events the post replayed.

    Why not strict seq order: a post keeps publishing new events (up to MAX_IN_FLIGHT unacked) while
    an older one waits for the hub's ack. If that older one never reaches the hub (the broker drops
    messages past a full session queue while the hub is down, or the hub dies holding it), the post
    replays it after its ack timeout, and the hub, which orders the log by its own receive time,
    commits it after newer events of the same post. Holding newer events back until every gap is
    filled would delay a panic behind a lost motion event.

    How far back a replayed event lands is not bounded by MAX_IN_FLIGHT: the window counts unacked
    events, not seq numbers, so once the events after a lost one are acked the post sends on while
    the lost one waits out its replay timer (fresh-clone CI: seq 593 committed after 974, nothing
    lost). What does hold: the broker keeps one client's messages in order, so an event can be
    committed after a higher seq only if the post sent it more than once. Per post, the events
    committed late can be no more than the events it resent (`edges`: their final stats). Panic and
    tamper events are left out of the order check: their copy on the `alarm` channel travels the
    hub's alarm session, on purpose ahead of whatever the main session still carries (issue 17)."""
    records = stored_records(store_url)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "an event id is stored twice"
    by_device: dict[str, list[int]] = defaultdict(list)
    in_order: dict[str, list[int]] = defaultdict(list)  # the events without an alarm copy
    for record in records:
        by_device[record["device"]].append(int(record["seq"]))
        if record["kind"] not in ALARM_KINDS:
            in_order[record["device"]].append(int(record["seq"]))
    resent = {e.device_id: _resent(e) for e in edges or []}
    for device, count in expected.items():
        seqs = by_device.get(device, [])
        missing = sorted(set(range(1, count + 1)) - set(seqs))
        assert not missing, f"{device}: {len(missing)} events missing, e.g. seq {missing[:10]}"
        assert len(seqs) == count, f"{device}: {len(seqs)} stored, expected {count}"
        late = _late(in_order.get(device, []))
        if late:
            sent_again = resent.get(device, 0)
            assert sent_again > 0, f"{device}: log not in seq order without a resend: {late[:3]}"
            assert len(late) <= sent_again, (
                f"{device}: {len(late)} events committed after a higher seq, but the post resent only "
                f"{sent_again}: the hub reordered events, e.g. {late[:3]}"
            )
    assert set(by_device) <= set(expected), f"unexpected devices {set(by_device) - set(expected)}"


def _late(seqs: list[int]) -> list[tuple[int, int]]:
    """(seq, highest seq committed before it) for each event committed after a higher seq."""
    out: list[tuple[int, int]] = []
    top = 0
    for seq in seqs:
        if seq < top:
            out.append((seq, top))
        top = max(top, seq)
    return out


def _resent(edge: EdgeProcess) -> int:
    """How many events the post published again (its stats in the JSON lines `sim stream` prints, summed
    over runs: a restarted post replays its outbox as fresh publishes, counted under `replays`)."""
    return sum(
        int(line.get("stats", {}).get("replays", 0)) + int(line.get("stats", {}).get("resent", 0))
        for line in edge.lines()
        if line.get("event") == "acked"
    )
