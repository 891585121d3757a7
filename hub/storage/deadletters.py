"""Dead letters: messages the hub could not process, kept for an admin instead of stalling ingest.

A message that passed validation but failed later (serialising, storing, any bug) is written
here and then PUBACKed, so one poisoned message never holds the broker's in-flight window.

Storage: SQLite (WAL, `synchronous=FULL`: a dead letter is on disk before its message is
acknowledged), bounded to `max_rows` letters; past that the oldest go first (`evicted` counts
them). Each letter keeps the raw payload up to `max_payload` bytes (UTF-8 text, else base64),
the topic, the sender device, the event id when the payload decoded, the reason, the exception
class and message (bounded), and the time. A letter is keyed by its event id, else by the
SHA-256 of topic and payload: a resend of the same poison is counted (`resends`), not stored
again. Resend counts live in memory and reach the disk with the next letter and at close.
When the disk refuses a letter, it is kept in memory (`durable: false`) and ingest goes on.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kamling.protocol import utc_now

log = logging.getLogger(__name__)

MAX_ROWS = 10_000
MAX_PAYLOAD = 16 * 1024  # the largest valid event is 16 KiB; a snapshot's first 16 KiB is enough to look at
MAX_TEXT = 500  # exception messages, topics, reasons: bounded
MEMORY_FALLBACK = 1000  # letters kept in memory while the disk refuses them

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    device TEXT,
    topic TEXT NOT NULL,
    event_id TEXT,
    reason TEXT NOT NULL,
    error_class TEXT NOT NULL,
    error TEXT NOT NULL,
    payload TEXT NOT NULL,
    payload_encoding TEXT NOT NULL,
    payload_size INTEGER NOT NULL,
    payload_truncated INTEGER NOT NULL,
    resends INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message, as stored and as the admin API shows it."""

    key: str
    at: str  # ISO-8601, hub clock
    device: str | None
    topic: str
    event_id: str | None
    reason: str
    error_class: str
    error: str
    payload: str  # UTF-8 text, or base64 when `payload_encoding` is "base64"
    payload_encoding: str
    payload_size: int  # bytes received
    payload_truncated: bool  # only the first `max_payload` bytes are kept
    resends: int = 0
    durable: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def letter_key(topic: str, payload: bytes, event_id: str | None) -> str:
    """An event's id names its letter; anything else is named by what was received."""
    if event_id:
        return f"event:{event_id}"
    digest = hashlib.sha256(topic.encode("utf-8", "replace") + b"\0" + payload).hexdigest()
    return f"sha256:{digest}"


def encode_payload(payload: bytes, limit: int) -> tuple[str, str, bool]:
    """(text, encoding, truncated): UTF-8 text when it is valid UTF-8, else base64; at most `limit` bytes."""
    kept = payload[:limit]
    truncated = len(payload) > limit
    text: str | None = None
    for trim in range(4 if truncated else 1):  # the cut may split a character of up to 4 bytes
        try:
            text = kept[: len(kept) - trim].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        return base64.b64encode(kept).decode("ascii"), "base64", truncated
    if "\x00" in text:  # text with NUL bytes is binary in disguise
        return base64.b64encode(kept).decode("ascii"), "base64", truncated
    return text, "utf-8", truncated


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class DeadLetterStore:
    """Bounded, durable dead letters; thread-safe (ingest and the log writer write, the web reads)."""

    def __init__(
        self,
        path: Path | None,
        max_rows: int = MAX_ROWS,
        max_payload: int = MAX_PAYLOAD,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = path
        self.max_rows = max_rows
        self.max_payload = max_payload
        self.clock = clock
        self.evicted = 0  # letters dropped to stay within max_rows (oldest first)
        self.write_failures = 0
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._keys: set[str] = set()
        self._count = 0
        self._resends: dict[str, int] = {}  # key -> resends not yet written
        self._memory: deque[DeadLetter] = deque(maxlen=MEMORY_FALLBACK)

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        target = str(self.path) if self.path is not None else ":memory:"  # None: in memory (tests, embedding)
        db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        with self._lock:
            self._db = db
            self._keys = {row[0] for row in db.execute("SELECT key FROM dead_letters")}
            self._count = len(self._keys)
            row = db.execute("SELECT value FROM meta WHERE name='evicted'").fetchone()
            self.evicted = int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            if self._db is None:
                return
            try:
                self._flush_resends()
            except sqlite3.Error:
                log.exception("dead letters: could not save resend counts")
            self._db.close()
            self._db = None

    # -- writes -------------------------------------------------------------------------------
    def known(self, key: str) -> bool:
        with self._lock:
            return key in self._keys or (bool(self._memory) and any(m.key == key for m in self._memory))

    def resent(self, key: str) -> None:
        """Another copy of a dead-lettered message arrived: counted, not stored again."""
        with self._lock:
            self._resends[key] = self._resends.get(key, 0) + 1

    def add(
        self,
        *,
        topic: str,
        payload: bytes,
        device: str | None,
        event_id: str | None,
        reason: str,
        error: BaseException,
    ) -> DeadLetter | None:
        """Store a letter; None when this message is already a dead letter (then it counts as a resend).
        Never raises for a disk error: the letter is then kept in memory and `write_failures` counts it."""
        key = letter_key(topic, payload, event_id)
        text, encoding, truncated = encode_payload(payload, self.max_payload)
        letter = DeadLetter(
            key=key,
            at=self.clock().isoformat(),
            device=device,
            topic=_clip(topic, 300),
            event_id=event_id,
            reason=_clip(reason, 100),
            error_class=_clip(f"{type(error).__module__}.{type(error).__qualname__}", 200),
            error=_clip(str(error)),
            payload=text,
            payload_encoding=encoding,
            payload_size=len(payload),
            payload_truncated=truncated,
        )
        with self._lock:
            if key in self._keys or any(m.key == key for m in self._memory):
                self._resends[key] = self._resends.get(key, 0) + 1
                return None
            try:
                self._insert(letter)
            except (sqlite3.Error, OSError) as exc:
                self.write_failures += 1
                log.error("dead letters: could not write %s to disk (%s); kept in memory only", key, exc)
                kept = DeadLetter(**{**asdict(letter), "durable": False})
                self._memory.append(kept)
                return kept
            self._keys.add(key)
        return letter

    def _insert(self, letter: DeadLetter) -> None:
        db = self._require()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO dead_letters (key, at, device, topic, event_id, reason, error_class, error, payload,"
                " payload_encoding, payload_size, payload_truncated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    letter.key,
                    letter.at,
                    letter.device,
                    letter.topic,
                    letter.event_id,
                    letter.reason,
                    letter.error_class,
                    letter.error,
                    letter.payload,
                    letter.payload_encoding,
                    letter.payload_size,
                    int(letter.payload_truncated),
                ),
            )
            over = self._count + 1 - self.max_rows
            dropped: list[str] = []
            if over > 0:  # policy: keep the newest max_rows letters
                dropped = [r[0] for r in db.execute("SELECT key FROM dead_letters ORDER BY seq LIMIT ?", (over,))]
                db.execute(
                    "DELETE FROM dead_letters WHERE seq IN (SELECT seq FROM dead_letters ORDER BY seq LIMIT ?)", (over,)
                )
                db.execute(
                    "INSERT INTO meta (name, value) VALUES ('evicted', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                    (len(dropped),),
                )
            self._write_resends(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._resends = {k: v for k, v in self._resends.items() if k not in self._keys}  # in-memory letters keep theirs
        self._count += 1 - len(dropped)
        self.evicted += len(dropped)
        self._keys.difference_update(dropped)

    def _write_resends(self, db: sqlite3.Connection) -> None:
        for key, count in self._resends.items():
            db.execute("UPDATE dead_letters SET resends = resends + ? WHERE key = ?", (count, key))

    def _flush_resends(self) -> None:
        if not self._resends:
            return
        db = self._require()
        db.execute("BEGIN IMMEDIATE")
        self._write_resends(db)
        db.execute("COMMIT")
        self._resends.clear()

    def _require(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.ProgrammingError("dead letter store is not open")
        return self._db

    # -- reads --------------------------------------------------------------------------------
    def count(self) -> int:
        """Letters held (on disk and, when the disk refused some, in memory)."""
        with self._lock:
            return self._count + len(self._memory)

    def resends(self) -> int:
        """Copies of dead letters received and not stored again (since the store was created)."""
        with self._lock:
            stored = 0
            if self._db is not None:
                stored = self._db.execute("SELECT COALESCE(SUM(resends), 0) FROM dead_letters").fetchone()[0]
            return int(stored) + sum(self._resends.values()) + sum(m.resends for m in self._memory)

    def page(self, limit: int = 50, offset: int = 0) -> tuple[list[DeadLetter], int]:
        """Newest first: the letters kept only in memory, then those on disk."""
        with self._lock:
            memory = [replace_resends(m, self._resends.get(m.key, 0)) for m in reversed(self._memory)]
            total = self._count + len(memory)
            items = memory[offset : offset + limit]
            if len(items) < limit and self._db is not None:
                skip = max(0, offset - len(memory))
                rows = self._db.execute(
                    "SELECT key, at, device, topic, event_id, reason, error_class, error, payload, payload_encoding,"
                    " payload_size, payload_truncated, resends FROM dead_letters ORDER BY seq DESC LIMIT ? OFFSET ?",
                    (limit - len(items), skip),
                ).fetchall()
                for row in rows:
                    key, at, device, topic, event_id, reason, error_class, error, payload, encoding, size = row[:11]
                    items.append(
                        DeadLetter(
                            key,
                            at,
                            device,
                            topic,
                            event_id,
                            reason,
                            error_class,
                            error,
                            payload,
                            encoding,
                            int(size),
                            bool(row[11]),
                            int(row[12]) + self._resends.get(key, 0),
                        )
                    )
            return items, total


def replace_resends(letter: DeadLetter, extra: int) -> DeadLetter:
    return letter if not extra else DeadLetter(**{**asdict(letter), "resends": letter.resends + extra})
