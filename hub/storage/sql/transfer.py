"""Moving the event log in and out: JSON Lines export/import, TinyDB migration, backup and restore.

Export writes one stored record per line (the wire Event fields plus `received_at`). Import is
idempotent (ids already stored are skipped) and all-or-nothing per line: a line that is not a
valid event is reported with its number and skipped, never half-imported. Backups are online
and consistent: SQLite's backup API, `pg_dump` for PostgreSQL.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from hub.storage.events import Record
from hub.storage.sql.database import Database, StoreDamaged, check_sqlite_file
from hub.storage.sql.events import SqlEventStore, sortable_time
from kamling.protocol import Event, ProtocolError, decode_event

BATCH = 1_000
MAX_REPORTED = 100
"""Bad lines listed one by one in a report; past this only counted."""


@dataclass
class ImportReport:
    read: int = 0
    added: int = 0
    already: int = 0
    bad: int = 0
    problems: list[str] = field(default_factory=list)

    def refuse(self, line_number: int, reason: str) -> None:
        self.bad += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(f"line {line_number}: {reason}")


def open_text(path: Path) -> IO[str]:
    """A JSON Lines file, gzip-compressed when its name ends in .gz."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def export_events(
    store: SqlEventStore, out: IO[str], since: datetime | None = None, until: datetime | None = None
) -> int:
    """Write the stored events received in [since, until) as JSON Lines, oldest first; return how many."""
    low = sortable_time(since) if since else ""
    high = sortable_time(until) if until else "~"
    written = 0
    for record in store.scan():
        received = sortable_time(record.get("received_at"))
        if low <= received < high:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            written += 1
    return written


def check_line(line: str) -> Record:
    """A stored record from one exported line; ValueError saying what is wrong."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    received = raw.get("received_at")
    try:
        if not isinstance(received, str) or datetime.fromisoformat(received).tzinfo is None:
            raise ValueError
    except ValueError:
        raise ValueError("received_at: needs an ISO-8601 time with a timezone") from None
    wire = {key: value for key, value in raw.items() if key in Event.model_fields}
    device = raw.get("device")
    if not isinstance(device, str):
        raise ValueError("device: missing")
    try:
        decode_event(device, json.dumps(wire).encode())
    except ProtocolError as exc:
        raise ValueError(str(exc)) from None
    return raw


def import_events(store: SqlEventStore, lines: Iterable[str]) -> ImportReport:
    """Add every valid line not stored yet; report the others by line number."""
    report = ImportReport()
    batch: list[Record] = []

    def flush() -> None:
        if batch:
            added = store.append(batch)
            report.added += len(added)
            report.already += len(batch) - len(added)
            batch.clear()

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        report.read += 1
        try:
            batch.append(check_line(line))
        except ValueError as exc:
            report.refuse(number, str(exc))
            continue
        if len(batch) >= BATCH:
            flush()
    flush()
    return report


def migrate_tinydb(store: SqlEventStore, records: Iterator[Record]) -> ImportReport:
    """Copy a TinyDB event log (TinyEventStore.scan()) into the SQL store; safe to run again."""
    return import_events(store, (json.dumps(record, ensure_ascii=False) for record in records))


def backup(database: Database, destination: Path) -> Path:
    """An online, consistent copy: SQLite's backup API (a .db file), or pg_dump's custom format."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    if database.dialect == "sqlite":
        source = sqlite3.connect(database.url.target)
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return destination
    _run(["pg_dump", "--format=custom", "--file", str(destination), database.url.target])
    return destination


def restore(database: Database, source: Path) -> None:
    """Put a backup in place of the store; the hub must be stopped. A damaged backup is refused."""
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such backup")
    if database.dialect == "sqlite":
        check_sqlite_file(source)
        with sqlite3.connect(source) as check:
            result = check.execute("PRAGMA integrity_check").fetchone()
        if not result or result[0] != "ok":
            raise StoreDamaged(f"{source} fails SQLite's integrity check ({result}): choose another backup")
        target = Path(database.url.target)
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        temporary = target.with_name(target.name + ".restoring")
        shutil.copyfile(source, temporary)
        temporary.replace(target)
        return
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--dbname", database.url.target, str(source)])


def _run(command: list[str]) -> None:
    tool = shutil.which(command[0])
    if tool is None:
        raise FileNotFoundError(
            f"{command[0]} not found: install PostgreSQL's client tools (apt-get install postgresql-client)"
        )
    result = subprocess.run([tool, *command[1:]], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stderr.strip()[-500:]}")


def describe(report: ImportReport) -> dict[str, Any]:
    return {
        "read": report.read,
        "added": report.added,
        "already_stored": report.already,
        "bad": report.bad,
        "problems": report.problems,
    }
