"""Retention of the SQL event log: old events of some kinds go to monthly archives, then out of the database.

Per kind (RetentionSettings.event_days, by default motion after 90 days; every other kind, all
alerts and all audit lines are kept), the events whose hub receive time is older than the cut-off
are handled oldest first, in batches of `batch` rows:

1. the batch's stored records are appended to `<archive_dir>/events-YYYY-MM.jsonl.gz` (the month of
   `received_at`) as one new gzip member per file: gzip members may be concatenated, so an append
   never rewrites what is there, and `gzip.open`, `zcat` and `poskamling hub import` read the
   file as one stream. Each line is the stored record exactly as `poskamling hub export` writes it;
2. the file is fsynced (and its folder, for a new file);
3. only then are the batch's rows deleted, in one short transaction; then a pause, so the
   event-log writer (one SQLite writer at a time) never waits behind retention for long.

A crash between 2 and 3 leaves rows that are archived and still stored: the next pass archives
them again, so a month's archive may hold the same line twice. That is harmless: import is
idempotent by event id (a second copy adds nothing). A crash during 1 can leave a torn gzip
member at the end of a file; before the first append to a file in a process, the file is
checked member by member and cut back to its last whole member (the torn member's rows were
never deleted, so they are archived again).
"""

from __future__ import annotations

import gzip
import logging
import os
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.settings import RetentionSettings
from hub.storage.sql.database import Database, StoreUnavailable
from hub.storage.sql.events import sortable_time

log = logging.getLogger(__name__)

ARCHIVE_PREFIX = "events-"
ARCHIVE_SUFFIX = ".jsonl.gz"
FIRST_PASS_DELAY = 60.0
"""Seconds after start() before the first pass: a starting hub has more urgent work."""
_READ_CHUNK = 1 << 20


@dataclass
class RetentionReport:
    """What one pass did: events archived and deleted per kind, the size of every delete, the files written."""

    retired: dict[str, int] = field(default_factory=dict)
    batches: list[int] = field(default_factory=list)
    archives: set[Path] = field(default_factory=set)
    repaired: list[Path] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.retired.values())


def archive_path(folder: Path, received_at: str) -> Path:
    """The month's archive of an event received at `received_at` (sortable UTC text: YYYY-MM first)."""
    return folder / f"{ARCHIVE_PREFIX}{received_at[:7]}{ARCHIVE_SUFFIX}"


def whole_members_length(path: Path) -> int:
    """Bytes of `path` taken by complete, valid gzip members (the whole file when nothing is torn)."""
    good = 0
    consumed = 0
    decompressor = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer, checked (CRC, length)
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_READ_CHUNK):
                data = chunk
                while data:
                    decompressor.decompress(data, 0)
                    if not decompressor.eof:
                        consumed += len(data)
                        break
                    # one member ended inside `data`: its end is where the unused bytes start
                    rest = decompressor.unused_data
                    consumed += len(data) - len(rest)
                    good = consumed
                    decompressor = zlib.decompressobj(wbits=31)
                    data = rest
    except zlib.error:
        pass  # a damaged member: everything from it on is cut
    return good


class ArchiveWriter:
    """Appends gzip members to monthly archives durably; repairs a torn tail once per file per process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._checked: set[Path] = set()

    def append(self, path: Path, lines: list[str], report: RetentionReport) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if path not in self._checked:
            self._repair(path, report)
            self._checked.add(path)
        created = not path.exists()
        member = gzip.compress("".join(lines).encode("utf-8"), compresslevel=6, mtime=0)
        with path.open("ab") as handle:
            handle.write(member)
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            _fsync_folder(self.folder)  # the new file's name is durable too, not just its bytes
        report.archives.add(path)

    def _repair(self, path: Path, report: RetentionReport) -> None:
        if not path.exists():
            return
        size = path.stat().st_size
        good = whole_members_length(path)
        if good < size:
            log.warning(
                "retention: %s ends in a torn gzip member (%d of %d bytes whole): cut back; its events "
                "are still in the database and are archived again",
                path,
                good,
                size,
            )
            with path.open("r+b") as handle:
                handle.truncate(good)
                handle.flush()
                os.fsync(handle.fileno())
            report.repaired.append(path)


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class Retention:
    """One pass over the event log: archive, then delete, the events past their kind's retention."""

    def __init__(
        self,
        database: Database,
        settings: RetentionSettings,
        archive_dir: Path,
        pause: Callable[[float], object] | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.archive = ArchiveWriter(archive_dir)
        self.stopping = threading.Event()
        # waiting on the stop event (not time.sleep) lets stop() cut a pause short
        self._pause = pause or self.stopping.wait

    def run_once(self, now: datetime) -> RetentionReport:
        """Retire everything past its retention at `now` (hub clock); stops early when stopping is set."""
        report = RetentionReport()
        if not self.settings.enabled:
            return report
        for kind, days in sorted(self.settings.event_days.items()):
            cutoff = sortable_time(now.astimezone(UTC) - timedelta(days=days))
            report.retired[kind.value] = 0
            while not self.stopping.is_set():
                done = self._retire_batch(kind.value, cutoff, report)
                if done < self.settings.batch:
                    break
                self._pause(self.settings.pause)
        if report.total:
            summary = ", ".join(f"{n} {kind}" for kind, n in report.retired.items() if n)
            log.info("retention: archived and deleted %s", summary)
        return report

    def _retire_batch(self, kind: str, cutoff: str, report: RetentionReport) -> int:
        # oldest first through the (kind, received_at, id) index: a few pages however long the history
        rows = self.database.query(
            "SELECT id, received_at, record FROM events WHERE kind = ? AND received_at < ? "
            "ORDER BY received_at, id LIMIT ?",
            (kind, cutoff, self.settings.batch),
        )
        if not rows:
            return 0
        by_month: dict[Path, list[str]] = {}
        for _event_id, received_at, record in rows:
            by_month.setdefault(archive_path(self.archive.folder, str(received_at)), []).append(str(record) + "\n")
        for path, lines in sorted(by_month.items()):
            self.archive.append(path, lines, report)  # durable before a single row goes
        ids = [str(row[0]) for row in rows]
        marks = ", ".join("?" * len(ids))
        with self.database.transaction() as cursor:
            cursor.execute(f"DELETE FROM events WHERE id IN ({marks})", ids)
        report.retired[kind] = report.retired.get(kind, 0) + len(ids)
        report.batches.append(len(ids))
        return len(ids)


class RetentionWorker:
    """Runs a Retention pass every `settings.interval` seconds on a thread of its own.

    Build: `RetentionWorker(Database(settings.store_url), settings.retention,
    settings.retention.archive_dir or settings.data_dir / "archive")`; `start()` after the store is
    open (migrations done), `stop()` before it closes. A database that is away skips the pass.
    """

    def __init__(
        self,
        database: Database,
        settings: RetentionSettings,
        archive_dir: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        first_delay: float = FIRST_PASS_DELAY,
    ) -> None:
        self.retention = Retention(database, settings, archive_dir)
        self.settings = settings
        self.clock = clock
        self.first_delay = first_delay
        self.last_report: RetentionReport | None = None
        self.passes = 0
        self._thread: threading.Thread | None = None

    def run_once(self, now: datetime | None = None) -> RetentionReport:
        report = self.retention.run_once(now or self.clock())
        self.last_report = report
        self.passes += 1
        return report

    def start(self) -> None:
        if self._thread is not None or not self.settings.enabled:
            return
        self.retention.stopping.clear()
        self._thread = threading.Thread(target=self._run, name="event-retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.retention.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        # the database is not closed here: it may be the event store's too (its owner closes it);
        # this thread's connection goes with it

    def _run(self) -> None:
        stopping = self.retention.stopping
        if stopping.wait(self.first_delay):
            return
        while not stopping.is_set():
            try:
                self.run_once()
            except StoreUnavailable as exc:
                log.warning("retention: database unavailable, pass skipped: %s", exc)
            except Exception:  # one bad pass must not end retention for good
                log.exception("retention: pass failed")
            if stopping.wait(self.settings.interval):
                return
