"""The alert repository on real files: hot file for open alerts, monthly archives, upgrade, duplicates, damage."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hub.alerting.rules import (
    Alert,
    AlertKind,
    Outcome,
    acknowledge,
    open_alert,
    record_note,
    resolve,
)
from hub.alerting.store import AlertRepository, archive_month
from hub.storage.files import open_tinydb
from kamling import durable

JAN = datetime(2026, 1, 20, 15, 0, tzinfo=UTC)
FEB = datetime(2026, 2, 10, 3, 0, tzinfo=UTC)
WIB = timezone(timedelta(hours=7))


def opened(at: datetime = JAN, kind: AlertKind = AlertKind.MOTION, device: str = "pos-a") -> Alert:
    return open_alert(device, kind, at)


def closed(at: datetime = JAN, kind: AlertKind = AlertKind.MOTION) -> Alert:
    return resolve(opened(at, kind), "bhabin", Outcome.FALSE_ALARM, None, at + timedelta(minutes=5))


def started(hot: Path) -> tuple[AlertRepository, list[Alert]]:
    repository = AlertRepository(hot)
    loaded = repository.load()
    repository.start()
    return repository, loaded


def store(hot: Path, *alerts: Alert) -> None:
    """Save alerts through a repository and stop it (everything is on disk afterwards)."""
    repository, _ = started(hot)
    for alert in alerts:
        repository.save(alert)
    repository.stop()


def restarted(hot: Path) -> dict[str, Alert]:
    repository = AlertRepository(hot)
    return {a.id: a for a in repository.load()}


def ids_in(path: Path) -> list[str]:
    """Alert ids in one TinyDB file, read as plain JSON."""
    if not path.exists():
        return []
    return sorted(record["id"] for record in json.loads(path.read_text())["alerts"].values())


def archive(hot: Path, month: str) -> Path:
    return hot.with_name(f"alerts-{month}.json")


def write_old_file(hot: Path, *alerts: Alert) -> None:
    """alerts.json as the old single-file repository left it: every alert, open or closed."""
    db = open_tinydb(hot)
    db.table("alerts").insert_multiple([a.to_record() for a in alerts])
    db.close()


def fingerprint(path: Path) -> tuple[bytes, int, int]:
    stat = path.stat()
    return path.read_bytes(), stat.st_mtime_ns, stat.st_ino


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files written (atomically) from now on, in order."""
    written: list[str] = []
    real_write = durable.atomic_write

    def spy(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
        written.append(path.name)
        real_write(path, data, mode=mode)

    monkeypatch.setattr(durable, "atomic_write", spy)
    return written


def test_open_and_closed_alerts_survive_a_restart(tmp_path: Path) -> None:
    hot = tmp_path / "alerts.json"
    waiting, done = opened(), closed(FEB)
    acked = acknowledge(opened(kind=AlertKind.PANIC), "bhabin", "dashboard", JAN + timedelta(minutes=1))
    store(hot, waiting, done, acked)
    assert restarted(hot) == {a.id: a for a in (waiting, done, acked)}
    assert ids_in(hot) == sorted([waiting.id, acked.id])  # the hot file: open alerts only
    assert ids_in(archive(hot, "2026-02")) == [done.id]


def test_resolving_moves_the_alert_from_the_hot_file_to_its_month_archive(tmp_path: Path, writes: list[str]) -> None:
    hot = tmp_path / "alerts.json"
    repository, loaded = started(hot)
    try:
        assert loaded == []
        alert = opened()
        repository.save(alert)
        assert repository.flush(timeout=10)
        assert ids_in(hot) == [alert.id] and not archive(hot, "2026-01").exists()
        writes.clear()
        repository.save(resolve(alert, "bhabin", Outcome.REAL, "caught", JAN + timedelta(minutes=3)))
        assert repository.flush(timeout=10)
        assert writes == ["alerts-2026-01.json", "alerts.json"]  # archive first: a crash leaves a duplicate
        assert ids_in(hot) == []
        assert ids_in(archive(hot, "2026-01")) == [alert.id]
    finally:
        repository.stop()
    assert restarted(hot)[alert.id].outcome is Outcome.REAL


def test_saving_an_open_alert_rewrites_only_the_hot_file(tmp_path: Path, writes: list[str]) -> None:
    hot = tmp_path / "alerts.json"
    store(hot, closed(JAN), closed(FEB), closed(FEB))
    archives = [archive(hot, "2026-01"), archive(hot, "2026-02")]
    before = [fingerprint(p) for p in archives]
    writes.clear()
    repository, loaded = started(hot)
    try:
        assert len(loaded) == 3 and writes == []  # a clean load writes nothing
        alert = opened(FEB)
        repository.save(alert)
        assert repository.flush(timeout=10)
        repository.save(record_note(alert, FEB + timedelta(seconds=5), "paging", "system", "level 1"))
        repository.save(opened(JAN, AlertKind.PANIC))
        assert repository.flush(timeout=10)
    finally:
        repository.stop()
    assert writes and set(writes) == {"alerts.json"}
    assert [fingerprint(p) for p in archives] == before


def test_an_old_single_file_loads_completely_and_is_split_by_month(tmp_path: Path) -> None:
    hot = tmp_path / "alerts.json"
    old = [opened(JAN), opened(FEB, AlertKind.PANIC), closed(JAN), closed(JAN), closed(FEB)]
    write_old_file(hot, *old)
    assert restarted(hot) == {a.id: a for a in old}
    assert ids_in(hot) == sorted(a.id for a in old[:2])
    assert ids_in(archive(hot, "2026-01")) == sorted(a.id for a in old[2:4])
    assert ids_in(archive(hot, "2026-02")) == [old[4].id]
    assert restarted(hot) == {a.id: a for a in old}  # the split is stable: a second load finds the same


@pytest.mark.parametrize("newer_in", ["archive", "hot"])
def test_an_alert_stored_twice_loads_as_its_newest_copy_and_is_repaired(tmp_path: Path, newer_in: str) -> None:
    hot = tmp_path / "alerts.json"
    first = closed(JAN)
    later = record_note(first, JAN + timedelta(hours=2), "note", "kanit", "checked the footage")
    # a crash between the archive write and the hot-file removal leaves a copy in both files
    archived, in_hot = (later, first) if newer_in == "archive" else (first, later)
    write_old_file(archive(hot, "2026-01"), archived)
    write_old_file(hot, in_hot)
    assert restarted(hot) == {first.id: later}
    assert ids_in(hot) == []
    assert ids_in(archive(hot, "2026-01")) == [first.id]
    assert restarted(hot) == {first.id: later}


def test_a_resolved_copy_wins_over_the_open_copy_it_replaced(tmp_path: Path) -> None:
    hot = tmp_path / "alerts.json"
    alert = opened()
    done = resolve(alert, "bhabin", Outcome.REAL, None, JAN + timedelta(minutes=2))
    write_old_file(archive(hot, "2026-01"), done)
    write_old_file(hot, alert)
    assert restarted(hot) == {alert.id: done}
    assert ids_in(hot) == []


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(b"", id="zero-length"),
        pytest.param(None, id="truncated"),
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"[1, 2]", id="not-an-object"),
        pytest.param(b'{"alerts": {"1": {"id": "x"}}}', id="alert-does-not-parse"),
    ],
)
def test_a_damaged_archive_is_set_aside_and_the_rest_loads(
    tmp_path: Path, damage: bytes | None, caplog: pytest.LogCaptureFixture
) -> None:
    hot = tmp_path / "alerts.json"
    waiting, january, february = opened(FEB), closed(JAN), closed(FEB)
    store(hot, waiting, january, february)
    raw = archive(hot, "2026-01").read_bytes()
    damage = raw[: len(raw) // 2] if damage is None else damage
    archive(hot, "2026-01").write_bytes(damage)
    repository = AlertRepository(hot)
    with caplog.at_level(logging.ERROR, logger="hub.alerting.store"):
        loaded = {a.id: a for a in repository.load()}
    assert loaded == {waiting.id: waiting, february.id: february}
    assert len(repository.damaged) == 1 and "alerts-2026-01.json" in repository.damaged[0]
    assert "alerts-2026-01.json" in caplog.text
    assert not archive(hot, "2026-01").exists()
    aside = list(tmp_path.glob("alerts-2026-01.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damage  # kept for a person to look at
    repository.start()
    later = closed(JAN + timedelta(days=1))
    repository.save(later)  # the month's archive starts again
    repository.stop()
    assert ids_in(archive(hot, "2026-01")) == [later.id]


@pytest.mark.parametrize("damage", [b"\x00\x00garbage", b"", None], ids=["garbage", "zero-length", "truncated"])
def test_a_damaged_hot_file_is_set_aside_and_the_archives_load(tmp_path: Path, damage: bytes | None) -> None:
    hot = tmp_path / "alerts.json"
    done = closed(JAN)
    store(hot, opened(), done)
    raw = hot.read_bytes()
    damage = raw[: len(raw) // 2] if damage is None else damage
    hot.write_bytes(damage)
    repository = AlertRepository(hot)
    assert repository.load() == [done]
    assert len(repository.damaged) == 1 and "alerts.json" in repository.damaged[0]
    aside = list(tmp_path.glob("alerts.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damage  # never deleted


def test_a_missing_hot_file_is_a_fresh_store_not_damage(tmp_path: Path) -> None:
    repository = AlertRepository(tmp_path / "data" / "alerts.json")
    assert repository.load() == []
    assert repository.damaged == []


def test_alerts_go_to_the_archive_of_the_utc_month_they_opened_in(tmp_path: Path) -> None:
    hot = tmp_path / "alerts.json"
    january, february = closed(JAN), closed(FEB)
    local_february = datetime(2026, 2, 1, 5, 0, tzinfo=WIB)  # 1 Feb in Jakarta, still 31 Jan in UTC
    edge = closed(local_february)
    assert archive_month(edge) == "2026-01"
    store(hot, january, february, edge)
    assert ids_in(archive(hot, "2026-01")) == sorted([january.id, edge.id])
    assert ids_in(archive(hot, "2026-02")) == [february.id]
    # a later update of a closed alert (made in March) stays in the archive of the month it opened
    noted = record_note(january, datetime(2026, 3, 2, tzinfo=UTC), "note", "kanit", "report filed")
    store(hot, noted)
    assert ids_in(archive(hot, "2026-01")) == sorted([january.id, edge.id])
    assert not archive(hot, "2026-03").exists()
    assert restarted(hot)[january.id] == noted


def test_the_writer_keeps_only_the_latest_version_of_each_alert_in_a_batch(tmp_path: Path) -> None:
    hot = tmp_path / "alerts.json"
    repository = AlertRepository(hot)
    repository.load()
    alert = opened()
    versions = [alert]
    for minute in range(1, 20):
        versions.append(record_note(versions[-1], JAN + timedelta(minutes=minute), "reminder", "system", None))
    for version in versions:
        repository.save(version)  # queued before the writer starts: one batch
    repository.start()
    repository.stop()
    assert restarted(hot) == {alert.id: versions[-1]}


def test_a_failed_write_is_logged_and_retried_with_the_next_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    hot = tmp_path / "alerts.json"
    real_write = durable.atomic_write
    failures = [OSError(28, "No space left on device")]

    def flaky(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
        if failures:
            raise failures.pop()
        real_write(path, data, mode=mode)

    monkeypatch.setattr(durable, "atomic_write", flaky)
    repository, _ = started(hot)
    try:
        first = opened()
        with caplog.at_level(logging.ERROR, logger="hub.alerting.store"):
            repository.save(first)
            assert repository.flush(timeout=10)
        assert "could not write alerts.json" in caplog.text and not hot.exists()
        second = opened(FEB, device="pos-b")
        repository.save(second)  # the writer is still alive, and writes the first alert too
        assert repository.flush(timeout=10)
    finally:
        repository.stop()
    assert restarted(hot) == {first.id: first, second.id: second}
