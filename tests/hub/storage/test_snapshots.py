"""SnapshotStore: files per device and event id, retention by count and size, hostile ids refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.storage.snapshots import SnapshotStore
from kamling.protocol import new_event_id

JPEG = b"\xff\xd8\xff\xe0" + b"x" * 96  # 100 bytes; the store does not decode


def ids(count: int) -> list[str]:
    return sorted(new_event_id() for _ in range(count))


def test_save_and_find_by_device(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snaps")
    event_id = new_event_id()
    assert store.save("pos-rw01", event_id, JPEG)
    path = store.find(event_id, "pos-rw01")
    assert path == tmp_path / "snaps" / "pos-rw01" / f"{event_id}.jpg"
    assert path.read_bytes() == JPEG
    assert store.find(event_id) == path  # one holder: the device-less lookup still works
    assert store.find(new_event_id(), "pos-rw01") is None


def test_another_devices_picture_is_never_served_for_an_event(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    event_id = new_event_id()
    store.save("pos-evil", event_id, JPEG + b"evil")  # claims pos-rw01's event id on its own topic
    assert store.find(event_id, "pos-rw01") is None
    assert store.find(event_id) == tmp_path / "pos-evil" / f"{event_id}.jpg"  # only holder (old callers)
    store.save("pos-rw01", event_id, JPEG)
    assert store.find(event_id, "pos-rw01").read_bytes() == JPEG
    assert store.find(event_id) is None  # ambiguous without the device: nothing


@pytest.mark.parametrize(
    ("device", "event_id"),
    [
        ("pos-rw01", "../../etc/passwd"),
        ("pos-rw01", "01HZZZZZZZZZZZZZZZZZZZZZZ/"),
        ("pos-rw01", "01hzzzzzzzzzzzzzzzzzzzzzzz"),  # lower case is not a ULID as we write them
        ("pos-rw01", "01HZZZZZZZZZZZZZZZZZZZZZZ"),  # 25 characters
        ("pos-rw01", "01HZZZZZZZZZZZZZZZZZZZZZZU"),  # U is not Crockford base32
        ("..", "01HZZZZZZZZZZZZZZZZZZZZZZZ"),
        ("a/b", "01HZZZZZZZZZZZZZZZZZZZZZZZ"),
        (".hidden", "01HZZZZZZZZZZZZZZZZZZZZZZZ"),
        ("", "01HZZZZZZZZZZZZZZZZZZZZZZZ"),
    ],
)
def test_unsafe_ids_are_refused(tmp_path: Path, device: str, event_id: str) -> None:
    store = SnapshotStore(tmp_path / "snaps")
    assert store.save(device, event_id, JPEG) is False
    assert store.find(event_id, device) is None
    assert store.find(event_id) is None
    assert not (tmp_path / "snaps").exists() or list((tmp_path / "snaps").rglob("*")) == []
    assert list(tmp_path.parent.glob("passwd")) == []


def test_retention_by_count_evicts_oldest_arrival(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, max_files=3)
    first, second, third, fourth = ids(4)
    for event_id in (second, first, third):  # `first` (smallest ULID) arrives second
        store.save("pos-rw01", event_id, JPEG)
    store.save("pos-rw02", fourth, JPEG)
    assert store.count() == 3 and store.evicted == 1
    assert store.find(second, "pos-rw01") is None  # the oldest arrival, not the smallest id
    assert all(store.find(e, "pos-rw01") for e in (first, third))
    assert store.find(fourth, "pos-rw02") is not None
    assert len(list(tmp_path.rglob("*.jpg"))) == 3


def test_future_ids_do_not_outlive_newer_pictures(tmp_path: Path) -> None:
    """A post with a clock years ahead (or a hostile one) cannot pin its files."""
    store = SnapshotStore(tmp_path, max_files=2)
    future = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
    store.save("pos-evil", future, JPEG)
    store.save("pos-rw01", new_event_id(), JPEG)
    store.save("pos-rw01", new_event_id(), JPEG)
    assert store.find(future, "pos-evil") is None


def test_retention_by_size(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, max_files=100, max_bytes=250)
    saved = ids(4)
    for event_id in saved:
        store.save("pos-rw01", event_id, JPEG)
    assert store.count() == 2 and store.total_bytes() == 200
    assert [store.find(e, "pos-rw01") is not None for e in saved] == [False, False, True, True]
    # a single picture over the whole budget is still kept (the newest is never evicted)
    big = new_event_id()
    store.save("pos-rw01", big, JPEG * 5)
    assert store.find(big, "pos-rw01") is not None and store.count() == 1


def test_replay_does_not_rewrite_and_is_counted_once(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, max_files=10)
    event_id = new_event_id()
    assert store.save("pos-rw01", event_id, JPEG)
    assert store.save("pos-rw01", event_id, JPEG + b"second") is False
    assert store.find(event_id, "pos-rw01").read_bytes() == JPEG
    assert store.count() == 1 and store.total_bytes() == len(JPEG)


def test_index_is_rebuilt_from_disk_in_arrival_order_and_limits_apply(tmp_path: Path) -> None:
    first = SnapshotStore(tmp_path, max_files=10)
    saved = ids(5)
    for age, event_id in enumerate(reversed(saved)):  # the largest id arrives first
        first.save("pos-rw01", event_id, JPEG)
        path = first.find(event_id, "pos-rw01")
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    (tmp_path / "pos-rw01" / "stray.tmp").write_bytes(b"x")  # an interrupted write
    (tmp_path / "not a device").mkdir()

    restarted = SnapshotStore(tmp_path, max_files=3)
    assert restarted.count() == 3  # the limit applies to what was already on disk
    kept = [event_id for event_id in saved if restarted.find(event_id, "pos-rw01")]
    assert kept == saved[:3]  # the three that arrived last (smallest ids, by mtime)
    restarted.save("pos-rw02", new_event_id(), JPEG)
    assert restarted.find(saved[2], "pos-rw01") is None  # the oldest arrival of the survivors
