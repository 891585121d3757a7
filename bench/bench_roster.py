"""What the duty roster adds to each page: resolving the escalation chain from the stored
TinyDB roster (cached by file identity; re-read under a lock only after a change, so CLI edits
still apply at the next page) against the
baseline of the settings-seeded roster (in memory), plus signing and checking an ack link.

Run: .venv/bin/python bench/bench_roster.py   (JSON to stdout and bench/results/roster.json)
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, percentiles
from hub.alerting.rules import AlertKind, open_alert
from hub.alerting.service import RosterResolver
from hub.duty.officers import OfficerStore
from hub.duty.roster import Officer
from hub.paging.ack_links import AckLinks
from hub.settings import HubSettings

VILLAGES = [f"Desa {i}" for i in range(20)]
ROUNDS = 300


def timed(action, rounds: int = ROUNDS) -> dict[str, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        officers = [
            {
                "name": f"Officer {i}",
                "urls": [f"json://sink/o{i}"],
                "villages": [VILLAGES[i % 20]],
                "level": 1 + i // 40,
            }
            for i in range(50)
        ]
        settings = HubSettings(
            mqtt_password="x",
            data_dir=data,
            officers=officers,
            fallback_urls=["json://sink/piket"],
            posts=[{"device_id": "pos-a", "name": "Pos A", "village": "Desa 3"}],
        )
        post = settings.posts[0]
        alert = open_alert("pos-a", AlertKind.PANIC, datetime.now(UTC))
        now = datetime.now(UTC)

        baseline = RosterResolver(settings, OfficerStore(data / "empty" / "roster.json"))  # no file: seeded roster
        store = OfficerStore(data / "roster.json")
        for i, o in enumerate(officers):
            store.put_officer(
                Officer(
                    id=f"o{i}", name=o["name"], urls=tuple(o["urls"]), villages=tuple(o["villages"]), level=o["level"]
                )
            )
            for day in range(7):
                store.add_shift(officer_id=f"o{i}", weekday=day, start="22:00", end="06:00")
            store.add_override(
                officer_id=f"o{i}", kind="off", start=now - timedelta(days=30), end=now - timedelta(days=29)
            )
        stored = RosterResolver(settings, store)
        assert stored.chain_for(post, alert, now) is not None

        seeded = timed(lambda: baseline.chain_for(post, alert, now))
        from_file = timed(lambda: stored.chain_for(post, alert, now))
        links = AckLinks(b"k" * 32, ttl=3600)
        token = links.issue(alert.id, "Officer 3")
        sign = timed(lambda: links.issue(alert.id, "Officer 3"), 3000)
        verify = timed(lambda: links.verify(token, alert.id), 3000)
        size = (data / "roster.json").stat().st_size

    emit(
        "roster",
        {
            "benchmark": "roster",
            "roster": {"officers": 50, "shifts": 350, "overrides": 50, "file_bytes": size},
            "baseline_seeded_chain": seeded,
            "stored_chain": from_file,
            "ratio_stored_to_seeded_p50": round(from_file["p50_ms"] / max(seeded["p50_ms"], 1e-6), 1),
            "ack_link_issue": sign,
            "ack_link_verify": verify,
        },
    )


if __name__ == "__main__":
    main()
