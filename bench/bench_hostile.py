"""Hostile posts at volume (issue 18): how many hostile messages the hub took, and how many got stuck or crashed.

    .venv/bin/python bench/bench_hostile.py [--messages 100000] [--batch 100] [--no-write]

The generator and the in-process hub are tests/e2e/test_hostile_content.py's (tests/e2e/
hostile_messages.py): hypothesis draws a seed per batch, `random_message` builds each hostile
message of the batch from it, and `Ingest.handle` of the real HubService (real event store, alert
service, registry; no MQTT) takes them one by one. After every batch every message must be
settled (PUBACK-able) and every accepted event in the store, or it counts as stuck; then every
view (post, alert and event JSON) and the dashboard's events, posts and alert pages are rendered
in both languages, or it counts as crashed. Prints JSON to stdout and writes bench/results/hostile.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, settings

from kamling.protocol import Event, EventKind, new_event_id, utc_now
from tests.e2e.hostile_messages import InProcessHub, Message, message_batches

RESULTS = Path(__file__).resolve().parent / "results" / "hostile.json"


def run(messages: int, batch: int) -> dict[str, object]:
    logging.disable(logging.WARNING)  # every rejection logs a line: 100,000 of them cost more than the check
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        world = InProcessHub(Path(tmp) / "hub")
        world.start()
        started = time.perf_counter()
        try:

            @settings(
                max_examples=max(1, -(-messages // batch)),
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(message_batches(InProcessHub.HOSTILE, batch))
            def one_batch(items: list[Message]) -> None:
                for message in items:
                    world.deliver(message)
                world.wait_settled()
                world.render_all([m.event_id for m in items if m.event_id])

            one_batch()
            hostile_seconds = time.perf_counter() - started
            tally = world.tally.as_dict()  # the hostile messages alone
            # the honest post's panic, after all of it: still paged?
            panic = Event(id=new_event_id(), device=InProcessHub.HONEST, seq=1, kind=EventKind.PANIC, ts=utc_now())
            sent_before = len(world.notifier.sent)
            world.deliver(Message("event", None, panic.to_payload(), panic.id), device=InProcessHub.HONEST)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                "Pos Kamling RW 01" in title for _, title, _ in world.notifier.sent[sent_before:]
            ):
                time.sleep(0.01)
            world.wait_settled()
            honest_paged = any("Pos Kamling RW 01" in title for _, title, _ in world.notifier.sent[sent_before:])
            honest_ok = world.hub.store.contains(panic.id) and world.tally.stuck == tally["stuck"]
            return {
                "benchmark": "hostile",
                "what": "hostile but well-formed messages from one provisioned post into the real hub's ingest, "
                "every view and dashboard page rendered after each batch",
                "messages_requested": messages,
                "batch": batch,
                **tally,
                "rejected_by_reason": dict(world.hub.ingest.rejected),
                "events_in_store": world.hub.ingest.accepted,
                "alerts": len(world.hub.alerts.all()),
                "honest_panic_paged_after": honest_paged,
                "honest_panic_stored_after": honest_ok,
                "seconds": round(hostile_seconds, 1),
                "messages_per_second": round(int(tally["tried"]) / hostile_seconds, 1),
                "python": platform.python_version(),
                "machine": platform.machine(),
            }
        finally:
            world.stop()
            logging.disable(logging.NOTSET)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/results alone")
    args = parser.parse_args()
    result = run(args.messages, args.batch)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text + "\n", encoding="utf-8")
    sys.exit(0 if result["stuck"] == 0 and result["crashed"] == 0 and result["honest_panic_paged_after"] else 1)


if __name__ == "__main__":
    main()
