"""Event store: a small interface, and its TinyDB implementation (partitioned, crash-safe).

TinyDB rewrites its whole file on every write and overwrites in place. So this store keeps
one file per UTC hour of receipt, split further into chunks of at most `max_records` events
(no write rewrites history, and a commit costs O(chunk), not O(day)); it writes each file
atomically (kamling.durable: temp file, fsync, rename, fsync of the folder) and expects one
writer that batches. A damaged partition found at open (zero-length, truncated, records
without id) is set aside (renamed, never deleted) and reported in `damaged`; the rest loads
(hub.storage.files). Partition keys sort in commit order, so `scan()` returns events as committed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from tinydb import TinyDB

from hub.storage.files import DamagedFile, open_tinydb, report_damage
from kamling import durable

Record = dict[str, Any]
"""A stored event: the wire Event's JSON fields plus `received_at` (hub clock, ISO-8601)."""


@dataclass(frozen=True)
class EventQuery:
    device: str | None = None
    kind: str | None = None
    since: datetime | None = None  # on the event's `ts`
    until: datetime | None = None
    include_tests: bool = True
    limit: int = 100
    offset: int = 0
    cursor: str | None = None  # keyset: continue after this page's last item (SQL store), instead of offset
    devices: frozenset[str] | None = None  # a village scope (hub/web/scope.py): only these; None: any


@dataclass(frozen=True)
class Page:
    items: list[Record]
    total: int  # matches, counted up to a cap where counting everything would be slow (total_capped)
    next_cursor: str | None = None
    total_capped: bool = False


class EventStore(Protocol):
    """What the hub needs from an event log; a PostgreSQL backend can implement it later."""

    def open(self) -> None: ...
    def close(self) -> None: ...
    def append(self, records: Sequence[Record]) -> list[Record]:
        """Store durably; return the records actually added (ids already stored are skipped)."""
        ...

    def contains(self, event_id: str) -> bool: ...
    def get(self, event_id: str) -> Record | None: ...
    def query(self, query: EventQuery) -> Page: ...
    def last_seqs(self) -> dict[str, int]: ...


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Deprecated name of kamling.durable.atomic_write, kept while code written before it is moved over."""
    durable.atomic_write(path, data)


@dataclass
class _Partition:
    path: Path
    db: TinyDB


@dataclass
class TinyEventStore:
    """Events in `<root>/events-*.json`: one TinyDB file per UTC hour of receipt, in chunks of max_records."""

    root: Path
    damaged: list[str] = field(default_factory=list)
    _ids: dict[str, str] = field(default_factory=dict)  # event id -> partition key
    _last_seq: dict[str, int] = field(default_factory=dict)
    _partitions: dict[str, _Partition] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    max_records: int = 1000
    """Events per partition file before a new chunk starts (bounds the cost of one commit)."""
    _counts: dict[str, int] = field(default_factory=dict)  # partition key -> records
    _current: dict[str, str] = field(default_factory=dict)  # hour -> partition key being filled

    PREFIX = "events-"

    def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.glob(f".{self.PREFIX}*.tmp"):
            stale.unlink()  # an interrupted atomic write: the real file is intact
        for path in sorted(self.root.glob(f"{self.PREFIX}*.json")):
            key = path.stem[len(self.PREFIX) :]
            try:
                partition = self._load(key)
            except (DamagedFile, OSError) as exc:
                self._set_aside(path, exc)
                continue
            try:
                records = partition.db.all()
                for record in records:
                    _check_record(record)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                partition.db.close()
                self._partitions.pop(key, None)
                self._set_aside(path, exc)
                continue
            for record in records:
                self._remember(record, key)
            self._counts[key] = len(records)
            hour = key.split(".")[0]
            if key >= self._current.get(hour, ""):
                self._current[hour] = key

    def _partition_for(self, received_at: str) -> str:
        """The partition that takes the next record received at `received_at` (ISO-8601)."""
        hour = received_at[:13]
        key = self._current.get(hour)
        if key is None:
            key = f"{hour}.000"
        elif self._counts.get(key, 0) >= self.max_records:
            chunk = int(key.rsplit(".", 1)[1]) + 1 if "." in key else 0
            key = f"{hour}.{chunk:03d}"
        self._current[hour] = key
        return key

    def _set_aside(self, path: Path, exc: Exception) -> None:
        report_damage(path, exc, self.damaged, "event store")

    def _load(self, key: str) -> _Partition:
        partition = self._partitions.get(key)
        if partition is None:
            path = self.root / f"{self.PREFIX}{key}.json"
            db = open_tinydb(path)
            db.storage.read()  # parse now, so damage is found here
            partition = _Partition(path, db)
            self._partitions[key] = partition
        return partition

    def _remember(self, record: Record, key: str) -> None:
        self._ids[record["id"]] = key
        device, seq = record["device"], int(record["seq"])
        if seq > self._last_seq.get(device, 0):
            self._last_seq[device] = seq

    def close(self) -> None:
        with self._lock:
            for partition in self._partitions.values():
                partition.db.close()
            self._partitions.clear()

    def append(self, records: Sequence[Record]) -> list[Record]:
        with self._lock:
            fresh: dict[str, list[Record]] = {}
            seen: set[str] = set()
            for record in records:
                if record["id"] in self._ids or record["id"] in seen:
                    continue
                seen.add(record["id"])
                key = self._partition_for(str(record["received_at"]))
                fresh.setdefault(key, []).append(record)
                self._counts[key] = self._counts.get(key, 0) + 1
            added: list[Record] = []
            try:
                for key, batch in fresh.items():
                    self._load(key).db.insert_multiple(batch)  # one atomic file write per partition
                    for record in batch:
                        self._remember(record, key)
                    added.extend(batch)
            except BaseException:
                self._recount()
                raise
            return added

    def _recount(self) -> None:
        """After a failed write: counts from what the partitions really hold."""
        for key in list(self._counts):
            partition = self._partitions.get(key)
            self._counts[key] = len(partition.db.all()) if partition is not None and partition.path.exists() else 0

    def scan(self) -> list[Record]:
        """Every stored event in commit order (oldest partition first, insertion order within)."""
        with self._lock:
            return [dict(r) for key in sorted(self._partitions_on_disk()) for r in self._load(key).db.all()]

    def contains(self, event_id: str) -> bool:
        return event_id in self._ids

    def get(self, event_id: str) -> Record | None:
        with self._lock:
            key = self._ids.get(event_id)
            if key is None:
                return None
            for record in self._load(key).db.all():
                if record["id"] == event_id:
                    return dict(record)
            return None

    def last_seqs(self) -> dict[str, int]:
        return dict(self._last_seq)

    def query(self, query: EventQuery) -> Page:
        with self._lock:
            matches: list[Record] = []
            for key in sorted(self._partitions_on_disk(), reverse=True):
                for record in self._load(key).db.all():
                    if _matches(record, query):
                        matches.append(dict(record))
        matches.sort(key=_newest_first, reverse=True)
        return Page(matches[query.offset : query.offset + query.limit], len(matches))

    def _partitions_on_disk(self) -> set[str]:
        keys = {p.stem[len(self.PREFIX) :] for p in self.root.glob(f"{self.PREFIX}*.json")}
        return keys | set(self._partitions)


def _check_record(record: Any) -> None:
    """A stored event needs at least an id, a device and an integer seq."""
    if not isinstance(record.get("id"), str) or not isinstance(record.get("device"), str):
        raise ValueError("record without id or device")
    int(record["seq"])


def _newest_first(record: Record) -> tuple[str, str]:
    """(ts, id) as text: a stored record whose ts is missing or not text still sorts (issue 18:
    one bad row must not fail every query of the log)."""
    ts, event_id = record.get("ts"), record.get("id")
    return (ts if isinstance(ts, str) else "", event_id if isinstance(event_id, str) else "")


def _stored_time(value: Any) -> datetime | None:
    """A stored ts as an aware datetime (no zone: UTC, as the hub writes); None when it is none."""
    try:
        moment = datetime.fromisoformat(value)
        return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _matches(record: Record, query: EventQuery) -> bool:
    if query.device and record.get("device") != query.device:
        return False
    if query.devices is not None and record.get("device") not in query.devices:
        return False
    if query.kind and record.get("kind") != query.kind:
        return False
    if not query.include_tests and record.get("test"):
        return False
    if query.since or query.until:
        ts = _stored_time(record.get("ts"))
        if ts is None:  # no time it could be in a window of
            return False
        if query.since and ts < query.since:
            return False
        if query.until and ts >= query.until:
            return False
    return True
