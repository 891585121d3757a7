"""Durable event outbox on the edge (SQLite, WAL, synchronous=FULL).

Every event is written here before it is sent and deleted only after the hub's ack, so a
power cut at any instant loses nothing. The per-device sequence number lives here too.
Use from one thread only (the agent's worker).

An event's snapshot (its `attachment`) outlives the event's ack (issue 17 item 3): the agent sends
pictures only once their event is stored at the hub and no event is waiting, in small parts, so
the ack marks the row `acked` and the row goes when the picture has left (`snapshot_sent`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kamling.protocol import Event, EventKind, new_event_id, utc_now

NEVER_DROPPED = frozenset({EventKind.PANIC, EventKind.TAMPER})
DROP_ORDER = (EventKind.MOTION, EventKind.CHECKIN, EventKind.CAMERA)  # first dropped first

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload BLOB NOT NULL,
    attachment BLOB,
    size INTEGER NOT NULL,
    acked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', 0), ('dropped', 0), ('dropped_snapshots', 0);
CREATE TRIGGER IF NOT EXISTS outbox_bytes_add AFTER INSERT ON outbox
    BEGIN UPDATE meta SET value = value + NEW.size WHERE key = 'bytes'; END;
CREATE TRIGGER IF NOT EXISTS outbox_bytes_del AFTER DELETE ON outbox
    BEGIN UPDATE meta SET value = value - OLD.size WHERE key = 'bytes'; END;
"""


@dataclass(frozen=True)
class PendingEvent:
    event: Event
    payload: bytes
    has_attachment: bool  # e.g. a JPEG snapshot, sent after the event is acked (next_snapshot)


@dataclass(frozen=True)
class WaitingSnapshot:
    event_id: str
    seq: int
    jpeg: bytes


class Outbox:
    """Events waiting for the hub's ack, in seq order, within a disk budget."""

    def __init__(self, path: Path, device_id: str, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.path = path
        self.device_id = device_id
        self.max_bytes = max_bytes
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # durable at commit, even on power loss
        db.executescript(_SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
        if "acked" not in columns:  # an outbox written before issue 17 item 3
            db.execute("ALTER TABLE outbox ADD COLUMN acked INTEGER NOT NULL DEFAULT 0")
        # the alarms and the pictures are looked up on every send round: without a scan of the backlog
        db.execute("CREATE INDEX IF NOT EXISTS outbox_kind ON outbox (kind, acked, seq)")
        db.execute("CREATE INDEX IF NOT EXISTS outbox_acked ON outbox (acked, seq)")
        # Bytes held, kept by triggers so the budget check is O(1); recomputed at every open.
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('bytes', (SELECT COALESCE(SUM(size), 0) FROM outbox))"
        )
        self._db = db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def is_open(self) -> bool:
        return self._db is not None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("outbox is not open")
        return self._db

    def add(
        self,
        kind: EventKind,
        data: dict[str, Any] | None = None,
        *,
        test: bool = False,
        ts: datetime | None = None,
        attachment: bytes | None = None,
        before_commit: Callable[[Event, bytes], None] | None = None,
    ) -> Event:
        """Create the next event (new id, next seq) and store it durably in one transaction.

        `before_commit(event, payload)` runs once the event is written, before the COMMIT's fsync:
        the agent sends a panic's alarm copy there, so the network and the disk work at the same
        time. The event is still only forgotten after the hub's ack, which the agent handles after
        this returns; a COMMIT that fails raises as before (a copy may have left: the hub keeps it)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            (last_seq,) = db.execute("SELECT value FROM meta WHERE key='last_seq'").fetchone()
            event = Event(
                id=new_event_id(),
                device=self.device_id,
                seq=last_seq + 1,
                kind=kind,
                ts=ts or utc_now(),
                data=data or {},
                test=test,
            )
            payload = event.to_payload()
            size = len(payload) + len(attachment or b"")
            db.execute(
                "INSERT INTO outbox (seq, id, kind, payload, attachment, size) VALUES (?, ?, ?, ?, ?, ?)",
                (event.seq, event.id, event.kind.value, payload, attachment, size),
            )
            db.execute("UPDATE meta SET value=? WHERE key='last_seq'", (event.seq,))
            self._enforce_budget(db)
            if before_commit is not None:
                before_commit(event, payload)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return event

    def _enforce_budget(self, db: sqlite3.Connection) -> None:
        """Drop while over budget: first pictures whose event the hub has, then the oldest low-priority
        events; panic and tamper never go."""
        total = self.bytes_held()
        if total <= self.max_bytes:
            return
        while total > self.max_bytes:
            row = db.execute("SELECT seq, size FROM outbox WHERE acked=1 ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                break
            db.execute("DELETE FROM outbox WHERE seq=?", (row[0],))
            db.execute("UPDATE meta SET value=value+1 WHERE key='dropped_snapshots'")
            total -= row[1]
        for kind in DROP_ORDER:
            while total > self.max_bytes:
                row = db.execute(
                    "SELECT seq, size FROM outbox WHERE kind=? ORDER BY seq LIMIT 1", (kind.value,)
                ).fetchone()
                if row is None:
                    break
                db.execute("DELETE FROM outbox WHERE seq=?", (row[0],))
                db.execute("UPDATE meta SET value=value+1 WHERE key='dropped'")
                total -= row[1]

    def pending(self, limit: int = 100, after_seq: int = 0) -> list[PendingEvent]:
        """Events not yet acked, in seq order, after `after_seq`."""
        rows = self.db.execute(
            "SELECT payload, attachment IS NOT NULL FROM outbox WHERE acked=0 AND seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [PendingEvent(Event.model_validate_json(p), bytes(p), bool(a)) for p, a in rows]

    def pending_alarms(self, limit: int = 50) -> list[PendingEvent]:
        """Panic and tamper events not yet acked, in seq order: they are sent before anything else."""
        rows = self.db.execute(
            "SELECT payload, attachment IS NOT NULL FROM outbox WHERE acked=0 AND kind IN (?, ?) ORDER BY seq LIMIT ?",
            (EventKind.PANIC.value, EventKind.TAMPER.value, limit),
        ).fetchall()
        return [PendingEvent(Event.model_validate_json(p), bytes(p), bool(a)) for p, a in rows]

    def remove(self, ids: list[str]) -> int:
        """Forget acked events (an event's picture stays until `snapshot_sent`); returns how many were still here."""
        if not ids:
            return 0
        db = self.db
        db.execute("BEGIN IMMEDIATE")  # one transaction (one fsync) per ack, not one per id
        try:
            keys = [(i,) for i in ids]
            deleted = db.executemany("DELETE FROM outbox WHERE id=? AND attachment IS NULL", keys).rowcount
            kept = db.executemany(
                "UPDATE outbox SET acked=1 WHERE id=? AND acked=0 AND attachment IS NOT NULL",
                keys,
            ).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return deleted + kept

    def next_snapshot(self) -> WaitingSnapshot | None:
        """The oldest picture whose event the hub has acked (so the hub stores it at once)."""
        row = self.db.execute("SELECT id, seq, attachment FROM outbox WHERE acked=1 ORDER BY seq LIMIT 1").fetchone()
        return WaitingSnapshot(row[0], row[1], bytes(row[2])) if row is not None else None

    def snapshot_sent(self, event_id: str) -> None:
        """The picture of `event_id` has left (the broker PUBACKed its last part): forget it."""
        self.db.execute("DELETE FROM outbox WHERE id=? AND acked=1", (event_id,))

    def snapshots_waiting(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM outbox WHERE acked=1").fetchone()[0])

    def stats(self) -> dict[str, int]:
        """Depth, drops and last seq, e.g. for health telemetry."""
        return {"depth": self.depth(), "dropped": self.dropped(), "last_seq": self.last_seq()}

    def bytes_held(self) -> int:
        return self._meta("bytes")

    def depth(self) -> int:
        """Events not yet acked (pictures waiting after their event's ack are `snapshots_waiting`)."""
        return int(self.db.execute("SELECT COUNT(*) FROM outbox WHERE acked=0").fetchone()[0])

    def has_pending(self, kind: EventKind) -> bool:
        row = self.db.execute("SELECT 1 FROM outbox WHERE acked=0 AND kind=? LIMIT 1", (kind.value,)).fetchone()
        return row is not None

    def dropped(self) -> int:
        return self._meta("dropped")

    def dropped_pictures(self) -> int:
        """Pictures dropped (their events already at the hub) to keep within the disk budget."""
        return self._meta("dropped_snapshots")

    def last_seq(self) -> int:
        return self._meta("last_seq")

    def _meta(self, key: str) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()[0])
