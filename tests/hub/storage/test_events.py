"""The TinyDB event store on real files: idempotent appends, queries, partitions, damage, failed writes.

The atomic write itself is tested in tests/kamling/test_durable.py, the damage rules in test_files.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.storage.events import EventQuery, TinyEventStore
from kamling.protocol import new_event_id

BASE = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def record(
    device: str = "pos-rw01", seq: int = 1, kind: str = "panic", minutes: int = 0, **over: Any
) -> dict[str, Any]:
    ts = BASE + timedelta(minutes=minutes)
    raw = {
        "id": new_event_id(),
        "device": device,
        "seq": seq,
        "kind": kind,
        "ts": ts.isoformat(),
        "data": {},
        "test": False,
        "received_at": (ts + timedelta(seconds=1)).isoformat(),
    }
    raw.update(over)
    return raw


def open_store(root: Path, **kw: Any) -> TinyEventStore:
    store = TinyEventStore(root, **kw)
    store.open()
    return store


def partition_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("events-*.json"))


def test_append_contains_get_and_scan_in_commit_order(tmp_path: Path) -> None:
    store = open_store(tmp_path / "events")
    records = [record(seq=n, minutes=n) for n in range(1, 6)]
    added = store.append(records)
    assert [r["id"] for r in added] == [r["id"] for r in records]
    assert all(store.contains(r["id"]) for r in records)
    assert not store.contains(new_event_id())
    assert store.get(records[2]["id"]) == records[2]
    assert store.get(new_event_id()) is None
    assert [r["seq"] for r in store.scan()] == [1, 2, 3, 4, 5]
    # get() returns a copy: changing it does not change the store
    got = store.get(records[0]["id"])
    assert got is not None
    got["kind"] = "motion"
    assert store.get(records[0]["id"])["kind"] == "panic"  # type: ignore[index]


def test_duplicates_skipped_within_a_batch_and_across_batches(tmp_path: Path) -> None:
    store = open_store(tmp_path / "events")
    first = record(seq=1)
    added = store.append([first, dict(first), record(seq=2)])
    assert [r["seq"] for r in added] == [1, 2]
    again = store.append([dict(first), record(seq=3)])
    assert [r["seq"] for r in again] == [3]
    assert store.append([dict(first)]) == []
    assert [r["seq"] for r in store.scan()] == [1, 2, 3]
    store.close()
    reopened = open_store(tmp_path / "events")
    assert reopened.append([dict(first)]) == []  # the id survives a restart
    assert len(reopened.scan()) == 3


def test_query_filters_ordering_and_pagination(tmp_path: Path) -> None:
    store = open_store(tmp_path / "events")
    records = [record("pos-a", n + 1, "motion" if n % 2 else "panic", n) for n in range(20)]
    records.append(record("pos-b", 1, "panic", 100, test=True))
    store.append(records)

    everything = store.query(EventQuery(limit=1000))
    assert everything.total == 21
    assert everything.items[0]["device"] == "pos-b"  # newest ts first
    assert [r["ts"] for r in everything.items] == sorted((r["ts"] for r in records), reverse=True)

    panics = store.query(EventQuery(device="pos-a", kind="panic", limit=1000))
    assert panics.total == 10 and {r["kind"] for r in panics.items} == {"panic"}
    assert {r["device"] for r in panics.items} == {"pos-a"}

    page1 = store.query(EventQuery(device="pos-a", limit=5, offset=0))
    page2 = store.query(EventQuery(device="pos-a", limit=5, offset=5))
    last = store.query(EventQuery(device="pos-a", limit=5, offset=18))
    assert [r["seq"] for r in page1.items] == [20, 19, 18, 17, 16]
    assert [r["seq"] for r in page2.items] == [15, 14, 13, 12, 11]
    assert [r["seq"] for r in last.items] == [2, 1] and last.total == 20

    window = store.query(EventQuery(since=BASE + timedelta(minutes=5), until=BASE + timedelta(minutes=10)))
    assert sorted(r["seq"] for r in window.items) == [6, 7, 8, 9, 10]  # since inclusive, until exclusive

    assert store.query(EventQuery(include_tests=False, limit=1000)).total == 20
    assert store.query(EventQuery(device="pos-zz")).total == 0


def test_equal_ts_is_ordered_by_id(tmp_path: Path) -> None:
    store = open_store(tmp_path / "events")
    records = [record(seq=n) for n in range(1, 4)]  # same ts
    store.append(records)
    ids = [r["id"] for r in store.query(EventQuery()).items]
    assert ids == sorted(ids, reverse=True)


def test_partition_rolls_over_at_max_records(tmp_path: Path) -> None:
    root = tmp_path / "events"
    store = open_store(root, max_records=3)
    store.append([record(seq=n) for n in range(1, 6)])  # one batch spanning two chunks
    store.append([record(seq=n) for n in range(6, 8)])
    hour = record()["received_at"][:13]
    assert partition_files(root) == [f"events-{hour}.000.json", f"events-{hour}.001.json", f"events-{hour}.002.json"]
    sizes = [len(json.loads((root / name).read_text())["_default"]) for name in partition_files(root)]
    assert sizes == [3, 3, 1]
    assert [r["seq"] for r in store.scan()] == list(range(1, 8))
    store.close()
    reopened = open_store(root, max_records=3)
    reopened.append([record(seq=8), record(seq=9), record(seq=10)])  # fills chunk 002, then starts 003
    sizes = [len(json.loads((root / name).read_text())["_default"]) for name in partition_files(root)]
    assert sizes == [3, 3, 3, 1]
    assert [r["seq"] for r in reopened.scan()] == list(range(1, 11))


def test_partition_by_hour_of_receipt(tmp_path: Path) -> None:
    root = tmp_path / "events"
    store = open_store(root)
    early = record(seq=1, minutes=0)
    later = record(seq=2, minutes=61)
    next_day = record(seq=3, minutes=24 * 60)
    store.append([early, later, next_day])
    assert partition_files(root) == [
        "events-2026-11-22T15.000.json",
        "events-2026-11-22T16.000.json",
        "events-2026-11-23T15.000.json",
    ]
    assert [r["seq"] for r in store.scan()] == [1, 2, 3]


def test_reopen_restores_ids_and_last_seqs(tmp_path: Path) -> None:
    root = tmp_path / "events"
    store = open_store(root, max_records=4)
    records = [record("pos-a", n, minutes=n) for n in range(1, 8)] + [record("pos-b", 3), record("pos-b", 2)]
    store.append(records)
    assert store.last_seqs() == {"pos-a": 7, "pos-b": 3}
    store.close()
    reopened = open_store(root, max_records=4)
    assert reopened.last_seqs() == {"pos-a": 7, "pos-b": 3}
    assert all(reopened.contains(r["id"]) for r in records)
    assert reopened.get(records[4]["id"]) == records[4]
    assert reopened.damaged == []


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="truncated-json"),
        pytest.param(b"", id="zero-length"),
        pytest.param(b"\n  \n", id="blank"),
        pytest.param(b"[1, 2, 3]", id="non-object-json"),
        pytest.param(b"\xff\xfe\x00\x81garbage\x00\x9c", id="garbage-bytes"),
        pytest.param(b'{"_default": {"1": {"kind": "panic"}}}', id="record-without-id"),
        pytest.param(b'{"_default": {"1": 7}}', id="record-not-an-object"),
    ],
)
def test_damaged_partition_is_set_aside_and_the_rest_loads(tmp_path: Path, content: bytes | None) -> None:
    root = tmp_path / "events"
    store = open_store(root)
    good = record("pos-a", 1, minutes=0)
    victims = [record("pos-a", 2, minutes=60), record("pos-b", 5, minutes=60)]
    store.append([good, *victims])
    store.close()
    damaged_path = root / "events-2026-11-22T16.000.json"
    raw = damaged_path.read_bytes()
    damaged_path.write_bytes(raw[: len(raw) // 2] if content is None else content)

    reopened = open_store(root)
    assert len(reopened.damaged) == 1
    assert "events-2026-11-22T16.000.json" in reopened.damaged[0] and "damaged" in reopened.damaged[0]
    assert not damaged_path.exists()
    aside = list(root.glob("events-2026-11-22T16.000.json.damaged-*"))
    assert len(aside) == 1  # kept for a human to look at, not deleted
    assert aside[0].read_bytes() == (raw[: len(raw) // 2] if content is None else content)
    assert reopened.contains(good["id"]) and reopened.get(good["id"]) == good
    assert not any(reopened.contains(v["id"]) for v in victims)
    assert reopened.last_seqs() == {"pos-a": 1}
    assert [r["id"] for r in reopened.scan()] == [good["id"]]
    # The store keeps working: the same hour takes new events in a fresh file.
    fresh = record("pos-a", 3, minutes=60)
    assert reopened.append([fresh]) == [fresh]
    reopened.close()
    again = open_store(root)
    assert again.damaged == []
    assert [r["id"] for r in again.scan()] == [good["id"], fresh["id"]]


def test_leftover_temp_file_is_removed_and_the_real_file_is_intact(tmp_path: Path) -> None:
    root = tmp_path / "events"
    store = open_store(root)
    records = [record(seq=n) for n in range(1, 4)]
    store.append(records)
    store.close()
    real = root / "events-2026-11-22T15.000.json"
    before = real.read_bytes()
    leftover = root / f".{real.name}.tmp"
    leftover.write_bytes(before[:17])  # a write interrupted by a power cut

    reopened = open_store(root)
    assert not leftover.exists()
    assert real.read_bytes() == before
    assert reopened.damaged == []
    assert [r["id"] for r in reopened.scan()] == [r["id"] for r in records]
    assert partition_files(root) == [real.name]


def test_failed_storage_write_keeps_the_store_consistent(tmp_path: Path) -> None:
    """A failed commit (disk error) adds nothing; a retry of the same batch then stores it once."""
    root = tmp_path / "events"
    store = open_store(root)
    first = record(seq=1)
    store.append([first])
    blocker = root / ".events-2026-11-22T15.000.json.tmp"
    blocker.mkdir()
    batch = [record(seq=2), record(seq=3)]
    with pytest.raises(OSError):
        store.append(batch)
    assert not any(store.contains(r["id"]) for r in batch)
    assert [r["id"] for r in store.scan()] == [first["id"]]
    blocker.rmdir()
    assert [r["seq"] for r in store.append(batch)] == [2, 3]
    assert [r["seq"] for r in store.scan()] == [1, 2, 3]
    store.close()
    assert [r["seq"] for r in open_store(root).scan()] == [1, 2, 3]


def test_a_new_store_is_fresh_not_damaged(tmp_path: Path) -> None:
    store = open_store(tmp_path / "no-such-folder-yet" / "events")
    assert store.damaged == [] and store.scan() == []
    store.close()
