"""Retention of the SQL event log, on SQLite and on a real PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ulid import ULID

from hub.settings import HubSettings, RetentionSettings
from hub.storage.events import EventQuery
from hub.storage.sql.database import Database
from hub.storage.sql.events import SqlEventStore
from hub.storage.sql.retention import Retention, RetentionWorker, archive_path, whole_members_length
from hub.storage.sql.transfer import import_events, open_text
from tests.support import wait_for

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def record(kind: str = "motion", days_ago: float = 0, device: str = "pos-a", seq: int = 1) -> dict[str, Any]:
    moment = NOW - timedelta(days=days_ago)
    return {
        "id": str(ULID.from_datetime(moment)),
        "device": device,
        "seq": seq,
        "kind": kind,
        "ts": moment.isoformat(),
        "received_at": moment.isoformat(),
        "test": False,
        "data": {"area": 0.2},
    }


@pytest.fixture
def store(database_url: str) -> Iterator[SqlEventStore]:
    instance = SqlEventStore(Database(database_url))
    instance.open()
    yield instance
    instance.close()


def archive_lines(folder: Path) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for path in sorted(folder.glob("events-*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines.extend(json.loads(line) for line in handle)
    return lines


def retention(store: SqlEventStore, folder: Path, pauses: list[float] | None = None, **settings: Any) -> Retention:
    return Retention(
        store.database,
        RetentionSettings(**settings),
        folder,
        pause=(pauses.append if pauses is not None else lambda _seconds: None),
    )


def test_old_motion_is_archived_then_deleted_and_everything_else_kept(store: SqlEventStore, tmp_path: Path) -> None:
    old_motion = [record("motion", days_ago=100 + n, seq=n + 1) for n in range(40)]  # spans two months
    young_motion = [record("motion", days_ago=89, seq=100)]
    old_panic = [record("panic", days_ago=400, seq=200), record("tamper", days_ago=300, seq=201)]
    store.append([*old_motion, *young_motion, *old_panic])
    folder = tmp_path / "archive"

    report = retention(store, folder).run_once(NOW)

    assert report.retired == {"motion": 40}
    remaining = {r["id"] for r in store.query(EventQuery(limit=100)).items}
    assert remaining == {r["id"] for r in young_motion + old_panic}
    assert store.last_seqs() == {"pos-a": 201}  # a post's seq survives its events' retirement
    # one archive per month of receipt, each line the stored record exactly (the export format)
    months = {archive_path(folder, r["received_at"]) for r in old_motion}
    assert set(folder.iterdir()) == months and len(months) == 2
    assert sorted(archive_lines(folder), key=lambda r: r["id"]) == sorted(old_motion, key=lambda r: r["id"])
    # nothing left to do: a second pass changes nothing
    again = retention(store, folder).run_once(NOW)
    assert again.total == 0 and len(archive_lines(folder)) == 40


def test_an_archive_imports_back_idempotently(store: SqlEventStore, tmp_path: Path, database_url: str) -> None:
    old = [record("motion", days_ago=120 + n / 10, seq=n + 1) for n in range(25)]
    store.append(old)
    folder = tmp_path / "archive"
    retention(store, folder).run_once(NOW)
    assert store.count() == 0
    (path,) = folder.iterdir()

    with open_text(path) as lines:  # what `poskamling hub import` does with the file
        report = import_events(store, lines)
    assert (report.added, report.bad) == (25, 0)
    assert store.get(old[3]["id"]) == old[3]
    with open_text(path) as lines:
        assert import_events(store, lines).added == 0  # importing twice adds nothing


def test_deletes_come_in_bounded_batches_with_a_pause_between(store: SqlEventStore, tmp_path: Path) -> None:
    store.append([record("motion", days_ago=95 + n / 100, seq=n + 1) for n in range(30)])
    pauses: list[float] = []

    report = retention(store, tmp_path / "archive", pauses, batch=7, pause=0.25).run_once(NOW)

    assert report.batches == [7, 7, 7, 7, 2]
    assert pauses == [0.25] * 4  # after every full batch, before the next one
    assert store.count() == 0 and len(archive_lines(tmp_path / "archive")) == 30


def test_interrupted_between_archive_and_delete_nothing_is_lost(
    store: SqlEventStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = [record("motion", days_ago=200 + n / 100, seq=n + 1) for n in range(12)]
    store.append(old)
    folder = tmp_path / "archive"
    crashing = retention(store, folder, batch=5)
    real_transaction = store.database.transaction

    def power_cut() -> Any:
        raise RuntimeError("power cut after the archive's fsync, before the delete")

    monkeypatch.setattr(store.database, "transaction", power_cut)
    with pytest.raises(RuntimeError):
        crashing.run_once(NOW)
    monkeypatch.setattr(store.database, "transaction", real_transaction)
    assert store.count() == 12 and len(archive_lines(folder)) == 5  # archived, not deleted

    report = retention(store, folder, batch=5).run_once(NOW)  # the next pass (e.g. after a restart)

    assert report.retired == {"motion": 12} and store.count() == 0
    lines = archive_lines(folder)
    assert len(lines) == 17 and {r["id"] for r in lines} == {r["id"] for r in old}  # the first batch twice
    fresh = SqlEventStore(Database(f"sqlite:///{tmp_path / 'fresh.db'}"))
    fresh.open()
    try:
        with open_text(next(folder.iterdir())) as text:
            imported = import_events(fresh, text)
        assert (imported.added, imported.already) == (12, 5)  # the duplicate lines add nothing
    finally:
        fresh.close()


def test_appending_to_a_month_keeps_it_readable_and_a_torn_tail_is_cut(store: SqlEventStore, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    first = [record("motion", days_ago=100 + n / 100, seq=n + 1) for n in range(5)]
    store.append(first)
    retention(store, folder).run_once(NOW)
    (path,) = folder.iterdir()
    whole = path.stat().st_size
    # a crash in the middle of the next append: half a gzip member at the end of the file
    torn = gzip.compress(b'{"id": "never-deleted"}\n' * 50)
    with path.open("ab") as handle:
        handle.write(torn[: len(torn) // 2])
    assert whole_members_length(path) == whole

    second = [record("motion", days_ago=100 + n / 100 + 0.001, seq=n + 10) for n in range(5)]
    store.append(second)
    report = retention(store, folder).run_once(NOW)

    assert report.repaired == [path]
    assert whole_members_length(path) == path.stat().st_size
    assert {r["id"] for r in archive_lines(folder)} == {r["id"] for r in first + second}


def test_disabled_or_unlisted_kinds_are_kept(store: SqlEventStore, tmp_path: Path) -> None:
    store.append([record("motion", days_ago=1000), record("checkin", days_ago=1000, seq=2)])
    assert retention(store, tmp_path / "a", enabled=False).run_once(NOW).total == 0
    report = retention(store, tmp_path / "a", event_days={"checkin": 30}).run_once(NOW)
    assert report.retired == {"checkin": 1}
    assert [r["kind"] for r in store.query(EventQuery()).items] == ["motion"]


def test_the_worker_runs_passes_on_its_own_thread_and_stops(store: SqlEventStore, tmp_path: Path) -> None:
    store.append([record("motion", days_ago=91)])
    settings = HubSettings(mqtt_password="x", data_dir=tmp_path, retention={"interval": 3600})
    worker = RetentionWorker(store.database, settings.retention, tmp_path / "archive", clock=lambda: NOW, first_delay=0)
    worker.start()
    try:
        wait_for(lambda: worker.passes >= 1, what="a retention pass")
    finally:
        worker.stop()
    assert worker.last_report is not None and worker.last_report.retired == {"motion": 1}
    assert store.count() == 0
    assert settings.retention.event_days == {"motion": 90.0}  # the default: motion 90 days, nothing else
