"""The audit log in SQL: who did what, when, from where; the same interface as hub.storage.audit.AuditLog.

`record()` is durable when it returns (an audit line is evidence) and cheap: one small transaction,
two inserts, committed on disk (SQLite's WAL fsynced at commit, PostgreSQL's synchronous commit).
The hub calls it on the alert path too (hub.storage.audit.AlertAuditor is an alert listener), so a
database that is away must not hold it up: with a `spill` file configured, a record the database
refuses (StoreUnavailable) is appended and fsynced to that JSON Lines file instead, the database
is not tried again for `retry_after` seconds (each call would otherwise wait for a connect timeout),
and the spilled records are written to the database, idempotently by their `uid`, at the first
record that gets through and at `open()`. Without a spill file, StoreUnavailable is raised.

`read()` serves the admin API: newest first (by time, then insertion), `action` as a prefix
("alert." gives alert.ack, alert.resolve, ...), `actor` exact. A prefix read is one indexed top-N
read per matching action (the few dozen actions ever recorded are in `audit_actions`), never a scan.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.settings import HubSettings
from hub.storage.audit import _clean
from hub.storage.sql.database import Cursor, Database, StoreUnavailable
from hub.storage.sql.events import sortable_time
from hub.storage.sql.migrate import migrate
from kamling.protocol import new_event_id, utc_now

log = logging.getLogger(__name__)

RETRY_AFTER = 30.0
BATCH = 1_000

_COLUMNS = ("uid", "at", "ts", "actor", "action", "target", "ok", "client", "detail")
_INSERT = (
    f"INSERT INTO audit_log ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    "ON CONFLICT (uid) DO NOTHING"
)
_SELECT = "SELECT at, seq, ts, actor, action, target, ok, client, detail FROM audit_log"

Row = tuple[Any, ...]


def _row(uid: str, entry: dict[str, Any]) -> Row:
    return (
        uid,
        sortable_time(entry.get("ts")),
        str(entry.get("ts", "")),
        str(entry.get("actor", "")),
        str(entry.get("action", "")),
        str(entry.get("target", "")),
        1 if entry.get("ok", True) else 0,
        str(entry.get("client", "")),
        json.dumps(entry.get("detail") or {}, ensure_ascii=False, separators=(",", ":")),
    )


def _entry(row: Sequence[Any]) -> dict[str, Any]:
    _at, _seq, ts, actor, action, target, ok, client, detail = row
    return {
        "ts": ts,
        "actor": actor,
        "action": action,
        "target": target,
        "ok": bool(ok),
        "client": client,
        "detail": json.loads(detail),
    }


class SqlAuditLog:
    """AuditLog on a Database. `spill`: where records go while the database is away (recommended)."""

    def __init__(self, database: Database, spill: Path | None = None, retry_after: float = RETRY_AFTER) -> None:
        self.database = database
        self.spill = spill
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._actions: set[str] = set()  # actions this process knows are in audit_actions
        self._skip_until = 0.0  # monotonic time before which the database is not tried (it was away)
        self._opened = False

    def open(self) -> None:
        """Apply the schema migrations; write what an earlier run spilled. StoreUnavailable if away."""
        migrate(self.database)
        self._opened = True
        with self._lock:
            self._replay()

    def close(self) -> None:
        self.database.close()

    # writing -----------------------------------------------------------------------------------
    def record(
        self, actor: str, action: str, target: str = "", *, ok: bool = True, client: str = "", **detail: Any
    ) -> dict[str, Any]:
        entry = {
            "ts": utc_now().isoformat(),
            "actor": _clean(actor),
            "action": _clean(action),
            "target": _clean(target),
            "ok": bool(ok),
            "client": _clean(client),
            "detail": {str(k)[:50]: _clean(v) for k, v in detail.items()},
        }
        row = _row(new_event_id(), entry)
        with self._lock:
            if self.spill is not None and time.monotonic() < self._skip_until:
                self._spill(row)  # the database was away a moment ago: do not wait for it again yet
                return entry
            try:
                if not self._opened:  # open() was not called: the schema on first use
                    migrate(self.database)
                    self._opened = True
                with self.database.transaction() as cursor:
                    actions = self._insert(cursor, [row])
                self._actions |= actions
            except StoreUnavailable as exc:
                if self.spill is None:
                    raise
                log.error(
                    "audit log: database unavailable, recording to %s for %.0f s: %s", self.spill, self.retry_after, exc
                )
                self._skip_until = time.monotonic() + self.retry_after
                self._spill(row)
                return entry
            self._replay()
        return entry

    def _insert(self, cursor: Cursor, rows: Sequence[Row]) -> set[str]:
        """Insert rows and their actions; returns the actions to remember once the transaction commits
        (remembered before, a rollback would leave an action out of audit_actions and out of reads)."""
        cursor.executemany(_INSERT, rows)
        actions = {str(row[4]) for row in rows} - self._actions
        if actions:
            cursor.executemany(
                "INSERT INTO audit_actions (action) VALUES (?) ON CONFLICT (action) DO NOTHING",
                [(a,) for a in sorted(actions)],
            )
        return actions

    def _spill(self, row: Row) -> None:
        """Append one record to the spill file and fsync it (raises OSError if even that fails)."""
        assert self.spill is not None
        line = json.dumps(dict(zip(_COLUMNS, row, strict=True)), ensure_ascii=False, separators=(",", ":")) + "\n"
        self.spill.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.spill, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # the CLI may spill into the same file, or be replaying it
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _replay(self) -> None:
        """Write the spilled records to the database, then empty the spill file (a crash between the two
        replays them again: the uid makes that harmless). Leaves them for later if the database is away."""
        if self.spill is None or not self.spill.exists() or self.spill.stat().st_size == 0:
            return
        fd = os.open(self.spill, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "rb") as handle:
                rows = []
                for line in handle:
                    try:
                        saved = json.loads(line)
                        rows.append(tuple(saved[c] for c in _COLUMNS))
                    except (ValueError, KeyError, TypeError):
                        log.error("audit log: unreadable line in %s skipped: %r", self.spill, line[:200])
            actions: set[str] = set()
            try:
                with self.database.transaction() as cursor:
                    for start in range(0, len(rows), BATCH):
                        actions |= self._insert(cursor, rows[start : start + BATCH])
            except StoreUnavailable:
                return
            self._actions |= actions
            os.ftruncate(fd, 0)
            os.fsync(fd)
            self._skip_until = 0.0
            log.info("audit log: %d records written from %s", len(rows), self.spill)
        finally:
            os.close(fd)

    # reading -----------------------------------------------------------------------------------
    def read(self, limit: int = 100, action: str | None = None, actor: str | None = None) -> list[dict[str, Any]]:
        """The newest `limit` matching records, newest first (`action` is a prefix, `actor` exact)."""
        if limit <= 0:
            return []
        by_actor = " AND actor = ?" if actor else ""
        order = " ORDER BY at DESC, seq DESC LIMIT ?"
        if not action:
            where = " WHERE actor = ?" if actor else ""
            rows = self.database.query(f"{_SELECT}{where}{order}", [*([actor] if actor else []), limit])
            return [_entry(row) for row in rows]
        actions = [str(r[0]) for r in self.database.query("SELECT action FROM audit_actions")]
        found: list[Row] = []
        for name in actions:
            if name.startswith(action):
                found += self.database.query(
                    f"{_SELECT} WHERE action = ?{by_actor}{order}", [name, *([actor] if actor else []), limit]
                )
        found.sort(key=lambda row: (row[0], row[1]), reverse=True)
        return [_entry(row) for row in found[:limit]]

    def count(self) -> int:
        return int(self.database.query("SELECT COUNT(*) FROM audit_log")[0][0])

    def has(self, uids: Sequence[str]) -> set[str]:
        """Which of these uids are stored."""
        found: set[str] = set()
        for start in range(0, len(uids), 500):
            chunk = uids[start : start + 500]
            found.update(
                str(r[0])
                for r in self.database.query(
                    f"SELECT uid FROM audit_log WHERE uid IN ({', '.join('?' * len(chunk))})", chunk
                )
            )
        return found

    def add(self, rows: Sequence[Row]) -> int:
        """Store prepared rows (a migration) in one transaction; returns how many were new."""
        if not rows:
            return 0
        with self._lock, self.database.transaction() as cursor:
            present: set[str] = set()
            uids = [str(row[0]) for row in rows]
            for start in range(0, len(uids), 500):
                chunk = uids[start : start + 500]
                present.update(
                    str(r[0])
                    for r in cursor.execute(
                        f"SELECT uid FROM audit_log WHERE uid IN ({', '.join('?' * len(chunk))})", chunk
                    ).fetchall()
                )
            fresh = [row for row in rows if str(row[0]) not in present]
            actions = self._insert(cursor, fresh) if fresh else set()
        self._actions |= actions
        return len(fresh)


# migration of the previous release's audit.jsonl -------------------------------------------------


@dataclass
class AuditMigration:
    file: str
    read: int = 0
    added: int = 0
    already: int = 0
    unreadable: int = 0  # damaged lines (a torn write): skipped, as AuditLog.read() skips them
    missing_after: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "read": self.read,
            "added": self.added,
            "already_stored": self.already,
            "unreadable_lines": self.unreadable,
            "missing_after": self.missing_after,
        }


def audit_lines(path: Path) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(uid, entry) per line of an audit.jsonl, entry None for a damaged line.

    The uid is derived from the line itself (its hash and how many identical lines came before
    it), so migrating the same file again, or the same file with lines appended since, finds the
    lines already stored.
    """
    seen: dict[str, int] = {}
    with path.open("rb") as handle:
        for raw in handle:
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            digest = hashlib.sha256(line).hexdigest()[:40]
            seen[digest] = seen.get(digest, 0) + 1
            uid = f"jsonl-{digest}-{seen[digest]}"
            try:
                entry = json.loads(line)
            except ValueError:
                yield uid, None
                continue
            yield uid, entry if isinstance(entry, dict) else None


def migrate_audit_file(path: Path, audit: SqlAuditLog) -> AuditMigration:
    """Copy every readable line of a JSON Lines audit file into SQL, in file order; safe to re-run.

    The file is only read. Then every line's presence is checked (`missing_after`).
    """
    report = AuditMigration(str(path))
    if not path.exists():
        return report
    batch: list[Row] = []

    def flush() -> None:
        if batch:
            added = audit.add(batch)
            report.added += added
            report.already += len(batch) - added
            batch.clear()

    for uid, entry in audit_lines(path):
        if entry is None:
            report.unreadable += 1
            continue
        report.read += 1
        batch.append(_row(uid, entry))
        if len(batch) >= BATCH:
            flush()
    flush()
    uids: list[str] = []
    for uid, entry in audit_lines(path):
        if entry is not None:
            uids.append(uid)
        if len(uids) >= BATCH:
            report.missing_after += len(uids) - len(audit.has(uids))
            uids.clear()
    report.missing_after += len(uids) - len(audit.has(uids)) if uids else 0
    return report


def open_audit_log(settings: HubSettings) -> SqlAuditLog:
    """The hub's audit log (the same for the hub and the commands run beside it): the SQL store, with
    a spill file in data_dir for while the database is away."""
    return SqlAuditLog(Database(settings.store_url), spill=settings.data_dir / "audit-spill.jsonl")
