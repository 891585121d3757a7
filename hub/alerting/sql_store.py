"""Alerts in SQL (SQLite or PostgreSQL): the repository the alert service saves to, and the history it reads.

The same contract as hub.alerting.store.AlertRepository, which the alert service relies on:

- `save()` never waits on the database: it queues the alert for one writer thread, which commits
  the newest version of each queued alert in one transaction. A database that is away
  (`StoreUnavailable`: PostgreSQL down, SQLite locked or its disk full) keeps the alerts queued
  and retried with a growing pause; nothing saved is dropped while the process lives. `flush()`
  waits for the saves made before it to be attempted, `stop()` writes what is queued.
- `load()` at start returns what the service keeps in memory: every open alert, and the closed
  alerts updated in the last `recent_closed` (48 h by default, at most `max_closed` = 1,000 of
  them, newest first). Never the whole history: 10 years of alerts stay in the database, read on
  demand by `get`, `query` (newest first with a keyset cursor, by state, post, kind, time range),
  `for_event`, `events_with_alerts` and `scan`.

Why 48 hours: the service uses its loaded alerts for (a) the dashboard's list, (b) the missed-alert
check after a crash, which looks at the last 24 h of alerting events (hub.service.MISSED_ALERT_WINDOW;
an alert that took an event of that window was updated at or after receiving it, so 48 h covers it
with a day to spare for a post's clock skew), and (c) the snapshot evidence index. The cap bounds
memory after a storm of closed alerts; past it, `events_with_alerts()` answers (b) from SQL.

Rows: `alerts` holds each alert's newest state (indexed columns plus the rest as JSON);
`alert_timeline` and `alert_events` hold the timeline entries and event ids, which the alert rules
only ever append to, so a save inserts the new entries and leaves the history it already wrote alone.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hub.alerting.rules import Alert, AlertKind
from hub.alerting.store import AlertRepository
from hub.storage.sql.database import Cursor, Database, StoreUnavailable
from hub.storage.sql.events import decode_cursor, devices_clause, encode_cursor, sortable_time
from hub.storage.sql.migrate import migrate
from kamling.backoff import Backoff
from kamling.protocol import AlertState, utc_now

log = logging.getLogger(__name__)

RECENT_CLOSED = timedelta(hours=48)
MAX_CLOSED = 1_000
CHUNK = 500  # ids per `IN (...)`: far below both engines' parameter limits
RETRY_FIRST = 0.5  # seconds before a write the database refused is tried again; doubles up to RETRY_MAX
RETRY_MAX = 30.0
MAX_PAGE = 500

_ALERT_COLUMNS = (
    "id, device, kind, severity, state, is_open, test, opened_at, updated_at, "
    "acknowledged_at, acknowledged_by, resolved_at, outcome, record"
)
_UPDATED_COLUMNS = [c.strip() for c in _ALERT_COLUMNS.split(",")][1:]
_UPSERT = (
    f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES ({', '.join('?' * 14)}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _UPDATED_COLUMNS)
)


@dataclass(frozen=True)
class AlertQuery:
    """A page of alerts, newest first (by opened_at, then id).

    state: "open", "closed", or one AlertState value; since/until bound opened_at ([since, until)).
    """

    state: str | None = None
    device: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_tests: bool = True
    limit: int = 50
    cursor: str | None = None  # the previous page's next_cursor
    devices: frozenset[str] | None = None  # a village scope (hub/web/scope.py): only these; None: any


@dataclass(frozen=True)
class AlertPage:
    items: list[Alert]
    next_cursor: str | None = None


def _key(alert: Alert) -> tuple[str, bool]:
    """hub.alerting.store.newest's order, on stored text: the later updated_at, on a tie the closed copy."""
    return sortable_time(alert.updated_at), not alert.is_open


def _when(value: datetime | None) -> str | None:
    return sortable_time(value) if value is not None else None


def _row(alert: Alert) -> tuple[Any, ...]:
    record = alert.to_record()
    del record["timeline"], record["event_ids"]  # in their own tables
    return (
        alert.id,
        alert.device,
        alert.kind.value,
        alert.severity.value,
        alert.state.value,
        1 if alert.is_open else 0,
        1 if alert.test else 0,
        sortable_time(alert.opened_at),
        sortable_time(alert.updated_at),
        _when(alert.acknowledged_at),
        alert.acknowledged_by,
        _when(alert.resolved_at),
        alert.outcome.value if alert.outcome else None,
        json.dumps(record, ensure_ascii=False, separators=(",", ":")),
    )


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" * len(items))


class SqlAlertRepository:
    """AlertRepository on a Database: one writer thread commits, the history is read on demand.

    It owns `database` (stop() closes it): give it a Database of its own, so the alert writer
    never shares a connection (or a lock) with the event log's writer.
    """

    def __init__(
        self,
        database: Database,
        *,
        recent_closed: timedelta = RECENT_CLOSED,
        max_closed: int = MAX_CLOSED,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.database = database
        self.recent_closed = recent_closed
        self.max_closed = max_closed
        self.clock = clock
        self.damaged: list[str] = []  # a damaged database file is StoreDamaged at open, not a list entry
        self._queue: queue.Queue[Alert | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._retry: dict[str, Alert] = {}  # writes that failed: tried again, with or without new saves
        self._progress = threading.Condition()
        self._queued = 0
        self._written = 0
        self._opened = False
        self._away = False  # the last write found the database away

    # lifecycle ---------------------------------------------------------------------------------
    def open(self) -> None:
        """Apply the schema migrations (idempotent; load() does it too)."""
        if not self._opened:
            migrate(self.database)
            self._opened = True

    def load(self) -> list[Alert]:
        """The open alerts and the recently closed ones (bounded), oldest first.

        With the database away at start the hub still starts and pages new alerts from memory
        (an empty list here); alerts opened before the outage escalate again after a restart.
        """
        try:
            return self._load()
        except StoreUnavailable as exc:
            log.error("alerts: database unavailable at start (%s); starting without the open alerts", exc)
            return []

    def _load(self) -> list[Alert]:
        self.open()
        since = sortable_time(self.clock() - self.recent_closed)
        open_ids = [r[0] for r in self.database.query("SELECT id FROM alerts WHERE is_open = 1 ORDER BY opened_at, id")]
        closed_ids = [
            r[0]
            for r in self.database.query(
                "SELECT id FROM alerts WHERE is_open = 0 AND updated_at >= ? ORDER BY updated_at DESC, id DESC LIMIT ?",
                (since, self.max_closed),
            )
        ]
        alerts = self.fetch([*open_ids, *closed_ids])
        return sorted(alerts.values(), key=lambda a: (sortable_time(a.opened_at), a.id))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-sql-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued (one more attempt for what failed), end the writer, close the database."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None
        self.database.close()

    def close(self) -> None:
        self.database.close()

    # saving ------------------------------------------------------------------------------------
    def save(self, alert: Alert) -> None:
        """Queue an alert for the writer thread; never waits on the database."""
        with self._progress:
            self._queued += 1
            self._queue.put(alert)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every save made before this call has been written (or has failed); False on timeout."""
        with self._progress:
            target = self._queued
            return self._progress.wait_for(lambda: self._written >= target, timeout)

    @property
    def pending(self) -> int:
        """Alerts the database refused so far and the writer keeps retrying (for health reporting)."""
        return len(self._retry)

    def _run(self) -> None:
        retry = Backoff(RETRY_FIRST, RETRY_MAX)
        pause = RETRY_FIRST
        while True:
            try:
                # with writes pending a retry, wake up by itself: the database may be back
                batch = [self._queue.get(timeout=pause if self._retry else None)]
            except queue.Empty:
                batch = []
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            saves = [a for a in batch if a is not None]
            latest = {**self._retry, **{a.id: a for a in saves}}
            self._retry = {a.id: a for a in self._write(list(latest.values()))} if latest else {}
            if self._retry:
                pause = retry.next()
            else:
                retry.reset()
            with self._progress:
                self._written += len(saves)
                self._progress.notify_all()
            if len(saves) < len(batch):
                if self._retry:
                    log.error("alert store: stopping with %d alerts unsaved: %s", len(self._retry), sorted(self._retry))
                return

    def _write(self, alerts: list[Alert]) -> list[Alert]:
        """Commit these alerts in one transaction; returns the ones not written.

        A database that is away fails the whole batch (retried later). Any other error is a
        statement failing on one alert's data: the alerts are then tried one by one, so one bad
        alert never holds up the others.
        """
        try:
            with self.database.transaction() as cursor:
                self._put(cursor, alerts)
            if self._away:
                self._away = False
                log.warning("alert store: database back; %d alerts written", len(alerts))
            return []
        except StoreUnavailable as exc:
            if not self._away:  # said once per outage: the retries (a growing pause, up to 30 s) are not news
                log.error("alert store: database unavailable, %d alerts kept and retried: %s", len(alerts), exc)
            self._away = True
            return alerts
        except Exception:
            if len(alerts) == 1:
                log.exception("alert store: could not write alert %s", alerts[0].id)
                return alerts
        failed: list[Alert] = []
        for alert in alerts:
            failed += self._write([alert])
        return failed

    def _put(self, cursor: Cursor, alerts: Sequence[Alert]) -> None:
        """Upsert the alerts and append the timeline entries and event ids their stored rows lack."""
        if not alerts:
            return
        ids = [a.id for a in alerts]
        have_timeline = self._counts(cursor, "alert_timeline", ids)
        have_events = self._counts(cursor, "alert_events", ids)
        cursor.executemany(_UPSERT, [_row(a) for a in alerts])
        timeline: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        for alert in alerts:
            timeline += [
                (alert.id, position, sortable_time(entry.ts), entry.action, entry.actor, entry.detail)
                for position, entry in enumerate(alert.timeline)
                if position >= have_timeline.get(alert.id, 0)
            ]
            events += [
                (alert.id, position, event_id)
                for position, event_id in enumerate(alert.event_ids)
                if position >= have_events.get(alert.id, 0)
            ]
            # the rules only append; a shorter list (never made by them) is stored as given
            if have_timeline.get(alert.id, 0) > len(alert.timeline):
                cursor.execute(
                    "DELETE FROM alert_timeline WHERE alert_id = ? AND position >= ?", (alert.id, len(alert.timeline))
                )
            if have_events.get(alert.id, 0) > len(alert.event_ids):
                cursor.execute(
                    "DELETE FROM alert_events WHERE alert_id = ? AND position >= ?", (alert.id, len(alert.event_ids))
                )
        if timeline:
            cursor.executemany(
                "INSERT INTO alert_timeline (alert_id, position, ts, action, actor, detail) VALUES (?, ?, ?, ?, ?, ?)",
                timeline,
            )
        if events:
            cursor.executemany("INSERT INTO alert_events (alert_id, position, event_id) VALUES (?, ?, ?)", events)

    @staticmethod
    def _counts(cursor: Cursor, table: str, ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(ids):
            rows = cursor.execute(
                f"SELECT alert_id, COUNT(*) FROM {table} WHERE alert_id IN ({_marks(chunk)}) GROUP BY alert_id", chunk
            ).fetchall()
            found.update({str(alert_id): int(count) for alert_id, count in rows})
        return found

    def merge(self, alerts: Iterable[Alert]) -> tuple[int, int, int]:
        """Store alerts from elsewhere (a migration) now, in the caller's thread: a stored copy that is
        newer (hub.alerting.store.newest) is kept. Returns (added, replaced, already stored)."""
        self.open()
        added = replaced = already = 0
        batch = list(alerts)
        for start in range(0, len(batch), CHUNK):
            chunk = batch[start : start + CHUNK]
            with self.database.transaction() as cursor:
                rows = cursor.execute(
                    f"SELECT id, updated_at, is_open FROM alerts WHERE id IN ({_marks(chunk)})", [a.id for a in chunk]
                ).fetchall()
                stored = {str(r[0]): (str(r[1]), not bool(r[2])) for r in rows}
                winners = [a for a in chunk if a.id not in stored or _key(a) > stored[a.id]]
                self._put(cursor, winners)
            added += sum(1 for a in winners if a.id not in stored)
            replaced += sum(1 for a in winners if a.id in stored)
            already += len(chunk) - len(winners)
        return added, replaced, already

    # reading -----------------------------------------------------------------------------------
    def get(self, alert_id: str) -> Alert | None:
        return self.fetch([alert_id]).get(alert_id)

    def query(self, query: AlertQuery) -> AlertPage:
        """One page, newest first; `next_cursor` continues after its last alert (None: no more)."""
        keys, more = self.query_keys(query)
        found = self.fetch([alert_id for alert_id, _ in keys])
        items = [found[alert_id] for alert_id, _ in keys if alert_id in found]
        return AlertPage(items, encode_cursor(keys[-1][1], keys[-1][0]) if more and keys else None)

    def query_keys(self, query: AlertQuery) -> tuple[list[tuple[str, str]], bool]:
        """One page's keys, newest first: (id, opened_at as stored), and whether more follow. The
        alerts themselves are read with `fetch`, so a caller that already holds some reads only the rest."""
        clauses, params = ["1 = 1"], []
        if query.state == "open":
            clauses.append("is_open = 1")  # literally, so the partial index alerts_open serves it
        elif query.state == "closed":
            clauses.append("is_open = 0")
        elif query.state:
            clauses.append("state = ?")
            params.append(AlertState(query.state).value)
        if query.device:
            clauses.append("device = ?")
            params.append(query.device)
        if query.devices is not None:
            clauses.append(devices_clause(query.devices))
            params.extend(sorted(query.devices))
        if query.kind:
            clauses.append("kind = ?")
            params.append(AlertKind(query.kind).value)
        if not query.include_tests:
            clauses.append("test = 0")
        if query.since:
            clauses.append("opened_at >= ?")
            params.append(sortable_time(query.since))
        if query.until:
            clauses.append("opened_at < ?")
            params.append(sortable_time(query.until))
        if query.cursor:
            opened_at, alert_id = decode_cursor(query.cursor)
            clauses.append("(opened_at < ? OR (opened_at = ? AND id < ?))")
            params += [opened_at, opened_at, alert_id]
        limit = max(1, min(query.limit, MAX_PAGE))
        rows = self.database.query(
            f"SELECT id, opened_at FROM alerts WHERE {' AND '.join(clauses)} ORDER BY opened_at DESC, id DESC LIMIT ?",
            [*params, limit + 1],
        )
        return [(str(r[0]), str(r[1])) for r in rows[:limit]], len(rows) > limit

    def for_event(self, event_id: str) -> list[Alert]:
        """The alerts that reference this event (usually one), newest first."""
        ids = [
            str(r[0])
            for r in self.database.query("SELECT DISTINCT alert_id FROM alert_events WHERE event_id = ?", (event_id,))
        ]
        return sorted(self.fetch(ids).values(), key=lambda a: (sortable_time(a.opened_at), a.id), reverse=True)

    def events_with_alerts(self, event_ids: Iterable[str]) -> set[str]:
        """Which of these event ids some stored alert references (the missed-alert check, from SQL)."""
        wanted = list(dict.fromkeys(event_ids))
        found: set[str] = set()
        for chunk in _chunks(wanted):
            found.update(
                str(r[0])
                for r in self.database.query(
                    f"SELECT DISTINCT event_id FROM alert_events WHERE event_id IN ({_marks(chunk)})", chunk
                )
            )
        return found

    def scan(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        include_tests: bool = True,
        batch: int = CHUNK,
        kinds: Collection[AlertKind | str] | None = None,
        whole: bool = True,
    ) -> Iterator[Alert]:
        """Every alert opened in [since, until), oldest first, read `batch` at a time (reports, exports).

        `kinds`: only alerts of these kinds. `whole=False`: the alerts without their timelines and event
        ids (empty), one read per batch instead of four, for reports that need only the alert's row.
        """
        low = sortable_time(since) if since else ""
        high = sortable_time(until) if until else "~"
        tests = "" if include_tests else " AND test = 0"
        wanted = sorted({AlertKind(k).value for k in kinds}) if kinds is not None else None
        if wanted == []:
            return
        of_kinds = f" AND kind IN ({_marks(wanted)})" if wanted else ""
        columns = "id, opened_at" if whole else "id, opened_at, record"
        last = (low, "")
        while True:
            rows = self.database.query(
                f"SELECT {columns} FROM alerts WHERE (opened_at > ? OR (opened_at = ? AND id > ?)) "
                f"AND opened_at < ?{tests}{of_kinds} ORDER BY opened_at, id LIMIT ?",
                (last[0], last[0], last[1], high, *(wanted or ()), batch),
            )
            if not rows:
                return
            if whole:
                found = self.fetch([str(r[0]) for r in rows])
                for row in rows:
                    if str(row[0]) in found:
                        yield found[str(row[0])]
            else:
                for row in rows:
                    yield Alert.from_record({**json.loads(row[2]), "timeline": [], "event_ids": []})
            last = (str(rows[-1][1]), str(rows[-1][0]))

    def count(self, state: str | None = None) -> int:
        where = {"open": " WHERE is_open = 1", "closed": " WHERE is_open = 0"}.get(state or "", "")
        return int(self.database.query(f"SELECT COUNT(*) FROM alerts{where}")[0][0])

    def fetch(self, ids: Sequence[str]) -> dict[str, Alert]:
        """The alerts with these ids, whole (row, timeline, events), by id (absent ids are left out): three
        indexed reads per chunk."""
        alerts: dict[str, Alert] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = _marks(chunk)
            records = {
                str(r[0]): json.loads(r[1])
                for r in self.database.query(f"SELECT id, record FROM alerts WHERE id IN ({marks})", chunk)
            }
            timelines: dict[str, list[dict[str, Any]]] = {}
            for alert_id, ts, action, actor, detail in self.database.query(
                f"SELECT alert_id, ts, action, actor, detail FROM alert_timeline WHERE alert_id IN ({marks}) "
                "ORDER BY alert_id, position",
                chunk,
            ):
                timelines.setdefault(str(alert_id), []).append(
                    {"ts": ts, "action": action, "actor": actor, "detail": detail}
                )
            events: dict[str, list[str]] = {}
            for alert_id, event_id in self.database.query(
                f"SELECT alert_id, event_id FROM alert_events WHERE alert_id IN ({marks}) ORDER BY alert_id, position",
                chunk,
            ):
                events.setdefault(str(alert_id), []).append(str(event_id))
            for alert_id, record in records.items():
                record["timeline"] = timelines.get(alert_id, [])
                record["event_ids"] = events.get(alert_id, [])
                alerts[alert_id] = Alert.from_record(record)
        return alerts


# migration from the files of the previous release -------------------------------------------------


@dataclass
class AlertMigration:
    """What `migrate_alert_files` did. `missing_after`: alerts of the files not in SQL as new as there."""

    files: list[str] = field(default_factory=list)
    read: int = 0
    added: int = 0
    replaced: int = 0
    already: int = 0
    damaged: list[str] = field(default_factory=list)
    missing_after: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "read": self.read,
            "added": self.added,
            "replaced": self.replaced,
            "already_stored": self.already,
            "damaged": self.damaged,
            "missing_after": len(self.missing_after),
        }


def alert_files(hot: Path) -> list[Path]:
    """The previous release's alert files: the hot file `alerts.json` and its `alerts-YYYY-MM.json` archives."""
    if not hot.parent.is_dir():
        return []
    names = {hot.name} | {
        p.name for p in hot.parent.glob(f"{hot.stem}-????-??.json") if p.name[len(hot.stem) + 1 :][:4].isdigit()
    }
    return sorted(hot.parent / name for name in names if (hot.parent / name).is_file())


def migrate_alert_files(hot: Path, repository: SqlAlertRepository) -> AlertMigration:
    """Copy every alert of the TinyDB alert files (hot file and monthly archives) into SQL; safe to re-run.

    The files are read by the current release's own code (AlertRepository.load: the newest copy
    of each alert, crash duplicates resolved, damaged files detected) run on a copy of them in a
    temporary folder, so the originals are never touched: not repaired, not set aside. A stored
    SQL copy that is newer (the hub already ran on SQL) is kept. Then every alert is checked.
    """
    report = AlertMigration(files=[str(p) for p in alert_files(hot)])
    with tempfile.TemporaryDirectory(prefix="alerts-migrate-") as folder:
        for path in alert_files(hot):
            shutil.copy2(path, Path(folder) / path.name)
        reader = AlertRepository(Path(folder) / hot.name)
        alerts = reader.load()
        # the reader set its copy aside ("...; moved to ..."): the original is left where it is
        report.damaged = []
        for message in reader.damaged:
            name, _, problem = message.partition(":")
            report.damaged.append(
                f"{hot.parent / name}:{problem.split('; moved to')[0]} "
                "(left in place; the alerts it holds are not migrated)"
            )
    report.read = len(alerts)
    report.added, report.replaced, report.already = repository.merge(alerts)
    for start in range(0, len(alerts), CHUNK):
        chunk = alerts[start : start + CHUNK]
        stored = repository.fetch([a.id for a in chunk])
        report.missing_after += [a.id for a in chunk if a.id not in stored or _key(stored[a.id]) < _key(a)]
    return report


__all__ = ["AlertMigration", "AlertPage", "AlertQuery", "SqlAlertRepository", "migrate_alert_files"]
