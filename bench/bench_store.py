"""The event log at scale: start, memory, query latency and durable appends, SQLite and PostgreSQL vs TinyDB.

    .venv/bin/python bench/bench_store.py [--sizes 100000,1000000,10000000] [--pg-sizes 100000,1000000]
        [--tiny 300000] [--fill-budget 600] [--samples 200] [--backends sqlite,postgresql,tinydb]

Each backend is filled once through the import path (`SqlEventStore.append` in batches of 1,000;
`TinyEventStore.append` for TinyDB) with a sector's history: 200 posts, ~10,000 events a day
(mostly motion, some check-ins, camera faults, tamper and panics), received times spread over
months or years. At each size of the curve (and when the fill budget runs out: the largest size
that fitted), a fresh child process measures what the hub would see:

- start: process spawn to a usable store (import, open + migrations, `last_seqs()`), and real
  hubs (HubService building its store from `database_url`, + web server, a Mosquitto broker
  running; --hub-starts of them) from spawn to `/api/health` answering, each with its phases;
- RSS of the process that opened the store, after start and after the queries;
- p50/p99 of the API's queries through the store: newest page, one post's newest page, panics
  of one day (kind + ts range), get by id, and a cursor walk (one post, 10 pages);
- durable appends (batches of 1 and of 100), interleaved batch by batch with a baseline of raw
  inserts (one table, primary key only, same engine, same durability) in the same process.

Prints JSON and writes bench/results/store.json. Times move with a shared machine's load: read ratios.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

SPAWNED = time.monotonic()  # a child's own clock starts as early as possible
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CpuSteal, emit, percentiles  # noqa: E402

POSTS = [f"pos-{n:03d}" for n in range(200)]
KINDS = (("motion", 0.905), ("checkin", 0.06), ("camera", 0.015), ("tamper", 0.01), ("panic", 0.01))
FILL_BATCH = 1_000
PAGE = 50
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# ---------------------------------------------------------------------------------------------
# the history
# ---------------------------------------------------------------------------------------------
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD.encode())


def ulid_at(ms: int, rand: random.Random) -> str:
    """A ULID for `ms` (the filler's hot path: base64's C encoder, re-lettered, instead of a Python loop)."""
    value = (ms << 80) | rand.getrandbits(80)  # 128 bits; a ULID is 26 letters of 5 bits: 130, two leading zeros
    return base64.b32encode((value << 6).to_bytes(17, "big"))[:26].translate(_TO_CROCKFORD).decode()


class History:
    """A deterministic sector history: event i is received at `start + i * spacing` (hub clock)."""

    def __init__(self, total: int, per_day: int, seed: int = 12) -> None:
        self.spacing = 86_400.0 / per_day
        self.end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        self.start = self.end - timedelta(seconds=total * self.spacing)
        self.rand = random.Random(seed)
        self.seqs = dict.fromkeys(POSTS, 0)
        self.made = 0
        self.sample_ids: list[str] = []
        weights = [w for _, w in KINDS]
        self._kinds = [k for k, _ in KINDS]
        self._cum = [sum(weights[: i + 1]) for i in range(len(weights))]
        self._pool = {kind: [self._data(kind, self.rand) for _ in range(256)] for kind in self._kinds}

    def moment(self, index: int) -> datetime:
        return self.start + timedelta(seconds=index * self.spacing)

    def records(self, count: int) -> list[dict[str, Any]]:
        out = []
        rand = self.rand
        for _ in range(count):
            received = self.moment(self.made) + timedelta(milliseconds=rand.randrange(1000))
            device = POSTS[rand.randrange(len(POSTS))]
            self.seqs[device] += 1
            roll = rand.random()
            kind = next((k for k, c in zip(self._kinds, self._cum, strict=True) if roll <= c), "motion")
            ts = received - timedelta(milliseconds=rand.randrange(50, 3000))
            event_id = ulid_at(int(ts.timestamp() * 1000), rand)
            out.append(
                {
                    "id": event_id,
                    "device": device,
                    "seq": self.seqs[device],
                    "kind": kind,
                    "ts": ts.isoformat().replace("+00:00", "Z"),
                    "data": rand.choice(self._pool[kind]),
                    "test": False,
                    "received_at": received.isoformat(),
                }
            )
            if self.made % 500 == 0:  # ids for get-by-id, spread over the whole history
                self.sample_ids.append(event_id)
            self.made += 1
        return out

    @staticmethod
    def _data(kind: str, rand: random.Random) -> dict[str, Any]:
        if kind == "motion":
            return {
                "camera": f"cam{rand.randrange(2)}",
                "score": round(rand.random(), 3),
                "area": round(rand.random() / 5, 4),
                "frames": rand.randrange(3, 60),
                "snapshot": True,
            }
        if kind == "checkin":
            return {
                "uptime_s": rand.randrange(10**6),
                "cpu_temp_c": round(40 + 30 * rand.random(), 1),
                "disk_free_mb": rand.randrange(500, 20000),
                "outbox_pending": 0,
                "cameras": {"cam0": {"fps": 5.0}},
            }
        if kind == "camera":
            return {"camera": "cam0", "state": rand.choice(["stalled", "recovered", "unreachable"])}
        if kind == "tamper":
            return {"reason": "enclosure_open"}
        return {"button": "main", "hold_ms": rand.randrange(80, 600)}


ALERT_RATIO = {"panic": 1.0, "tamper": 1.0, "camera": 2 / 3, "motion": 0.01}
"""Alerts per event of each kind: every panic and tamper, camera faults that are not a recovery,
one motion event in 100 (a night-time episode); ~4 alerts per 100 events, 4 timeline entries each."""


def alerts_for(records: list[dict[str, Any]], rand: random.Random, now: datetime) -> list[Any]:
    """The alerts the hub would have raised for these events: resolved ones, or open when recent (< 2 h)."""
    from hub.alerting.rules import Alert, AlertKind, Outcome, Severity, TimelineEntry
    from kamling.protocol import AlertState

    severity = {
        "panic": Severity.CRITICAL,
        "tamper": Severity.MAJOR,
        "camera": Severity.MINOR,
        "motion": Severity.WARNING,
    }
    out = []
    for record in records:
        kind = record["kind"]
        if kind == "camera" and record["data"].get("state") == "recovered":
            continue
        if rand.random() >= ALERT_RATIO.get(kind, 0.0):
            continue
        opened = datetime.fromisoformat(record["received_at"])
        notified = opened + timedelta(seconds=rand.uniform(0.2, 2))
        acked = notified + timedelta(seconds=rand.uniform(20, 300))
        resolved = acked + timedelta(minutes=rand.uniform(5, 60))
        timeline = [TimelineEntry(opened, "opened"), TimelineEntry(notified, "notified", "pager", "officer-1")]
        base = {
            "id": ulid_at(int(opened.timestamp() * 1000), rand),
            "device": record["device"],
            "kind": AlertKind(kind),
            "severity": severity[kind],
            "opened_at": opened,
            "event_ids": (record["id"],),
            "paged": ("officer-1",),
            "details": {"camera": record["data"]["camera"]} if "camera" in record["data"] else {},
        }
        if now - opened < timedelta(hours=2):
            out.append(Alert(**base, state=AlertState.NOTIFIED, updated_at=notified, timeline=tuple(timeline)))
            continue
        timeline += [
            TimelineEntry(acked, "acknowledged", "officer-1", "link"),
            TimelineEntry(resolved, "resolved", "operator-1", "false_alarm" if kind == "motion" else "real"),
        ]
        out.append(
            Alert(
                **base,
                state=AlertState.RESOLVED,
                updated_at=resolved,
                timeline=tuple(timeline),
                acknowledged_by="officer-1",
                acknowledged_at=acked,
                ack_channel="link",
                resolved_at=resolved,
                outcome=Outcome.FALSE_ALARM if kind == "motion" else Outcome.REAL,
            )
        )
    return out


class CopyFiller:
    """PostgreSQL only, the bench's fast fill: COPY into `events` and the `post_seqs` upsert, one
    transaction a batch (the rows are the store's own, `SqlEventStore._row`; no duplicate check:
    the history's ids are unique). The hub's import path is `SqlEventStore.append` (--fill-path import)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.connection = psycopg.connect(url)

    def append(self, records: list[dict[str, Any]]) -> None:
        from hub.storage.sql.events import SqlEventStore

        rows = [SqlEventStore._row(r) for r in records]
        seqs: dict[str, int] = {}
        for row in rows:
            seqs[row[1]] = max(seqs.get(row[1], row[2]), row[2])
        with self.connection.transaction(), self.connection.cursor() as cursor:
            with cursor.copy("COPY events (id, device, seq, kind, ts, received_at, test, record) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.executemany(
                "INSERT INTO post_seqs (device, last_seq) VALUES (%s, %s) ON CONFLICT (device) DO UPDATE "
                "SET last_seq = GREATEST(post_seqs.last_seq, excluded.last_seq)",
                sorted(seqs.items()),
            )

    def close(self) -> None:
        self.connection.close()


HASH = 4294967296


def mix(i: int) -> int:
    """The generator's hash of event number i (the same arithmetic as the SQL: 32-bit, xor-shift-multiply)."""
    h0 = (i * 2654435761) % HASH
    h1 = ((h0 ^ (h0 >> 16)) * 73244475) % HASH
    return h1 ^ (h1 >> 16)


def crock(value: int, chars: int) -> str:
    return "".join(CROCKFORD[(value >> (5 * (chars - 1 - j))) & 31] for j in range(chars))


class SqlFiller:
    """The bench's fastest fill: the history generated by the database itself (one INSERT ... SELECT
    per table a batch, no Python per row). Event i: post i % 200 (seq i // 200 + 1), received at
    start + i * spacing (+ < 1 s), its kind, offsets and id's tail from a 32-bit hash of i; the same
    mix of kinds and alerts as History/alerts_for. Ids are ULIDs (time of `ts`, then i, then the hash)."""

    def __init__(self, url: str, start_ms: int, spacing_ms: int, now_ms: int) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.start_ms, self.spacing_ms, self.now_ms = start_ms, spacing_ms, now_ms
        if self.sqlite:
            import sqlite3

            self.connection: Any = sqlite3.connect(url.split("///", 1)[1], isolation_level=None, timeout=60)
            self.connection.execute("PRAGMA synchronous=FULL")
        else:
            import psycopg

            self.connection = psycopg.connect(url, autocommit=True)

    # dialect pieces ----------------------------------------------------------------------------
    def _xor(self, a: str, b: str) -> str:
        return f"(({a}) | ({b})) - (({a}) & ({b}))"  # SQLite has no XOR operator

    def _crock(self, value: str, chars: int) -> str:
        cast = "" if self.sqlite else "::int"
        return " || ".join(
            f"substr('{CROCKFORD}', ((({value}) >> {5 * (chars - 1 - j)}) & 31){cast} + 1, 1)" for j in range(chars)
        )

    def _time(self, ms: str) -> str:
        if self.sqlite:
            return f"(strftime('%Y-%m-%dT%H:%M:%f', ({ms}) / 1000.0, 'unixepoch') || '000Z')"
        return f"(to_char(to_timestamp(({ms}) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || 'Z')"

    def _device(self) -> str:
        return "('pos-' || printf('%03d', i % 200))" if self.sqlite else "('pos-' || lpad((i % 200)::text, 3, '0'))"

    def _chain(self, lo: int, hi: int) -> str:
        if self.sqlite:
            numbers = f"n(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {hi})"
            head = "WITH RECURSIVE "
        else:
            numbers = f"n(i) AS (SELECT generate_series({lo}::bigint, {hi - 1}::bigint))"
            head = "WITH "
        h0 = f"((i * 2654435761) % {HASH})"
        h1 = f"((({self._xor('h0', 'h0 >> 16')}) * 73244475) % {HASH})"
        return (
            head
            + numbers
            + f", a AS (SELECT i, {h0} AS h0 FROM n)"
            + f", b AS (SELECT i, {h1} AS h1 FROM a)"
            + f", c AS MATERIALIZED (SELECT i, {self._xor('h1', 'h1 >> 16')} AS x FROM b)"
            + f", t AS (SELECT i, x, {self.start_ms} + i * {self.spacing_ms} + x % 1000 AS rec_ms, (x >> 12) % 1000 AS r FROM c)"
            + ", u AS MATERIALIZED (SELECT i, x, rec_ms, rec_ms - 50 - (x >> 20) % 2950 AS ts_ms, CASE WHEN r < 905 THEN 'motion' "
            "WHEN r < 965 THEN 'checkin' WHEN r < 980 THEN 'camera' WHEN r < 990 THEN 'tamper' ELSE 'panic' END AS kind FROM t)"
            + f", s AS (SELECT i, x, kind, rec_ms, {self._crock('ts_ms', 10)} || {self._crock('i', 8)} || {self._crock('x', 8)} AS id, "
            f"{self._device()} AS device, i / 200 + 1 AS seq, {self._time('ts_ms')} AS ts, {self._time('rec_ms')} AS rec, "
            f"{self._crock('rec_ms', 10)} || {self._crock('i', 8)} || {self._crock('x', 8)} AS aid, "
            f"CASE WHEN rec_ms > {self.now_ms - 7_200_000} THEN 1 ELSE 0 END AS open, "
            "rec_ms + 1000 AS notified_ms, rec_ms + 21000 + x % 280000 AS acked_ms, "
            "rec_ms + 321000 + x % 280000 + (x >> 8) % 3300000 AS resolved_ms FROM u)"
            " SELECT * FROM s"
        )

    def append_range(self, lo: int, hi: int) -> None:
        data = (
            "CASE kind WHEN 'motion' THEN '{\"camera\":\"cam' || (x % 2) || '\",\"score\":0.' || (x % 900 + 100) || "
            "',\"area\":0.0' || (x % 90 + 10) || ',\"frames\":' || (3 + x % 57) || ',\"snapshot\":true}' "
            "WHEN 'checkin' THEN '{\"uptime_s\":' || (x % 1000000) || ',\"cpu_temp_c\":' || (40 + x % 30) || "
            '\'.5,"disk_free_mb":\' || (500 + x % 19500) || \',"outbox_pending":0,"cameras":{"cam0":{"fps":5.0}}}\' '
            "WHEN 'camera' THEN '{\"camera\":\"cam0\",\"state\":\"' || CASE x % 3 WHEN 0 THEN 'stalled' WHEN 1 THEN 'recovered' "
            "ELSE 'unreachable' END || '\"}' WHEN 'tamper' THEN '{\"reason\":\"enclosure_open\"}' "
            'ELSE \'{"button":"main","hold_ms":\' || (80 + x % 520) || \'}\' END'
        )
        record = (
            '\'{"id":"\' || id || \'","device":"\' || device || \'","seq":\' || seq || \',"kind":"\' || kind || '
            f'\'","ts":"\' || ts || \'","data":\' || {data} || \',"test":false,"received_at":"\' || rec || \'"}}\''
        )
        alerting = "(kind IN ('panic', 'tamper') OR (kind = 'camera' AND x % 3 <> 1) OR (kind = 'motion' AND (x >> 4) % 100 = 0))"
        q = lambda v: f"'\"' || {v} || '\"'"  # noqa: E731  a JSON string of a SQL text
        severity = "CASE kind WHEN 'panic' THEN 'critical' WHEN 'tamper' THEN 'major' WHEN 'camera' THEN 'minor' ELSE 'warning' END"
        state = "CASE WHEN open = 1 THEN 'notified' ELSE 'resolved' END"
        updated = f"CASE WHEN open = 1 THEN {self._time('notified_ms')} ELSE {self._time('resolved_ms')} END"
        acked = f"CASE WHEN open = 1 THEN NULL ELSE {self._time('acked_ms')} END"
        resolved = f"CASE WHEN open = 1 THEN NULL ELSE {self._time('resolved_ms')} END"
        outcome = "CASE WHEN open = 1 THEN NULL WHEN kind = 'motion' THEN 'false_alarm' ELSE 'real' END"
        alert_record = (
            f"'{{\"id\":' || {q('aid')} || ',\"device\":' || {q('device')} || ',\"kind\":' || {q('kind')} || "
            f"',\"severity\":' || {q(severity)} || ',\"state\":' || {q(state)} || ',\"opened_at\":' || {q('rec')} || "
            f'\',"updated_at":\' || {q(updated)} || \',"test":false,"paged":["officer-1"],"acknowledged_by":\' || '
            f"COALESCE({q(f'CASE WHEN open = 1 THEN NULL ELSE {chr(39)}officer-1{chr(39)} END')}, 'null') || "
            f"',\"acknowledged_at\":' || COALESCE({q(acked)}, 'null') || ',\"ack_channel\":' || "
            f"CASE WHEN open = 1 THEN 'null' ELSE '\"link\"' END || ',\"resolved_at\":' || COALESCE({q(resolved)}, 'null') || "
            f'\',"outcome":\' || COALESCE({q(outcome)}, \'null\') || \',"note":null,"details":{{}},"escalation_level":0,"next_due":null}}\''
        )
        chain = self._chain(lo, hi)
        make = ("CREATE TEMP TABLE s AS " if self.sqlite else "CREATE TEMP TABLE s ON COMMIT DROP AS ") + chain
        positions = "(SELECT 0 AS p UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) AS positions"
        timeline_ts = (
            f"CASE p WHEN 0 THEN rec WHEN 1 THEN {self._time('notified_ms')} WHEN 2 THEN {self._time('acked_ms')} "
            f"ELSE {self._time('resolved_ms')} END"
        )
        statements = [
            make,
            f"INSERT INTO events (id, device, seq, kind, ts, received_at, test, record) "
            f"SELECT id, device, seq, kind, ts, rec, 0, {record} FROM s",
            f"INSERT INTO alerts (id, device, kind, severity, state, is_open, test, opened_at, updated_at, "
            "acknowledged_at, acknowledged_by, resolved_at, outcome, record) "
            f"SELECT aid, device, kind, {severity}, {state}, open, 0, rec, {updated}, {acked}, "
            f"CASE WHEN open = 1 THEN NULL ELSE 'officer-1' END, {resolved}, {outcome}, {alert_record} FROM s WHERE {alerting}",
            f"INSERT INTO alert_timeline (alert_id, position, ts, action, actor, detail) "
            f"SELECT aid, p, {timeline_ts}, CASE p WHEN 0 THEN 'opened' WHEN 1 THEN 'notified' WHEN 2 THEN 'acknowledged' "
            "ELSE 'resolved' END, CASE p WHEN 0 THEN NULL WHEN 1 THEN 'pager' WHEN 2 THEN 'officer-1' ELSE 'operator-1' END, "
            "CASE p WHEN 1 THEN 'officer-1' WHEN 2 THEN 'link' WHEN 3 THEN CASE WHEN kind = 'motion' THEN 'false_alarm' "
            f"ELSE 'real' END ELSE NULL END FROM s CROSS JOIN {positions} WHERE {alerting} AND p < 4 - 2 * open",
            f"INSERT INTO alert_events (alert_id, position, event_id) SELECT aid, 0, id FROM s WHERE {alerting}",
        ]
        if self.sqlite:
            statements.append("DROP TABLE s")
        seqs = sorted(
            (f"pos-{d:03d}", ((hi - 1 - d) // 200) + 1) for d in range(200) if hi - 1 - d >= 0
        )  # post d's newest event below hi
        upsert = (
            "INSERT INTO post_seqs (device, last_seq) VALUES ({0}, {0}) ON CONFLICT (device) DO UPDATE SET last_seq = excluded.last_seq"
        ).format("?" if self.sqlite else "%s")
        if self.sqlite:
            self.connection.execute("BEGIN IMMEDIATE")
            for statement in statements:
                self.connection.execute(statement)
            self.connection.executemany(upsert, seqs)
            self.connection.execute("COMMIT")
        else:
            with self.connection.transaction():
                for statement in statements:
                    self.connection.execute(statement)
                with self.connection.cursor() as cursor:
                    cursor.executemany(upsert, seqs)

    def event_id(self, i: int) -> str:
        x = mix(i)
        rec_ms = self.start_ms + i * self.spacing_ms + x % 1000
        return crock(rec_ms - 50 - (x >> 20) % 2950, 10) + crock(i, 8) + crock(x, 8)

    def close(self) -> None:
        self.connection.close()


INDEXED_TABLES = ("events", "alerts", "alert_timeline", "alert_events")


def secondary_indexes(url: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of every index of the filled tables but the primary keys, from the catalogue."""
    tables = ", ".join(f"'{t}'" for t in INDEXED_TABLES)
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.split("///", 1)[1])) as connection:
            rows = connection.execute(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({tables})"
            ).fetchall()
        return [(str(n), str(q)) for n, q in rows]
    import psycopg

    with psycopg.connect(url) as connection:
        rows = connection.execute(
            f"SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ({tables}) AND indexname NOT LIKE '%%_pkey'"
        ).fetchall()
    return [(str(n), str(q)) for n, q in rows]


def run_sql(url: str, statements: list[str]) -> None:
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.split("///", 1)[1], isolation_level=None, timeout=60)) as connection:
            for statement in statements:
                connection.execute(statement)
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def rss_mb(pid: int | str = "self") -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def spread(ids: list[str], most: int = 2000) -> list[str]:
    """At most `most` ids taken evenly from oldest to newest (never empty: a missing id is a valid look-up too)."""
    return ids[:: max(1, len(ids) // most)][:most] or ["0" * 26]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def count_rows(url: str, table: str) -> int:
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.split("///", 1)[1])) as connection:
            return int(connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0


def database_bytes(url: str) -> int:
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0


# ---------------------------------------------------------------------------------------------
# the child: one fresh process per measurement (what a starting hub is)
# ---------------------------------------------------------------------------------------------
def child_store(spec: dict[str, Any]) -> dict[str, Any]:
    """Open the store as the hub does at start, then query it and append to it."""
    from hub.storage.events import EventQuery, TinyEventStore

    store: Any
    if spec["backend"] == "tinydb":
        store = TinyEventStore(Path(spec["root"]))
    else:
        from hub.storage.sql.database import Database
        from hub.storage.sql.events import SqlEventStore

        store = SqlEventStore(Database(spec["url"]))
    opened_at = time.monotonic()
    store.open()
    seqs = store.last_seqs()
    ready = time.monotonic()
    result: dict[str, Any] = {
        "imports_s": round(opened_at - SPAWNED, 3),
        "open_s": round(ready - opened_at, 3),
        "spawn_to_ready_in_child_s": round(ready - SPAWNED, 3),
        "posts_seen": len(seqs),
        "rss_after_open_mb": rss_mb(),
    }
    rand = random.Random(7)
    first, last = datetime.fromisoformat(spec["first"]), datetime.fromisoformat(spec["last"])
    days = max(1, (last - first).days)
    ids: list[str] = spec["ids"]
    samples: dict[str, list[float]] = {
        "newest_page": [],
        "post_newest_page": [],
        "panics_of_one_day": [],
        "get_by_id": [],
        "cursor_walk_page": [],
    }
    walk_pages = spec["walk_pages"]

    def panics_of_a_day() -> None:
        day = (first + timedelta(days=rand.randrange(days))).replace(hour=0, minute=0, second=0, microsecond=0)
        store.query(EventQuery(kind="panic", since=day, until=day + timedelta(days=1), limit=PAGE))

    def walk() -> None:
        device = rand.choice(POSTS)
        cursor: str | None = None
        for _ in range(walk_pages):
            start = time.perf_counter()
            page = store.query(EventQuery(device=device, limit=PAGE, cursor=cursor))
            samples["cursor_walk_page"].append((time.perf_counter() - start) * 1000)
            cursor = page.next_cursor
            if cursor is None:
                break

    queries: dict[str, Callable[[], Any]] = {
        "newest_page": lambda: store.query(EventQuery(limit=PAGE)),
        "post_newest_page": lambda: store.query(EventQuery(device=rand.choice(POSTS), limit=PAGE)),
        "panics_of_one_day": panics_of_a_day,
        "get_by_id": lambda: store.get(rand.choice(ids)),
    }
    repository: Any = None
    if spec["backend"] == "tinydb":
        walk_pages = 0  # no cursor in the TinyDB store (offset pages only)
    else:  # the alert history (/api/alerts reads it): the console's two calls and one post's page
        from hub.alerting.sql_store import AlertQuery, SqlAlertRepository
        from hub.storage.sql.database import Database

        repository = SqlAlertRepository(Database(spec["url"]))
        repository.open()
        queries["alerts_newest_page"] = lambda: repository.query(AlertQuery(limit=100))
        queries["alerts_open"] = lambda: repository.query(AlertQuery(state="open", limit=500))
        queries["alerts_post_page"] = lambda: repository.query(AlertQuery(device=rand.choice(POSTS), limit=50))
        for name in ("alerts_newest_page", "alerts_open", "alerts_post_page"):
            samples[name] = []
    for _ in range(spec["samples"]):  # interleaved: load hits every query alike
        for name, query in queries.items():
            samples[name].append(timed(query))
        if walk_pages:
            walk()
    result["queries"] = {name: percentiles(values) for name, values in samples.items() if values}
    result["rss_after_queries_mb"] = rss_mb()
    if spec["backend"] != "tinydb" and spec.get("appends"):
        result["append"] = appends(store, spec)
    store.close()
    if repository is not None:
        repository.close()
    return result


def appends(store: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Durable appends into the filled store vs raw inserts (same engine, same durability), batch by batch."""
    history = History(10, 10_000, seed=spec["seed"])
    history.start = datetime.now(UTC)
    history.spacing = 0.01
    raw = RawInserter(spec["raw_url"])
    out: dict[str, Any] = {}
    try:
        for size, batches in ((1, spec["appends"]), (100, max(5, spec["appends"] // 10))):
            store_ms: list[float] = []
            raw_ms: list[float] = []
            for _ in range(batches):
                batch = history.records(size)
                store_ms.append(timed(lambda b=batch: store.append(b)))
                raw_batch = history.records(size)
                raw_ms.append(timed(lambda b=raw_batch: raw.insert(b)))
            store_rate = size * len(store_ms) / (sum(store_ms) / 1000)
            raw_rate = size * len(raw_ms) / (sum(raw_ms) / 1000)
            out[f"batch_{size}"] = {
                "store_events_per_s": round(store_rate),
                "raw_events_per_s": round(raw_rate),
                "ratio": round(store_rate / raw_rate, 3),
                "store_commit": percentiles(store_ms),
                "raw_commit": percentiles(raw_ms),
            }
    finally:
        raw.close()
    return out


class RawInserter:
    """The floor: one insert per row into a table with a primary key only, one durable commit per batch."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            self.connection: Any = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=FULL")  # as the store: the WAL fsynced at every commit
            self.connection.execute("CREATE TABLE IF NOT EXISTS raw (id TEXT PRIMARY KEY, record TEXT NOT NULL)")
            self.sql = "INSERT INTO raw (id, record) VALUES (?, ?)"
        else:
            import psycopg

            self.connection = psycopg.connect(url, autocommit=True)
            self.connection.execute("CREATE TABLE IF NOT EXISTS raw (id TEXT PRIMARY KEY, record TEXT NOT NULL)")
            self.sql = "INSERT INTO raw (id, record) VALUES (%s, %s)"

    def insert(self, records: list[dict[str, Any]]) -> None:
        rows = [(r["id"], json.dumps(r, separators=(",", ":"))) for r in records]
        if isinstance(self.connection, sqlite3.Connection):
            self.connection.execute("BEGIN IMMEDIATE")
            self.connection.executemany(self.sql, rows)
            self.connection.execute("COMMIT")
        else:
            with self.connection.transaction(), self.connection.cursor() as cursor:
                cursor.executemany(self.sql, rows)

    def close(self) -> None:
        self.connection.close()


def _timed_method(owner: Any, name: str, phases: dict[str, float], label: str) -> None:
    """Wrap owner.name so each call adds its seconds to phases[label] (the start's breakdown)."""
    method = getattr(owner, name, None)
    if method is None:
        return

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.monotonic()
        try:
            return method(*args, **kwargs)
        finally:
            phases[label] = round(phases.get(label, 0.0) + time.monotonic() - began, 4)

    setattr(owner, name, wrapper)


def child_hub(spec: dict[str, Any]) -> None:
    """The hub as `poskamling hub` runs it (HubService building its SQL store from `database_url`,
    then the web server), against a running broker; prints where the start's time went."""
    imports_began = time.monotonic()
    from hub.service import HubService
    from hub.settings import HubSettings
    from hub.web.app import create_app
    from hub.web.server import WebServer

    phases: dict[str, float] = {"interpreter_to_main_s": round(imports_began - SPAWNED, 4)}
    phases["imports_s"] = round(time.monotonic() - imports_began, 4)
    began = time.monotonic()
    settings = HubSettings(
        mqtt_host=spec.get("mqtt_host", "127.0.0.1"),
        mqtt_password=spec.get("mqtt_password", "bench"),
        mqtt_port=spec["mqtt_port"],
        data_dir=Path(spec["data_dir"]),
        http_port=spec["http_port"],
        database_url=spec["url"],
        retention={"enabled": False},  # the filled history is what is measured: nothing retired mid-run
        api_tokens=[{"name": "bench", "role": "viewer", "sha256": spec["token_sha256"]}],
    )
    service = HubService(settings)
    phases["construct_s"] = round(time.monotonic() - began, 4)
    for owner, name, label in (
        (service.store, "open", "store_open_s"),
        (service, "_adopt_tinydb_log", "adopt_legacy_s"),
        (service, "_adopt_legacy_files", "adopt_legacy_s"),
        (service.audit, "open", "audit_open_s"),
        (service.dead_letters, "open", "dead_letters_open_s"),
        (service.users, "open", "users_open_s"),
        (service.login_guard, "learn_from_audit", "login_guard_from_audit_s"),
        (service.devices, "start", "devices_start_s"),
        (service.alerts.officers, "check", "roster_check_s"),
        (service.alerts.repository, "load", "alerts_load_s"),
        (service.alerts.repository, "start", "alert_repository_start_s"),
        (service.alerts.pager, "start", "pager_worker_start_s"),
        (service.alerts, "start", "alerts_start_total_s"),
        (service.evidence, "load", "evidence_load_s"),
        (service, "_raise_missed_alerts", "missed_alerts_check_s"),
        (service.quarantine, "start", "quarantine_start_s"),
        (service.ingest, "start", "ingest_start_s"),
        (service.retention, "start", "retention_start_s"),
        (service.watchdog, "start", "watchdog_start_s"),
        (service.mqtt, "start", "mqtt_start_s"),
        (service.home_assistant, "start", "home_assistant_start_s"),
        (service.ronda, "start", "ronda_start_s"),
        (service.community, "start", "community_start_s"),
    ):
        _timed_method(owner, name, phases, label)
    began = time.monotonic()
    service.start()
    phases["service_start_total_s"] = round(time.monotonic() - began, 4)
    began = time.monotonic()
    app = create_app(service)
    phases["create_app_s"] = round(time.monotonic() - began, 4)
    began = time.monotonic()
    web = WebServer(app, "127.0.0.1", settings.http_port)
    web.start()
    phases["web_server_start_s"] = round(time.monotonic() - began, 4)
    phases["spawn_to_web_started_in_child_s"] = round(time.monotonic() - SPAWNED, 4)
    deadline = time.monotonic() + 10
    while not service.mqtt.connected and time.monotonic() < deadline:
        time.sleep(0.005)
    phases["spawn_to_mqtt_connected_in_child_s"] = (
        round(time.monotonic() - SPAWNED, 4) if service.mqtt.connected else None
    )
    print(json.dumps({"rss_after_start_mb": rss_mb(), "phases": phases}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    web.stop()
    service.stop()


def run_child(spec: dict[str, Any], timeout: float = 1800) -> dict[str, Any]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-1500:]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["spawn_to_exit_s"] = round(time.monotonic() - started, 3)
    return result


BROKER: Any = None  # a MosquittoBroker for the hub children (main starts it); None: no broker


def hub_start(url: str, work: Path, repeats: int = 1, api: dict[str, Any] | None = None) -> dict[str, Any]:
    """Spawn-to-/api/health of `repeats` fresh hub processes on the same store, one after another
    (the first one's API is then measured over HTTP when `api` says how)."""
    runs = [hub_start_once(url, work, api if n == 0 else None) for n in range(repeats)]
    times = sorted(r["spawn_to_health_s"] for r in runs if "spawn_to_health_s" in r)
    result: dict[str, Any] = {
        "broker": BROKER is not None,
        "runs": runs,
        "spawn_to_health_s": times[len(times) // 2] if times else None,  # median of the runs
        "spawn_to_health_min_s": times[0] if times else None,
    }
    return result


def http_api(port: int, token: str, api: dict[str, Any]) -> dict[str, Any]:
    """p50/p99 of the API calls over HTTP (one keep-alive connection, interleaved, `samples` rounds)."""
    rand = random.Random(11)
    first, last = datetime.fromisoformat(api["first"]), datetime.fromisoformat(api["last"])
    days = max(1, (last - first).days)

    def panics_of_a_day() -> str:
        day = (first + timedelta(days=rand.randrange(days))).replace(hour=0, minute=0, second=0, microsecond=0)
        since, until = day.isoformat(), (day + timedelta(days=1)).isoformat()
        return "/api/events?" + urlencode({"kind": "panic", "since": since, "until": until, "limit": PAGE})

    calls: dict[str, Callable[[], str]] = {
        "events_newest_page": lambda: f"/api/events?limit={PAGE}",
        "events_post_page": lambda: f"/api/events?device={rand.choice(POSTS)}&limit={PAGE}",
        "events_panics_of_one_day": panics_of_a_day,
        "alerts_console_all": lambda: "/api/alerts?limit=100",  # the console's two calls (hub/web/static/console.js)
        "alerts_console_open": lambda: "/api/alerts?state=open&limit=500",
    }
    samples: dict[str, list[float]] = {name: [] for name in calls}
    statuses: dict[str, int] = {}
    connection = http_client_connection(port)
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(api["samples"]):
        for name, path in calls.items():
            target = path()
            began = time.perf_counter()
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            response.read()
            samples[name].append((time.perf_counter() - began) * 1000)
            statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
    connection.close()
    return {"statuses": statuses, "calls": {name: percentiles(values) for name, values in samples.items()}}


def http_client_connection(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def hub_start_once(url: str, work: Path, api: dict[str, Any] | None = None) -> dict[str, Any]:
    from hub.accounts.auth import new_token
    from poskamling.net import free_port

    port = free_port()
    data_dir = work / f"hub-{uuid.uuid4().hex[:6]}"
    token, digest = new_token()
    spec: dict[str, Any] = {
        "hub": True,
        "url": url,
        "http_port": port,
        "data_dir": str(data_dir),
        "token_sha256": digest,
    }
    if BROKER is not None:
        spec.update(mqtt_host=BROKER.host, mqtt_port=BROKER.port, mqtt_password=BROKER.accounts["poskamling-hub"])
    else:
        spec["mqtt_port"] = free_port()  # nothing listens: the hub connects in the background
    load = loadavg()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answered = None
    try:
        deadline = started + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/api/health")
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    answered = time.monotonic() - started
                    break
            except OSError:
                pass
            time.sleep(0.01)
        if answered is None:
            proc.kill()
            _out, err = proc.communicate(timeout=30)
            return {"error": (err or "no answer from /api/health in 120 s").strip()[-1500:]}
        assert proc.stdout is not None
        line = proc.stdout.readline()
        result: dict[str, Any] = {"spawn_to_health_s": round(answered, 3), "load_before": load}
        if line.strip():
            result.update(json.loads(line))
        if api:
            result["http"] = http_api(port, token, api)
            result["http"]["load"] = loadavg()
            result["http"]["hub_rss_after_mb"] = rss_mb(proc.pid)
        return result
    finally:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# the parent
# ---------------------------------------------------------------------------------------------
def fill_sql(
    url: str, sizes: list[int], budget: float, args: argparse.Namespace, work: Path, raw_url: str
) -> dict[str, Any]:
    from hub.alerting.sql_store import SqlAlertRepository
    from hub.storage.sql.database import Database
    from hub.storage.sql.events import SqlEventStore
    from hub.storage.sql.migrate import migrate

    store = SqlEventStore(Database(url), recent_ids=10_000)
    store.open()
    alert_repository = SqlAlertRepository(Database(url))
    alert_repository.open()
    copy = CopyFiller(url) if args.fill_path == "copy" and not url.startswith("sqlite") else None
    batch = FILL_BATCH * (10 if copy else 1)
    history = History(max(sizes), args.per_day)
    generator: SqlFiller | None = None
    indexes: list[tuple[str, str]] = []
    if args.fill_path == "sql":
        batch = 50_000
        generator = SqlFiller(
            url,
            int(history.start.timestamp() * 1000),
            round(history.spacing * 1000),
            int(datetime.now(UTC).timestamp() * 1000),
        )
        indexes = secondary_indexes(url)  # dropped while filling, built again before each measurement
    alert_rand = random.Random(99)
    now = datetime.now(UTC)
    alerts_made = 0
    points: list[dict[str, Any]] = []
    fill_s = 0.0
    out_of_budget = False
    for target in sizes:
        phase = time.monotonic()
        steal = CpuSteal()
        if generator is not None and history.made < target:
            run_sql(url, [f"DROP INDEX {name}" for name, _ in indexes])
        while history.made < target:
            if fill_s + (time.monotonic() - phase) > budget:  # filling time only: measurements do not count
                out_of_budget = True
                break
            if args.fill_until and datetime.now(UTC) >= args.fill_until:  # a wall-clock end: measure what is there
                out_of_budget = True
                break
            if generator is not None:
                count = min(batch, target - history.made)
                generator.append_range(history.made, history.made + count)
                history.sample_ids += [generator.event_id(i) for i in range(history.made, history.made + count, 500)]
                history.made += count
                continue
            records = history.records(min(batch, target - history.made))
            (copy or store).append(records)
            if args.alerts:
                made = alerts_for(records, alert_rand, now)
                alert_repository.merge(made)
                alerts_made += len(made)
        took = time.monotonic() - phase
        fill_s += took
        reached = history.made
        if points and points[-1]["events"] == reached:
            break
        index_build: dict[str, Any] = {}
        if generator is not None:
            began = time.monotonic()
            present = {name for name, _ in secondary_indexes(url)}
            run_sql(url, [sql for name, sql in indexes if name not in present])
            index_build["index_build_s"] = round(time.monotonic() - began, 1)
            if not url.startswith("sqlite"):  # what autovacuum does after a bulk load; the hub never runs it
                began = time.monotonic()
                run_sql(url, ["ANALYZE"])
                index_build["analyze_s"] = round(time.monotonic() - began, 1)
        point: dict[str, Any] = {
            "events": reached,
            "target": target,
            "fill_s": round(fill_s, 1),
            "fill_events_per_s": round((reached - (points[-1]["events"] if points else 0)) / max(took, 1e-9)),
            "fill_cpu_steal_pct": steal.percent(),
            "database_mb": round(database_bytes(url) / 2**20, 1),
            "alerts": alerts_made if generator is None else count_rows(url, "alerts"),
            "fill_path": (
                "generated by the database (SqlFiller: INSERT ... SELECT, secondary indexes dropped, built before measuring)"
                if generator
                else "COPY (CopyFiller)"
                if copy
                else "import (SqlEventStore.append)"
            ),
            **index_build,
        }
        began = time.monotonic()  # a migration added since the fill began (an index) is built before timing
        point["migrations_applied_before_measuring"] = migrate(store.database)
        point["migrate_s"] = round(time.monotonic() - began, 1)
        spec = {
            "backend": "sql",
            "url": url,
            "samples": args.samples,
            "walk_pages": 10,
            "ids": spread(history.sample_ids),
            "first": history.start.isoformat(),
            "last": history.moment(reached).isoformat(),
            "appends": args.appends,
            "raw_url": raw_url,
            "seed": reached,
        }
        measure = CpuSteal()
        point["load_before"] = loadavg()
        point["store"] = run_child(spec)
        api = {"first": spec["first"], "last": spec["last"], "samples": args.http_samples}
        point["hub"] = hub_start(url, work, args.hub_starts, api) if args.hub else {"skipped": "--no-hub"}
        point["measure_cpu_steal_pct"] = measure.percent()
        progress = {"progress": url.split(":")[0], "events": reached, "fill_s": point["fill_s"]}
        print(json.dumps(progress), file=sys.stderr, flush=True)
        points.append(point)
        if out_of_budget:
            break
    store.close()
    alert_repository.close()
    if copy:
        copy.close()
    if generator:
        generator.close()
    return {
        "points": points,
        "fill_budget_s": budget,
        "fill_until": args.fill_until.isoformat() if args.fill_until else None,
        "budget_ran_out": out_of_budget,
    }


def fill_tiny(count: int, budget: float, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from hub.storage.events import TinyEventStore

    root = work / "tinydb"
    store = TinyEventStore(root)
    store.open()
    history = History(count, args.per_day)
    started = time.monotonic()
    steal = CpuSteal()
    while history.made < count and time.monotonic() - started < budget:
        store.append(history.records(min(FILL_BATCH, count - history.made)))
    took = time.monotonic() - started
    store.close()
    spec = {
        "backend": "tinydb",
        "root": str(root),
        "samples": args.tiny_samples,
        "walk_pages": 0,
        "ids": spread(history.sample_ids),
        "first": history.start.isoformat(),
        "last": history.moment(history.made).isoformat(),
    }
    point = {
        "events": history.made,
        "target": count,
        "fill_s": round(took, 1),
        "fill_events_per_s": round(history.made / max(took, 1e-9)),
        "fill_cpu_steal_pct": steal.percent(),
        "files_mb": round(sum(p.stat().st_size for p in root.glob("*")) / 2**20, 1),
        "load_before": loadavg(),
    }
    point["store"] = run_child(spec)
    return {"points": [point], "fill_budget_s": budget, "budget_ran_out": history.made < count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument(
        "--sizes", default="100000,1000000,10000000", help="SQLite curve (events); stops at --fill-budget"
    )
    parser.add_argument("--pg-sizes", default=None, help="PostgreSQL curve (default: --sizes)")
    parser.add_argument("--tiny", type=int, default=300_000, help="events in today's TinyDB store")
    parser.add_argument("--fill-budget", type=float, default=600.0, help="seconds of filling per SQL backend")
    parser.add_argument("--tiny-budget", type=float, default=300.0, help="seconds of filling the TinyDB store")
    parser.add_argument("--per-day", type=int, default=10_000, help="events a day in the sector (spreads received_at)")
    parser.add_argument("--samples", type=int, default=200, help="samples of each query per size")
    parser.add_argument("--tiny-samples", type=int, default=10, help="samples of each query on TinyDB (seconds each)")
    parser.add_argument("--appends", type=int, default=200, help="single-event appends (and a tenth as many of 100)")
    parser.add_argument("--backends", default="sqlite,postgresql,tinydb")
    parser.add_argument(
        "--fill-path",
        choices=("import", "copy", "sql"),
        default="import",
        help="import: SqlEventStore.append; copy: PostgreSQL COPY; sql: rows generated by the database itself",
    )
    parser.add_argument(
        "--fill-until",
        type=lambda text: datetime.fromisoformat(text).astimezone(UTC),
        default=None,
        help="stop filling at this time (ISO, with zone) and measure the size reached",
    )
    parser.add_argument("--no-alerts", dest="alerts", action="store_false", help="fill events only, no alerts")
    parser.add_argument("--http-samples", type=int, default=100, help="rounds of the API calls over HTTP (first hub)")
    parser.add_argument("--hub-starts", type=int, default=3, help="hub starts timed at each size (median kept)")
    parser.add_argument("--no-broker", dest="broker", action="store_false", help="time the hub start without a broker")
    parser.add_argument("--no-hub", dest="hub", action="store_false", help="skip the real hub start to /api/health")
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for the databases (default: a temp folder, removed)"
    )
    parser.add_argument("--output", default="store", help="results name: bench/results/<output>.json")
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        if spec.get("hub"):
            child_hub(spec)
        else:
            print(json.dumps(child_store(spec)))
        return

    backends = args.backends.split(",")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-store-", dir=os.environ.get("BENCH_DIR")))
    work.mkdir(parents=True, exist_ok=True)
    global BROKER
    if args.broker and args.hub:
        from hub.provisioning.broker_files import new_secret
        from poskamling.broker import MosquittoBroker

        BROKER = MosquittoBroker(work / "broker", accounts={"poskamling-hub": new_secret()})
        BROKER.start()
    steal = CpuSteal()
    result: dict[str, Any] = {
        "broker_for_hub_start": BROKER is not None,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_start": loadavg(),
        "per_day": args.per_day,
        "samples": args.samples,
        "page": PAGE,
    }
    try:
        if "tinydb" in backends:
            result["tinydb"] = fill_tiny(args.tiny, args.tiny_budget, args, work)
        if "sqlite" in backends:
            sizes = sorted({0, *(int(s) for s in args.sizes.split(","))})  # 0: the empty store, the baseline
            result["sqlite"] = fill_sql(
                f"sqlite:///{work / 'hub.db'}", sizes, args.fill_budget, args, work, f"sqlite:///{work / 'raw.db'}"
            )
        if "postgresql" in backends:
            from poskamling.postgres import TempPostgres

            server = TempPostgres()  # its own temp folder: the server user must reach it when we are root
            server.start()
            try:
                import psycopg

                with psycopg.connect(server.url, autocommit=True) as connection:
                    connection.execute('CREATE DATABASE "raw_bench"')
                pg_sizes = sorted({0, *(int(s) for s in (args.pg_sizes or args.sizes).split(","))})
                result["postgresql"] = fill_sql(
                    server.url, pg_sizes, args.fill_budget, args, work, server.url.rsplit("/", 1)[0] + "/raw_bench"
                )
                result["postgresql"]["server"] = "TempPostgres (Debian's postgresql, default settings, fsync=on)"
            finally:
                server.remove()
    finally:
        result["cpu_steal_pct"] = steal.percent()
        result["load_end"] = loadavg()
        if BROKER is not None:
            BROKER.stop()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    emit(args.output, result)


if __name__ == "__main__":
    main()
