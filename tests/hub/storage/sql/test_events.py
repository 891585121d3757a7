"""The SQL event store's contract, on SQLite and on a real PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ulid import ULID

from hub.storage.events import EventQuery
from hub.storage.sql.database import Database, StoreDamaged, StoreUnavailable
from hub.storage.sql.events import TIME_FORMAT, SqlEventStore, decode_cursor, sortable_time
from hub.storage.sql.migrate import current_version
from poskamling.postgres import TempPostgres

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def record(device: str = "pos-a", seq: int = 1, kind: str = "motion", minute: int = 0, **extra: object) -> dict:
    moment = T0 + timedelta(minutes=minute)
    return {
        "id": str(ULID()),
        "device": device,
        "seq": seq,
        "kind": kind,
        "ts": moment.isoformat(),
        "received_at": (moment + timedelta(seconds=1)).isoformat(),
        "test": False,
        "data": {},
        **extra,
    }


@pytest.fixture
def store(database_url: str) -> SqlEventStore:
    instance = SqlEventStore(Database(database_url))
    instance.open()
    yield instance
    instance.close()


def test_append_stores_each_id_once_and_says_what_it_added(store: SqlEventStore) -> None:
    a, b = record(seq=1), record(seq=2)
    assert store.append([a, b, a]) == [a, b]
    assert store.append([b, record(seq=3)])[0]["seq"] == 3
    assert store.count() == 3
    assert store.contains(a["id"]) and store.get(b["id"]) == b
    assert not store.contains(str(ULID())) and store.get(str(ULID())) is None


def test_history_and_seqs_survive_a_reopen(database_url: str) -> None:
    first = SqlEventStore(Database(database_url))
    first.open()
    kept = record(device="pos-a", seq=7)
    first.append([kept, record(device="pos-b", seq=3), record(device="pos-a", seq=5)])
    first.close()
    second = SqlEventStore(Database(database_url), recent_ids=0)  # nothing remembered in memory
    second.open()
    try:
        assert second.contains(kept["id"])
        assert second.last_seqs() == {"pos-a": 7, "pos-b": 3}
        assert current_version(second.database) >= 1
        second.open()  # migrations run again at every start: nothing to do, nothing broken
    finally:
        second.close()


def test_pages_are_newest_first_by_the_hubs_clock_and_a_cursor_walks_them_without_gaps(store: SqlEventStore) -> None:
    stored = [
        record(device="pos-a" if n % 2 else "pos-b", seq=n, kind="panic" if n % 3 == 0 else "motion", minute=n)
        for n in range(1, 26)
    ]
    # a post with a wrong clock: its time says 1999, the hub received it last
    skewed = record(device="pos-c", seq=1, minute=30) | {"ts": "1999-01-01T00:00:00+00:00"}
    store.append([*stored, skewed])
    first = store.query(EventQuery(limit=10))
    assert first.items[0]["id"] == skewed["id"]  # ordered by receipt, not by the post's clock
    assert first.total == 26 and first.next_cursor
    seen, cursor = [], None
    while True:
        page = store.query(EventQuery(limit=7, cursor=cursor))
        seen.extend(item["id"] for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [skewed["id"], *[r["id"] for r in reversed(stored)]]
    only_a = store.query(EventQuery(device="pos-a", kind="panic", limit=100)).items
    assert [r["seq"] for r in only_a] == [21, 15, 9, 3]
    day = store.query(EventQuery(kind="panic", since=T0 + timedelta(minutes=6), until=T0 + timedelta(minutes=13))).items
    assert [r["seq"] for r in day] == [12, 9, 6]
    with pytest.raises(ValueError):
        decode_cursor("not-a-cursor")


def test_tests_can_be_left_out_and_absurd_times_are_kept_not_refused(store: SqlEventStore) -> None:
    walk = record(seq=1, test=True)
    ancient = record(seq=2) | {"ts": "0001-01-01T00:00:00-05:00"}  # converting to UTC overflows
    future = record(seq=3) | {"ts": "9999-12-31T23:59:59+00:00"}
    assert len(store.append([walk, ancient, future])) == 3
    assert {r["seq"] for r in store.query(EventQuery(include_tests=False)).items} == {2, 3}
    assert store.get(ancient["id"])["ts"] == ancient["ts"]  # the record is kept exactly as received


def test_a_record_that_cannot_be_a_row_fails_alone(store: SqlEventStore) -> None:
    with pytest.raises(TypeError):
        store.append([record(seq="1")])  # type: ignore[arg-type]
    assert store.count() == 0


def test_stored_among_answers_for_many_ids_at_once_from_the_database(database_url: str) -> None:
    """Ingest asks once per drain of its queue; a fresh store (no memory of recent ids) reads the table,
    in chunks when there are more ids than one statement takes."""
    writer = SqlEventStore(Database(database_url))
    writer.open()
    stored = [record(seq=n) for n in range(1, 601)]
    writer.append(stored)
    writer.close()
    reader = SqlEventStore(Database(database_url))
    reader.open()
    try:
        unknown = {str(ULID()) for _ in range(50)}
        asked = {r["id"] for r in stored} | unknown
        assert reader.stored_among(asked) == {r["id"] for r in stored}
        assert reader.stored_among(unknown) == set() and reader.stored_among([]) == set()
    finally:
        reader.close()


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-01T12:00:00.123456+00:00",  # the hub's received_at (datetime.isoformat)
        "2026-11-01T12:00:00.123456Z",  # pydantic's ts
        "2026-11-01T12:00:00+00:00",  # no microseconds: the general path
        "2026-11-01T19:00:00.5+07:00",
        "2026-13-01T12:00:00.123456Z",  # not a date: clamped, as before
    ],
)
def test_sortable_time_fast_path_gives_what_the_general_path_gives(value: str) -> None:
    try:
        expected = datetime.fromisoformat(value).astimezone(UTC).strftime(TIME_FORMAT)
    except ValueError:
        expected = "9999-12-31T23:59:59.999999Z"
    assert sortable_time(value) == expected


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_a_damaged_sqlite_file_is_an_error_that_names_the_file(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "hub.db"
    good = SqlEventStore(Database(f"sqlite:///{path}"))
    good.open()
    good.append([record(seq=n, data={"pad": "x" * 2000}) for n in range(1, 200)])
    good.close()
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"x" * len(data)}[damage])
    damaged = SqlEventStore(Database(f"sqlite:///{path}"))
    with pytest.raises(StoreDamaged, match=str(path)) as caught:
        damaged.open()
    assert "backup" in str(caught.value)


def test_an_acked_commit_survives_kill_9(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    script = (
        "import os, sys\n"
        "from hub.storage.sql.database import Database\n"
        "from hub.storage.sql.events import SqlEventStore\n"
        "store = SqlEventStore(Database(sys.argv[1])); store.open()\n"
        "for n in range(1, 51):\n"
        "    store.append([{'id': f'01JD{n:022d}', 'device': 'pos-a', 'seq': n, 'kind': 'panic',\n"
        "                   'ts': '2026-11-01T12:00:00+00:00', 'received_at': '2026-11-01T12:00:01+00:00'}])\n"
        "    print(n, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, url], capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[4]
    )
    assert proc.returncode == -signal.SIGKILL
    acked = [int(line) for line in proc.stdout.split()]
    assert acked[-1] == 50
    store = SqlEventStore(Database(url))
    store.open()
    try:
        assert store.last_seqs() == {"pos-a": 50} and store.count() == 50
    finally:
        store.close()


def test_postgresql_going_away_is_unavailable_not_a_bad_record_and_the_store_recovers() -> None:
    server = TempPostgres()
    server.start()
    try:
        store = SqlEventStore(Database(server.url))
        store.open()
        store.append([record(seq=1)])
        server.stop("immediate")
        with pytest.raises(StoreUnavailable):  # an OSError: the event-log writer retries, never dead-letters
            store.append([record(seq=2)])
        server.start()
        kept = record(seq=3)
        assert store.append([kept]) == [kept]
        assert store.last_seqs() == {"pos-a": 3}
        store.close()
    finally:
        server.remove()
