"""Durable event outbox on the edge (SQLite, WAL, synchronous=FULL).

Every event is written here before it is sent and deleted only after the hub's ack, so a
power cut at any instant loses nothing. The per-device sequence number lives here too.
Use from one thread only (the agent's worker).
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
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', 0), ('dropped', 0);
CREATE TRIGGER IF NOT EXISTS outbox_bytes_add AFTER INSERT ON outbox
    BEGIN UPDATE meta SET value = value + NEW.size WHERE key = 'bytes'; END;
CREATE TRIGGER IF NOT EXISTS outbox_bytes_del AFTER DELETE ON outbox
    BEGIN UPDATE meta SET value = value - OLD.size WHERE key = 'bytes'; END;
"""


@dataclass(frozen=True)
class PendingEvent:
    event: Event
    payload: bytes
    attachment: bytes | None  # e.g. a JPEG snapshot that travels after the event


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
        """Drop the oldest low-priority events while over budget; panic and tamper never go."""
        total = self.bytes_held()
        if total <= self.max_bytes:
            return
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
        rows = self.db.execute(
            "SELECT payload, attachment FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        ).fetchall()
        return [PendingEvent(Event.model_validate_json(p), bytes(p), a) for p, a in rows]

    def remove(self, ids: list[str]) -> int:
        """Forget acked events; returns how many were still here."""
        if not ids:
            return 0
        db = self.db
        db.execute("BEGIN IMMEDIATE")  # one transaction (one fsync) per ack, not one per id
        try:
            cur = db.executemany("DELETE FROM outbox WHERE id=?", [(i,) for i in ids])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return cur.rowcount

    def stats(self) -> dict[str, int]:
        """Depth, drops and last seq, e.g. for health telemetry."""
        return {"depth": self.depth(), "dropped": self.dropped(), "last_seq": self.last_seq()}

    def bytes_held(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key='bytes'").fetchone()[0])

    def depth(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def has_pending(self, kind: EventKind) -> bool:
        return self.db.execute("SELECT 1 FROM outbox WHERE kind=? LIMIT 1", (kind.value,)).fetchone() is not None

    def dropped(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key='dropped'").fetchone()[0])

    def last_seq(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key='last_seq'").fetchone()[0])
