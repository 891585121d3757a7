"""The event log in SQL: append with de-duplication by id, newest-first pages with a keyset cursor.

Nothing here keeps history in memory: the id index is the table's primary key (a small LRU of
recent ids answers the common case, a post resending what it sent a moment ago), each post's
highest seq lives in `post_seqs`, and a page is one indexed range scan whatever the history's size.
The log is ordered by the hub's receive time (`received_at`, then id): a post's clock may be wrong
or hostile, the hub's is not. `since`/`until` filter on the post's time (`ts`), as before.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hub.storage.events import EventQuery, Page, Record
from hub.storage.sql.database import Cursor, Database, StoreUnavailable
from hub.storage.sql.migrate import migrate

log = logging.getLogger(__name__)

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
EARLIEST = "0001-01-01T00:00:00.000000Z"
LATEST = "9999-12-31T23:59:59.999999Z"
COUNT_CAP = 10_000
"""A page's `total` counts at most this many matches (an exact count of millions costs seconds)."""
RECENT_IDS = 100_000

_COLUMNS = "id, device, seq, kind, ts, received_at, test, record"


_CANONICAL = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}(Z|\+00:00)"
)
"""UTC with microseconds, as pydantic writes an event's `ts` and the hub its `received_at` (the fast path)."""


def sortable_time(value: Any) -> str:
    """UTC, fixed-width ISO text (text order = time order); out-of-range or unreadable times are clamped."""
    if isinstance(value, str) and _CANONICAL.fullmatch(value):  # already UTC: only the suffix differs
        return value[:26] + "Z"
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime(TIME_FORMAT)
    except (OverflowError, ValueError):
        text = str(value)
        return EARLIEST if text[:1] in ("0", "-") else LATEST


_ROW_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""The stored record's JSON text; built once (json.dumps with options builds an encoder per call)."""


def encode_cursor(received_at: str, event_id: str) -> str:
    return base64.urlsafe_b64encode(f"{received_at}|{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """(received_at, id) of the last item of the previous page; ValueError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        received_at, event_id = raw.split("|", 1)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("invalid cursor") from exc
    if len(received_at) != len(EARLIEST) or not event_id:
        raise ValueError("invalid cursor")
    return received_at, event_id


MAX_DEVICE_BRANCHES = 64
"""A scoped page over more devices than this uses one `device IN (...)` query (SQLite allows 500
compound SELECTs); a village's posts are far fewer."""


class SqlEventStore:
    """EventStore on a Database (SQLite or PostgreSQL)."""

    def __init__(self, database: Database, recent_ids: int = RECENT_IDS) -> None:
        self.database = database
        self.recent_ids = recent_ids
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self.damaged: list[str] = []  # file-level damage is an error at open (StoreDamaged), not a list
        self._ready = False
        self.unavailable: str | None = None  # why the database cannot be reached now (shown in /api/health)

    def open(self) -> None:
        """Apply migrations. A database that is away does not stop the hub: the first commit retries."""
        try:
            self._ensure_ready()
        except StoreUnavailable as exc:
            log.error("event store: %s; the hub runs on, pages from memory and acks nothing until it returns", exc)

    def _ensure_ready(self) -> None:
        if not self._ready:
            self._tracked(lambda: migrate(self.database))
            self._ready = True

    def _tracked(self, action: Any) -> Any:
        """Run `action`, keeping `unavailable` up to date for /api/health."""
        try:
            result = action()
        except StoreUnavailable as exc:
            self.unavailable = str(exc)
            raise
        self.unavailable = None
        return result

    def close(self) -> None:
        self.database.close()

    # writing ---------------------------------------------------------------------------------
    def append(self, records: Sequence[Record]) -> list[Record]:
        unique: dict[str, Record] = {}
        for record in records:
            unique.setdefault(str(record["id"]), record)
        if not unique:
            return []
        rows = [self._row(record) for record in unique.values()]  # a record that cannot be a row fails here
        self._ensure_ready()
        return self._tracked(lambda: self._insert(unique, rows))

    def _insert(self, unique: dict[str, Record], rows: list[tuple[Any, ...]]) -> list[Record]:
        with self.database.transaction() as cursor:
            present = self._present(cursor, list(unique))
            fresh = [row for row in rows if row[0] not in present]
            cursor.executemany(
                f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING", fresh
            )
            seqs: dict[str, int] = {}
            for row in fresh:
                seqs[row[1]] = max(seqs.get(row[1], row[2]), row[2])
            cursor.executemany(
                "INSERT INTO post_seqs (device, last_seq) VALUES (?, ?) ON CONFLICT (device) DO UPDATE "
                "SET last_seq = CASE WHEN excluded.last_seq > post_seqs.last_seq THEN excluded.last_seq "
                "ELSE post_seqs.last_seq END",
                sorted(seqs.items()),
            )
        added_ids = {row[0] for row in fresh}
        self._remember(added_ids | present)
        return [record for event_id, record in unique.items() if event_id in added_ids]

    @staticmethod
    def _row(record: Record) -> tuple[Any, ...]:
        seq = record["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise TypeError(f"event {record.get('id')!r}: seq must be an integer")
        return (
            str(record["id"]),
            str(record["device"]),
            seq,
            str(record["kind"]),
            sortable_time(record.get("ts")),
            sortable_time(record["received_at"]),
            1 if record.get("test") else 0,
            _ROW_JSON.encode(record),
        )

    def _present(self, cursor: Cursor, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found.update(
                row[0] for row in cursor.execute(f"SELECT id FROM events WHERE id IN ({marks})", chunk).fetchall()
            )
        return found

    def _remember(self, ids: set[str]) -> None:
        with self._lock:
            for event_id in ids:
                self._recent[event_id] = None
                self._recent.move_to_end(event_id)
            while len(self._recent) > self.recent_ids:
                self._recent.popitem(last=False)

    # reading ---------------------------------------------------------------------------------
    def contains(self, event_id: str) -> bool:
        """Whether `event_id` is stored; False while the database is away (the insert then skips a
        duplicate by its primary key, and the alert path has its own memory of recent ids)."""
        with self._lock:
            if event_id in self._recent:
                return True
        try:
            return bool(self._tracked(lambda: self.database.query("SELECT 1 FROM events WHERE id = ?", (event_id,))))
        except StoreUnavailable:
            return False

    def stored_among(self, event_ids: Collection[str]) -> set[str]:
        """Which of `event_ids` are stored: one indexed read for many ids (ingest looks up a whole drain
        of its queue at once). StoreUnavailable while the database is away."""
        with self._lock:
            found = {event_id for event_id in event_ids if event_id in self._recent}
        rest = [event_id for event_id in event_ids if event_id not in found]
        if rest:
            found |= self._tracked(lambda: self._present_now(rest))
        return found

    def _present_now(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found.update(
                str(row[0]) for row in self.database.query(f"SELECT id FROM events WHERE id IN ({marks})", chunk)
            )
        return found

    def get(self, event_id: str) -> Record | None:
        rows = self.database.query("SELECT record FROM events WHERE id = ?", (event_id,))
        return _record(rows[0][0]) if rows else None

    def last_seqs(self) -> dict[str, int]:
        """Each post's highest stored seq; empty while the database is away (gap counting starts fresh)."""
        try:
            rows = self._tracked(lambda: self.database.query("SELECT device, last_seq FROM post_seqs"))
        except StoreUnavailable:
            return {}
        return {str(device): int(seq) for device, seq in rows}

    def query(self, query: EventQuery) -> Page:
        where, params = _filters(query)
        keyset = ""
        keyset_params: list[Any] = []
        cursor = getattr(query, "cursor", None)
        if cursor:
            received_at, event_id = decode_cursor(cursor)
            keyset = " AND (received_at < ? OR (received_at = ? AND id < ?))"
            keyset_params = [received_at, received_at, event_id]
        offset = 0 if cursor else query.offset
        devices = getattr(query, "devices", None)
        if devices is not None and 1 < len(devices) <= MAX_DEVICE_BRANCHES and not query.device:
            rows = self._page_per_device(query, sorted(devices), keyset, keyset_params, offset)
        else:
            rows = self.database.query(
                f"SELECT received_at, id, record FROM events WHERE {where}{keyset} "
                "ORDER BY received_at DESC, id DESC LIMIT ? OFFSET ?",
                [*params, *keyset_params, query.limit + 1, offset],
            )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        counted = self.database.query(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE {where} LIMIT ?) AS m", [*params, COUNT_CAP + 1]
        )
        total = int(counted[0][0])
        next_cursor = encode_cursor(rows[-1][0], rows[-1][1]) if more and rows else None
        return Page(
            [_record(row[2]) for row in rows],
            min(total, COUNT_CAP),
            next_cursor=next_cursor,
            total_capped=total > COUNT_CAP,
        )

    def _page_per_device(
        self, query: EventQuery, devices: list[str], keyset: str, keyset_params: list[Any], offset: int
    ) -> list[Any]:
        """A page over several devices (a village scope) as the newest rows of each device, merged.

        `device IN (...) ORDER BY received_at` makes both engines collect every matching row past the
        cursor and sort them (SQLite: a multi-index OR and a temp B-tree), a cost that grows with the
        log. Each device's own newest rows come in order from `events_device_received`, so the page
        reads at most `len(devices) * (limit + 1 + offset)` rows whatever the log's size."""
        where, params = _filters(replace(query, devices=None))
        take = query.limit + 1 + offset
        branch = (
            f"SELECT received_at, id, record FROM events WHERE {where} AND device = ?{keyset} "
            "ORDER BY received_at DESC, id DESC LIMIT ?"
        )
        union = " UNION ALL ".join(f"SELECT * FROM ({branch}) AS d{n}" for n in range(len(devices)))
        branch_params = [value for device in devices for value in (*params, device, *keyset_params, take)]
        return self.database.query(
            f"SELECT received_at, id, record FROM ({union}) AS page ORDER BY received_at DESC, id DESC LIMIT ? OFFSET ?",
            [*branch_params, query.limit + 1, offset],
        )

    def scan(self, batch: int = 5_000) -> Iterator[Record]:
        """Every stored event, oldest first (export, checks), read in batches of `batch`."""
        last: tuple[str, str] = ("", "")
        while True:
            rows = self.database.query(
                "SELECT received_at, id, record FROM events WHERE (received_at > ? OR (received_at = ? AND id > ?)) "
                "ORDER BY received_at, id LIMIT ?",
                (last[0], last[0], last[1], batch),
            )
            if not rows:
                return
            for row in rows:
                yield _record(row[2])
            last = (rows[-1][0], rows[-1][1])

    def count(self) -> int:
        return int(self.database.query("SELECT COUNT(*) FROM events")[0][0])


def _record(text: str) -> Record:
    value: Record = json.loads(text)
    return value


def devices_clause(devices: frozenset[str], column: str = "device") -> str:
    """`device IN (?, ...)` for a village scope's devices (params: `sorted(devices)`); none matches no row."""
    return f"{column} IN ({', '.join('?' * len(devices))})" if devices else "1 = 0"


def _filters(query: EventQuery) -> tuple[str, list[Any]]:
    clauses, params = ["1 = 1"], []
    if query.device:
        clauses.append("device = ?")
        params.append(query.device)
    devices = getattr(query, "devices", None)
    if devices is not None:
        clauses.append(devices_clause(devices))
        params.extend(sorted(devices))
    if query.kind:
        clauses.append("kind = ?")
        params.append(query.kind)
    if not query.include_tests:
        clauses.append("test = 0")
    if query.since:
        clauses.append("ts >= ?")
        params.append(sortable_time(query.since))
    if query.until:
        clauses.append("ts < ?")
        params.append(sortable_time(query.until))
    return " AND ".join(clauses), params
