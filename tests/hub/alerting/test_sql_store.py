"""The SQL alert repository's contract, on SQLite and on a real PostgreSQL (the `database_url` fixture).

Mirrors tests/hub/alerting/test_store.py (the TinyDB repository) where the property is the same:
saves survive a reopen, open and closed alerts, the newest version wins; and adds what SQL is for:
`load()` stays bounded however long the history, and the history is read by indexed queries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.alerting.rules import (
    Alert,
    AlertKind,
    Outcome,
    acknowledge,
    join_repeat,
    open_alert,
    record_note,
    resolve,
)
from hub.alerting.sql_store import MAX_CLOSED, AlertQuery, SqlAlertRepository
from hub.storage.sql.database import Database, StoreUnavailable
from kamling.protocol import Event, EventKind, new_event_id

JAN = datetime(2026, 1, 20, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def opened(at: datetime = JAN, kind: AlertKind = AlertKind.MOTION, device: str = "pos-a") -> Alert:
    return open_alert(device, kind, at)


def closed(at: datetime = JAN, kind: AlertKind = AlertKind.MOTION, device: str = "pos-a") -> Alert:
    return resolve(opened(at, kind, device), "bhabin", Outcome.FALSE_ALARM, None, at + timedelta(minutes=5))


def event(device: str = "pos-a", seq: int = 1) -> Event:
    return Event(id=new_event_id(), device=device, seq=seq, kind=EventKind.PANIC, ts=JAN, data={})


def repository(url: str, **options: object) -> SqlAlertRepository:
    return SqlAlertRepository(Database(url), clock=lambda: NOW, **options)  # type: ignore[arg-type]


def store(url: str, *alerts: Alert) -> None:
    """Save alerts through a started repository and stop it (everything is committed afterwards)."""
    repo = repository(url)
    repo.load()
    repo.start()
    for alert in alerts:
        repo.save(alert)
    repo.stop()


def restarted(url: str, **options: object) -> dict[str, Alert]:
    repo = repository(url, **options)
    try:
        return {a.id: a for a in repo.load()}
    finally:
        repo.close()


@pytest.fixture
def repo(database_url: str) -> Iterator[SqlAlertRepository]:
    instance = repository(database_url)
    instance.load()
    instance.start()
    yield instance
    instance.stop()


def test_open_and_closed_alerts_survive_a_reopen(database_url: str) -> None:
    recent = NOW - timedelta(hours=3)
    waiting, done = opened(), closed(recent)
    acked = acknowledge(opened(kind=AlertKind.PANIC), "bhabin", "dashboard", JAN + timedelta(minutes=1))
    store(database_url, waiting, done, acked)
    assert restarted(database_url) == {a.id: a for a in (waiting, done, acked)}


def test_save_queues_flush_waits_and_every_field_round_trips(repo: SqlAlertRepository) -> None:
    first, second = event(seq=1), event(seq=2)
    alert = open_alert("pos-a", AlertKind.PANIC, JAN, event=first)
    alert = join_repeat(alert, second, JAN + timedelta(seconds=30))
    alert = acknowledge(alert, "bhabin", "link", JAN + timedelta(minutes=1))
    alert = resolve(alert, "bhabin", Outcome.REAL, "caught: thief", JAN + timedelta(minutes=9))
    repo.save(alert)
    assert repo.flush(timeout=10)
    stored = repo.get(alert.id)
    assert stored == alert
    assert stored.event_ids == (first.id, second.id) and [e.action for e in stored.timeline] == [
        "opened",
        "repeat",
        "acknowledged",
        "resolved",
    ]
    assert repo.get(new_event_id()) is None


def test_the_newest_save_wins_and_the_timeline_is_appended_not_rewritten(repo: SqlAlertRepository) -> None:
    alert = opened()
    versions = [alert]
    for minute in range(1, 20):
        versions.append(record_note(versions[-1], JAN + timedelta(minutes=minute), "reminder", "system", None))
    for version in versions:
        repo.save(version)
    assert repo.flush(timeout=10)
    assert repo.get(alert.id) == versions[-1]
    done = resolve(versions[-1], "kanit", Outcome.TEST, None, JAN + timedelta(hours=1))
    repo.save(done)
    assert repo.flush(timeout=10)
    assert repo.get(alert.id) == done
    rows = repo.database.query("SELECT COUNT(*) FROM alert_timeline WHERE alert_id = ?", (alert.id,))
    assert rows[0][0] == len(done.timeline) == 21


def test_saves_queued_before_start_are_written_by_the_writer(database_url: str) -> None:
    repo = repository(database_url)
    repo.load()
    alert = opened(NOW - timedelta(hours=1))
    noted = record_note(alert, NOW, "note", "kanit", "checked the footage")
    repo.save(alert)
    repo.save(noted)  # one batch: only the latest version of each alert is written
    repo.start()
    repo.stop()
    assert restarted(database_url) == {alert.id: noted}


def test_load_is_bounded_however_long_the_history(database_url: str) -> None:
    """10,000 closed alerts in the database: the service gets the open ones and at most MAX_CLOSED recent ones."""
    old = [closed(JAN + timedelta(minutes=n), device=f"pos-{n % 7}") for n in range(8_500)]
    recent = [closed(NOW - timedelta(hours=40) + timedelta(minutes=n), device=f"pos-{n % 7}") for n in range(1_500)]
    waiting = [opened(JAN - timedelta(days=30)), opened(NOW - timedelta(minutes=5), AlertKind.PANIC)]
    writer = repository(database_url)
    writer.open()
    assert writer.merge([*old, *recent]) == (10_000, 0, 0)
    store(database_url, *waiting)
    assert writer.count() == 10_002 and writer.count("closed") == 10_000
    writer.close()

    loaded = restarted(database_url)
    assert len(loaded) == len(waiting) + MAX_CLOSED
    assert all(a.id in loaded for a in waiting)  # every open alert, however old
    newest_closed = sorted(recent, key=lambda a: a.updated_at)[-MAX_CLOSED:]
    assert {a.id for a in loaded.values() if not a.is_open} == {a.id for a in newest_closed}
    # within the window but fewer than the cap: all of them; a short window: only the open ones
    assert len(restarted(database_url, max_closed=5_000)) == len(waiting) + len(recent)
    assert set(restarted(database_url, recent_closed=timedelta(hours=1))) == {a.id for a in waiting}


def test_load_returns_alerts_oldest_first_as_the_file_repository_does(database_url: str) -> None:
    alerts = [opened(NOW - timedelta(hours=h), device=f"pos-{h}") for h in (5, 1, 9)]
    store(database_url, *alerts)
    repo = repository(database_url)
    try:
        assert [a.id for a in repo.load()] == [a.id for a in sorted(alerts, key=lambda a: a.opened_at)]
    finally:
        repo.close()


def test_query_pages_newest_first_with_a_cursor_and_filters(repo: SqlAlertRepository) -> None:
    alerts = []
    for n in range(30):
        at = JAN + timedelta(hours=n)
        kind = AlertKind.PANIC if n % 3 == 0 else AlertKind.MOTION
        device = "pos-a" if n % 2 else "pos-b"
        alerts.append(closed(at, kind, device) if n % 5 else opened(at, kind, device))
    alerts.append(acknowledge(opened(JAN + timedelta(hours=40), AlertKind.TAMPER), "bhabin", "api", JAN))
    for alert in alerts:
        repo.save(alert)
    assert repo.flush(timeout=10)
    newest_first = sorted(alerts, key=lambda a: a.opened_at, reverse=True)

    seen, cursor = [], None
    while True:
        page = repo.query(AlertQuery(limit=7, cursor=cursor))
        seen += [a.id for a in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [a.id for a in newest_first]

    def ids(**filters: object) -> list[str]:
        return [a.id for a in repo.query(AlertQuery(limit=100, **filters)).items]  # type: ignore[arg-type]

    assert ids(state="open") == [a.id for a in newest_first if a.is_open]
    assert ids(state="closed") == [a.id for a in newest_first if not a.is_open]
    assert ids(state="acknowledged") == [alerts[-1].id]
    assert ids(device="pos-a") == [a.id for a in newest_first if a.device == "pos-a"]
    since, until = JAN + timedelta(hours=6), JAN + timedelta(hours=18)
    assert ids(kind="panic", since=since, until=until) == [
        a.id for a in newest_first if a.kind is AlertKind.PANIC and since <= a.opened_at < until
    ]
    assert ids(device="pos-b", state="open") == [a.id for a in newest_first if a.device == "pos-b" and a.is_open]
    with pytest.raises(ValueError):
        repo.query(AlertQuery(cursor="not-a-cursor"))
    with pytest.raises(ValueError):
        repo.query(AlertQuery(state="exploded"))


def test_which_alerts_reference_an_event(repo: SqlAlertRepository) -> None:
    first, second, lonely = event(seq=1), event(seq=2), event(seq=3)
    alert = join_repeat(open_alert("pos-a", AlertKind.PANIC, JAN, event=first), second, JAN + timedelta(seconds=9))
    other = open_alert("pos-a", AlertKind.PANIC, JAN + timedelta(hours=1), event=second)  # a second reference
    repo.save(alert)
    repo.save(other)
    assert repo.flush(timeout=10)
    assert [a.id for a in repo.for_event(first.id)] == [alert.id]
    assert [a.id for a in repo.for_event(second.id)] == [other.id, alert.id]
    assert repo.for_event(lonely.id) == []
    assert repo.events_with_alerts([first.id, second.id, lonely.id]) == {first.id, second.id}


def test_scan_reads_every_alert_of_a_range_oldest_first_in_batches(repo: SqlAlertRepository) -> None:
    alerts = [closed(JAN + timedelta(minutes=n)) for n in range(25)]
    tests = [open_alert("pos-a", AlertKind.PANIC, JAN + timedelta(minutes=3), test=True)]
    for alert in [*alerts, *tests]:
        repo.save(alert)
    assert repo.flush(timeout=10)
    assert [a.id for a in repo.scan(batch=4, include_tests=False)] == [a.id for a in alerts]
    window = list(repo.scan(JAN + timedelta(minutes=5), JAN + timedelta(minutes=10), batch=2))
    assert [a.opened_at for a in window] == [JAN + timedelta(minutes=n) for n in range(5, 10)]
    assert tests[0].id in {a.id for a in repo.scan()}


def test_scan_of_some_kinds_without_timelines(repo: SqlAlertRepository) -> None:
    """The reports page's read: only incident kinds, and only the alerts' rows (no timelines, no event ids)."""
    panic = acknowledge(open_alert("pos-a", AlertKind.PANIC, JAN), "Agus", "link", JAN + timedelta(seconds=30))
    report = open_alert("pos-b", AlertKind.REPORT, JAN + timedelta(minutes=1))
    motion = closed(JAN + timedelta(minutes=2))
    for alert in (panic, report, motion):
        repo.save(alert)
    assert repo.flush(timeout=10)
    light = list(repo.scan(kinds=[AlertKind.PANIC, "report"], whole=False, batch=1))
    assert [a.id for a in light] == [panic.id, report.id]
    assert light[0].timeline == () and light[0].event_ids == ()
    assert replace(light[0], timeline=panic.timeline) == panic  # everything else as stored
    assert [a.id for a in repo.scan(kinds=[AlertKind.MOTION])] == [motion.id]
    assert list(repo.scan(kinds=[])) == []
    assert [a.timeline for a in repo.scan(kinds=[AlertKind.PANIC])] == [panic.timeline]  # whole by default


def test_a_database_that_is_away_keeps_alerts_queued_and_writes_them_when_it_returns(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    repo = repository(database_url)
    repo.load()
    real = repo.database.transaction
    outages = [StoreUnavailable("database away"), StoreUnavailable("still away")]

    def flaky():  # type: ignore[no-untyped-def]
        if outages:
            raise outages.pop(0)
        return real()

    monkeypatch.setattr(repo.database, "transaction", flaky)
    repo.start()
    try:
        alert = opened(NOW - timedelta(minutes=1), AlertKind.PANIC)
        with caplog.at_level(logging.ERROR, logger="hub.alerting.sql_store"):
            repo.save(alert)  # returns at once: the alert path never waits on the database
            assert repo.flush(timeout=10)  # attempted (and failed): flush does not wait for the database
        assert "database unavailable" in caplog.text and repo.pending == 1
        later = opened(NOW, device="pos-b")
        repo.save(later)  # the writer retries the first alert along with this one
        assert repo.flush(timeout=10)
    finally:
        repo.stop()
    assert restarted(database_url) == {alert.id: alert, later.id: later}


def test_one_alert_that_cannot_be_written_does_not_hold_up_the_others(
    repo: SqlAlertRepository, caplog: pytest.LogCaptureFixture
) -> None:
    good = opened(NOW)
    bad = opened(NOW, device="pos-b")
    bad = Alert(**{**bad.__dict__, "details": {"not json": object()}})  # a record that cannot be written
    with caplog.at_level(logging.ERROR, logger="hub.alerting.sql_store"):
        repo.save(bad)
        repo.save(good)
        assert repo.flush(timeout=10)
    assert repo.get(good.id) == good and repo.get(bad.id) is None
    assert f"could not write alert {bad.id}" in caplog.text
