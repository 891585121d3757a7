"""SnapshotStore: files per device and event id, retention by count and size, hostile ids refused."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from hub.storage.snapshots import Hold, SnapshotRefused, SnapshotStore
from hub.storage.sql.database import Database
from kamling.protocol import new_event_id

JPEG = b"\xff\xd8\xff\xe0" + b"x" * 96  # 100 bytes; the store does not decode


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The index's database, on SQLite and on PostgreSQL (every test here runs on both)."""
    database = Database(database_url)
    yield database
    database.close()


def ids(count: int) -> list[str]:
    return sorted(new_event_id() for _ in range(count))


def test_save_and_find_by_device(tmp_path: Path, db: Database) -> None:
    store = SnapshotStore(tmp_path / "snaps", database=db)
    event_id = new_event_id()
    assert store.save("pos-rw01", event_id, JPEG)
    path = store.find(event_id, "pos-rw01")
    assert path == tmp_path / "snaps" / "pos-rw01" / f"{event_id}.jpg"
    assert path.read_bytes() == JPEG
    assert store.find(event_id) == path  # one holder: the device-less lookup still works
    assert store.find(new_event_id(), "pos-rw01") is None


def test_another_devices_picture_is_never_served_for_an_event(tmp_path: Path, db: Database) -> None:
    store = SnapshotStore(tmp_path, database=db)
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
def test_unsafe_ids_are_refused(tmp_path: Path, db: Database, device: str, event_id: str) -> None:
    store = SnapshotStore(tmp_path / "snaps", database=db)
    assert store.save(device, event_id, JPEG) is False
    assert store.find(event_id, device) is None
    assert store.find(event_id) is None
    assert not (tmp_path / "snaps").exists() or list((tmp_path / "snaps").rglob("*")) == []
    assert list(tmp_path.parent.glob("passwd")) == []


def test_retention_by_count_evicts_oldest_arrival(tmp_path: Path, db: Database) -> None:
    store = SnapshotStore(tmp_path, database=db, max_files=3)
    first, second, third, fourth = ids(4)
    for event_id in (second, first, third):  # `first` (smallest ULID) arrives second
        store.save("pos-rw01", event_id, JPEG)
    store.save("pos-rw02", fourth, JPEG)
    assert store.count() == 3 and store.evicted == 1
    assert store.find(second, "pos-rw01") is None  # the oldest arrival, not the smallest id
    assert all(store.find(e, "pos-rw01") for e in (first, third))
    assert store.find(fourth, "pos-rw02") is not None
    assert len(list(tmp_path.rglob("*.jpg"))) == 3


def test_future_ids_do_not_outlive_newer_pictures(tmp_path: Path, db: Database) -> None:
    """A post with a clock years ahead (or a hostile one) cannot pin its files: arrival order counts."""
    store = SnapshotStore(tmp_path, database=db, max_files=100, post_max_files=2)
    future = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
    store.save("pos-evil", future, JPEG)
    later = ids(2)
    for event_id in later:
        store.save("pos-evil", event_id, JPEG)
    assert store.find(future, "pos-evil") is None
    assert all(store.find(e, "pos-evil") for e in later)


def test_retention_by_size(tmp_path: Path, db: Database) -> None:
    store = SnapshotStore(tmp_path, database=db, max_files=100, max_bytes=250)
    saved = ids(4)
    for event_id in saved:
        store.save("pos-rw01", event_id, JPEG)
    assert store.count() == 2 and store.total_bytes() == 200
    assert [store.find(e, "pos-rw01") is not None for e in saved] == [False, False, True, True]
    # a single picture over the whole budget is still kept (the newest is never evicted)
    big = new_event_id()
    store.save("pos-rw01", big, JPEG * 5)
    assert store.find(big, "pos-rw01") is not None and store.count() == 1


def test_replay_does_not_rewrite_and_is_counted_once(tmp_path: Path, db: Database) -> None:
    store = SnapshotStore(tmp_path, database=db, max_files=10)
    event_id = new_event_id()
    assert store.save("pos-rw01", event_id, JPEG)
    assert store.save("pos-rw01", event_id, JPEG + b"second") is False
    assert store.find(event_id, "pos-rw01").read_bytes() == JPEG
    assert store.count() == 1 and store.total_bytes() == len(JPEG)


def test_index_is_rebuilt_from_disk_in_arrival_order_and_limits_apply(tmp_path: Path, db: Database) -> None:
    first = SnapshotStore(tmp_path, database=db, max_files=10)
    saved = ids(5)
    for age, event_id in enumerate(reversed(saved)):  # the largest id arrives first
        first.save("pos-rw01", event_id, JPEG)
        path = first.find(event_id, "pos-rw01")
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    (tmp_path / "pos-rw01" / "stray.tmp").write_bytes(b"x")  # an interrupted write
    (tmp_path / "not a device").mkdir()

    restarted = SnapshotStore(tmp_path, database=db, max_files=3)
    assert restarted.count() == 3  # the limit applies to what was already on disk
    kept = [event_id for event_id in saved if restarted.find(event_id, "pos-rw01")]
    assert kept == saved[:3]  # the three that arrived last (smallest ids, by mtime)
    restarted.save("pos-rw02", new_event_id(), JPEG)
    assert restarted.find(saved[2], "pos-rw01") is None  # the oldest arrival of the survivors


# -- quotas per post, the global backstop and alert evidence (issue 18) --------------------


class Evidence:
    """A stand-in for the alert side's `protection`: fixed holds per (device, event id), calls recorded."""

    def __init__(self, holds: dict[tuple[str, str], Hold] | None = None) -> None:
        self.holds = dict(holds or {})
        self.calls = 0

    def __call__(self, device: str, event_ids: Sequence[str]) -> Mapping[str, Hold]:
        self.calls += 1
        return {e: self.holds[(device, e)] for e in event_ids if (device, e) in self.holds}


def kept(store: SnapshotStore, device: str, event_ids: list[str]) -> list[bool]:
    return [store.find(e, device) is not None for e in event_ids]


def test_a_flood_from_one_post_evicts_only_its_own_oldest(tmp_path: Path, db: Database) -> None:
    store = SnapshotStore(tmp_path, database=db, max_files=1_000, post_max_files=5)
    evidence = ids(3)
    for event_id in evidence:
        store.save("pos-rw01", event_id, JPEG)
    flood = ids(200)
    for event_id in flood:
        store.save("pos-evil", event_id, JPEG)
    assert kept(store, "pos-rw01", evidence) == [True, True, True]
    assert kept(store, "pos-evil", flood[-5:]) == [True] * 5 and store.usage("pos-evil") == (5, 500)
    assert store.evicted == 195 and len(list((tmp_path / "pos-evil").glob("*.jpg"))) == 5


def test_the_byte_quota_is_per_post_too(tmp_path: Path, db: Database) -> None:
    store = SnapshotStore(tmp_path, database=db, max_files=1_000, post_max_bytes=350)
    mine = new_event_id()
    store.save("pos-rw01", mine, JPEG * 3)  # 300 bytes, within its own 350
    for event_id in ids(10):
        store.save("pos-evil", event_id, JPEG)
    assert store.usage("pos-evil") == (3, 300) and store.find(mine, "pos-rw01") is not None


def test_global_backstop_evicts_from_the_post_using_the_most(tmp_path: Path, db: Database) -> None:
    store = SnapshotStore(tmp_path, database=db, max_files=6, post_max_files=100)
    small, big = ids(2), ids(4)
    for event_id in small:
        store.save("pos-rw01", event_id, JPEG)
    for event_id in big:
        store.save("pos-rw02", event_id, JPEG)
    newcomer = new_event_id()
    store.save("pos-rw03", newcomer, JPEG)  # 7 > 6: pos-rw02 holds the most
    assert kept(store, "pos-rw02", big) == [False, True, True, True]
    assert kept(store, "pos-rw01", small) == [True, True] and store.find(newcomer, "pos-rw03")


def test_global_byte_backstop_picks_the_post_with_the_most_bytes(tmp_path: Path, db: Database) -> None:
    store = SnapshotStore(tmp_path, database=db, max_files=100, max_bytes=1_000)
    many_small, few_big = ids(4), ids(2)
    for event_id in many_small:
        store.save("pos-rw01", event_id, JPEG)  # 4 files, 400 bytes
    for event_id in few_big:
        store.save("pos-rw02", event_id, JPEG * 3)  # 2 files, 600 bytes
    store.save("pos-rw03", new_event_id(), JPEG)  # 1,100 > 1,000
    assert kept(store, "pos-rw02", few_big) == [False, True]
    assert kept(store, "pos-rw01", many_small) == [True] * 4


def test_pinned_evidence_survives_a_flood_of_its_own_post(tmp_path: Path, db: Database) -> None:
    alert_picture, *rest = ids(3)
    evidence = Evidence({("pos-rw01", alert_picture): Hold.PINNED})
    store = SnapshotStore(tmp_path, database=db, max_files=1_000, post_max_files=3, protection=evidence)
    for event_id in (alert_picture, *rest):
        store.save("pos-rw01", event_id, JPEG)
    flood = ids(50)
    for event_id in flood:
        store.save("pos-rw01", event_id, JPEG)
    assert store.find(alert_picture, "pos-rw01") is not None  # the oldest, but the alert is open
    assert kept(store, "pos-rw01", flood[-2:]) == [True, True] and store.usage("pos-rw01")[0] == 3
    assert evidence.calls > 0


def test_closed_alert_evidence_goes_after_unreferenced_pictures(tmp_path: Path, db: Database) -> None:
    old_alert, plain1, plain2, new1, new2, new3 = ids(6)
    evidence = Evidence({("pos-rw01", old_alert): Hold.LAST})
    store = SnapshotStore(tmp_path, database=db, post_max_files=3, protection=evidence)
    for event_id in (old_alert, plain1, plain2):
        store.save("pos-rw01", event_id, JPEG)
    store.save("pos-rw01", new1, JPEG)
    store.save("pos-rw01", new2, JPEG)
    assert kept(store, "pos-rw01", [old_alert, plain1, plain2, new1, new2]) == [True, False, False, True, True]
    store.save("pos-rw01", new3, JPEG)  # still an unreferenced one older than new3 to go first
    assert kept(store, "pos-rw01", [old_alert, new1, new2, new3]) == [True, False, True, True]
    evidence.holds.update({("pos-rw01", new2): Hold.PINNED, ("pos-rw01", new3): Hold.PINNED})
    store.save("pos-rw01", new_event_id(), JPEG)  # only evidence left: the closed alert's goes, pinned stay
    assert kept(store, "pos-rw01", [old_alert, new2, new3]) == [False, True, True]


def test_a_quota_full_of_pinned_evidence_refuses_the_new_picture_and_deletes_nothing(
    tmp_path: Path, db: Database
) -> None:
    pinned = ids(2)
    store = SnapshotStore(
        tmp_path, database=db, post_max_files=2, protection=Evidence({("pos-rw01", e): Hold.PINNED for e in pinned})
    )
    for event_id in pinned:
        store.save("pos-rw01", event_id, JPEG)
    refused = new_event_id()
    with pytest.raises(SnapshotRefused) as caught:
        store.save("pos-rw01", refused, JPEG)
    assert caught.value.reason == "snapshot_quota_full"
    assert kept(store, "pos-rw01", pinned) == [True, True] and store.find(refused, "pos-rw01") is None
    assert not (tmp_path / "pos-rw01" / f"{refused}.jpg").exists() and store.refused == 1
    assert store.save("pos-rw02", new_event_id(), JPEG)  # other posts are unaffected


def test_a_failing_protection_lookup_keeps_everything(tmp_path: Path, db: Database) -> None:
    def broken(device: str, event_ids: Sequence[str]) -> Mapping[str, Hold]:
        raise RuntimeError("alert index unavailable")

    store = SnapshotStore(tmp_path, database=db, post_max_files=2, protection=broken)
    first = ids(2)
    for event_id in first:
        store.save("pos-rw01", event_id, JPEG)
    with pytest.raises(SnapshotRefused):
        store.save("pos-rw01", new_event_id(), JPEG)
    assert kept(store, "pos-rw01", first) == [True, True]


def test_global_backstop_never_evicts_pinned_evidence(tmp_path: Path, db: Database) -> None:
    pinned = ids(3)
    store = SnapshotStore(
        tmp_path,
        database=db,
        max_files=3,
        post_max_files=10,
        protection=Evidence({("pos-rw01", e): Hold.PINNED for e in pinned}),
    )
    for event_id in pinned:
        store.save("pos-rw01", event_id, JPEG)
    other = ids(3)
    for event_id in other:
        store.save("pos-rw02", event_id, JPEG)
    assert kept(store, "pos-rw01", pinned) == [True] * 3  # pos-rw01 uses the most, but it is all evidence
    assert kept(store, "pos-rw02", other) == [False, False, True]  # only the newest is left over budget
    assert store.count() == 4


def test_restart_applies_per_post_quotas_and_keeps_evidence(tmp_path: Path, db: Database) -> None:
    first = SnapshotStore(tmp_path, database=db)
    saved = ids(6)
    for age, event_id in enumerate(saved):
        first.save("pos-rw01", event_id, JPEG)
        os.utime(first.find(event_id, "pos-rw01"), (1_000_000 + age, 1_000_000 + age))
    other = new_event_id()
    first.save("pos-rw02", other, JPEG)

    restarted = SnapshotStore(
        tmp_path, database=db, post_max_files=3, protection=Evidence({("pos-rw01", saved[0]): Hold.PINNED})
    )
    assert restarted.usage("pos-rw01") == (3, 300)
    assert kept(restarted, "pos-rw01", saved) == [True, False, False, False, True, True]
    assert restarted.find(other, "pos-rw02") is not None


# -- the index in SQL (issue 12): no folder scan at start, crash journal, upgrade -----------


class Crash(BaseException):
    """The process dying at this point (nothing after it runs, no cleanup is owed)."""


def restart(root: Path, database_url: str, **limits: object) -> SnapshotStore:
    """A new hub process: a new connection to the same database, the same folder; the folder is never scanned."""
    store = SnapshotStore(root, database=Database(database_url), **limits)  # type: ignore[arg-type]
    store._scan = lambda: pytest.fail("the folder was scanned at start")  # type: ignore[method-assign]
    store.open()
    return store


def test_the_index_survives_a_restart_without_a_folder_scan(tmp_path: Path, db: Database, database_url: str) -> None:
    first = SnapshotStore(tmp_path, database=db, post_max_files=3)
    saved = ids(4)
    for event_id in saved:
        first.save("pos-rw01", event_id, JPEG)
    other = new_event_id()
    first.save("pos-rw02", other, JPEG * 2)

    restarted = restart(tmp_path, database_url, post_max_files=3)
    assert restarted.count() == 4 and restarted.total_bytes() == 500
    assert restarted.usage("pos-rw01") == (3, 300) and restarted.usage("pos-rw02") == (1, 200)
    assert kept(restarted, "pos-rw01", saved) == [False, True, True, True]
    assert restarted.find(other) == tmp_path / "pos-rw02" / f"{other}.jpg"  # device-less lookup from the row
    assert restarted.save("pos-rw01", saved[-1], JPEG) is False  # still a replay after the restart
    restarted.save("pos-rw01", new_event_id(), JPEG)  # arrival order carries on: the oldest survivor goes
    assert kept(restarted, "pos-rw01", saved) == [False, False, True, True]
    assert restarted.recovered == 0 and restarted.upgraded == 0


def test_a_crash_between_the_row_and_the_file_drops_the_row_at_start(
    tmp_path: Path, db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SnapshotStore(tmp_path, database=db, post_max_files=10)
    saved = ids(2)
    for event_id in saved:
        store.save("pos-rw01", event_id, JPEG)
    lost = new_event_id()
    half = tmp_path / "pos-rw01" / f".{lost}.jpg.tmp"

    def dies_mid_write(path: Path, data: bytes) -> None:
        half.write_bytes(data[:10])  # the temp file of the interrupted write
        raise Crash

    monkeypatch.setattr("hub.storage.snapshots.atomic_write", dies_mid_write)
    with pytest.raises(Crash):
        store.save("pos-rw01", lost, JPEG)
    monkeypatch.undo()

    restarted = restart(tmp_path, database_url, post_max_files=10)
    assert restarted.recovered == 1
    assert restarted.usage("pos-rw01") == (2, 200) and restarted.find(lost, "pos-rw01") is None
    assert not half.exists()
    assert restarted.save("pos-rw01", lost, JPEG)  # the post's resend is stored, not taken for a replay
    assert restarted.find(lost, "pos-rw01").read_bytes() == JPEG and restarted.usage("pos-rw01") == (3, 300)
    assert kept(restarted, "pos-rw01", saved) == [True, True]


def test_a_crash_between_the_eviction_and_the_unlink_deletes_the_file_at_start(
    tmp_path: Path, db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SnapshotStore(tmp_path, database=db, post_max_files=2)
    saved = ids(2)
    for event_id in saved:
        store.save("pos-rw01", event_id, JPEG)
    newcomer = new_event_id()

    def dies(device: str, event_id: str) -> None:
        raise Crash

    monkeypatch.setattr(store, "_unlink", dies)
    with pytest.raises(Crash):
        store.save("pos-rw01", newcomer, JPEG)  # committed: saved[0] evicted, newcomer's row in; no file touched yet
    assert (tmp_path / "pos-rw01" / f"{saved[0]}.jpg").exists()  # a file without a row

    restarted = restart(tmp_path, database_url, post_max_files=2)
    assert restarted.recovered == 2
    assert not (tmp_path / "pos-rw01" / f"{saved[0]}.jpg").exists()  # the evicted file is gone
    assert restarted.find(newcomer, "pos-rw01") is None  # never written: its row is dropped too
    assert restarted.usage("pos-rw01") == (1, 100) and kept(restarted, "pos-rw01", saved) == [False, True]
    assert sorted(p.name for p in (tmp_path / "pos-rw01").iterdir()) == [f"{saved[1]}.jpg"]


def test_a_file_removed_by_hand_is_not_served_and_is_stored_again(tmp_path: Path, db: Database) -> None:
    store = SnapshotStore(tmp_path, database=db, post_max_files=2)
    gone, other = ids(2)
    store.save("pos-rw01", gone, JPEG)
    store.save("pos-rw01", other, JPEG)
    (tmp_path / "pos-rw01" / f"{gone}.jpg").unlink()
    assert store.find(gone, "pos-rw01") is None and store.find(gone) is None
    assert store.save("pos-rw01", gone, JPEG + b"again")  # a resend is stored again, counted once
    assert store.usage("pos-rw01") == (2, 2 * len(JPEG) + 5)
    (tmp_path / "pos-rw01" / f"{other}.jpg").unlink()
    store.save("pos-rw01", new_event_id(), JPEG)  # evicting a row whose file is gone is fine
    assert store.usage("pos-rw01") == (2, 2 * len(JPEG) + 5) and store.evicted == 1


def test_an_upgraded_hub_indexes_the_old_folder_once(tmp_path: Path, db: Database, database_url: str) -> None:
    saved = ids(5)
    folder = tmp_path / "pos-rw01"
    folder.mkdir()
    for age, event_id in enumerate(reversed(saved)):  # the old release's files: arrival order is the mtime
        (folder / f"{event_id}.jpg").write_bytes(JPEG)
        os.utime(folder / f"{event_id}.jpg", (1_000_000 + age, 1_000_000 + age))
    (folder / f".{saved[0]}.jpg.tmp").write_bytes(b"half")  # an interrupted write of the old release
    (tmp_path / "pos-rw02").mkdir()
    (tmp_path / "pos-rw02" / f"{saved[0]}.jpg").write_bytes(JPEG * 2)
    (tmp_path / "not a device").mkdir()

    upgraded = SnapshotStore(tmp_path, database=db, post_max_files=4)
    assert upgraded.count() == 5 and upgraded.upgraded == 6  # indexed 6, then the quota evicted the oldest
    assert kept(upgraded, "pos-rw01", saved) == [True, True, True, True, False]
    assert upgraded.usage("pos-rw02") == (1, 200)

    restarted = restart(tmp_path, database_url, post_max_files=3)  # once: no scan at the next start
    assert restarted.upgraded == 0 and restarted.usage("pos-rw01") == (3, 300)
    assert kept(restarted, "pos-rw01", saved) == [True, True, True, False, False]


def test_the_index_is_in_the_database(tmp_path: Path, db: Database) -> None:
    store = SnapshotStore(tmp_path, database=db)
    event_id = new_event_id()
    store.save("pos-rw01", event_id, JPEG)
    rows = db.query("SELECT device, event_id, file, bytes FROM snapshots")
    assert rows == [("pos-rw01", event_id, f"pos-rw01/{event_id}.jpg", len(JPEG))]
    assert db.query("SELECT device, files, bytes FROM snapshot_posts") == [("pos-rw01", 1, len(JPEG))]
