"""Alert repository: open alerts in a small hot file, closed ones in monthly archives; one writer thread.

TinyDB rewrites a whole file on every write, and each alert is saved several times (opened,
paging, notified, acknowledged, resolved) by the process that pages the officers. So
`alerts.json` holds only the open alerts and stays tiny. A closed alert goes to
`alerts-YYYY-MM.json`, the UTC month it was opened (so later updates find the same file):
written there first, then removed from the hot file, so a crash in between leaves a duplicate,
never a loss. Writes address documents by TinyDB doc id (kept in memory per file), never by a
query scan. `load()` keeps the newest copy of each alert, repairs such duplicates, splits an
`alerts.json` written by the old single-file repository, and sets a damaged file (zero-length,
truncated, alerts that do not parse) aside (renamed `<name>.damaged-<stamp>`, listed in
`damaged`, see hub.storage.files) instead of stopping the hub: the alerts in the other files
are still shown and paged, and new alerts are saved in a fresh file.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.table import Table

from hub.alerting.rules import Alert
from hub.storage.files import open_tinydb, report_damage

log = logging.getLogger(__name__)

TABLE = "alerts"


def archive_month(alert: Alert) -> str:
    """The month (YYYY-MM, UTC) of the archive that holds an alert once it is closed."""
    opened = alert.opened_at if alert.opened_at.tzinfo else alert.opened_at.replace(tzinfo=UTC)
    return opened.astimezone(UTC).strftime("%Y-%m")


def newest(a: Alert, b: Alert) -> Alert:
    """Of two stored copies of one alert, the later `updated_at`; on a tie the closed one."""
    return max(a, b, key=lambda alert: (alert.updated_at, not alert.is_open))


def _replacing(records: dict[str, dict[str, Any]]) -> Callable[[MutableMapping[str, Any]], None]:
    """A TinyDB update that replaces each document with the new record of the same alert id."""

    def replace_document(document: MutableMapping[str, Any]) -> None:
        record = records[document["id"]]
        document.clear()
        document.update(record)

    return replace_document


@dataclass
class _File:
    """One TinyDB file of alerts and where each alert sits in it (alert id -> doc id)."""

    path: Path
    docs: dict[str, int] = field(default_factory=dict)
    db: TinyDB | None = None

    def table(self) -> Table:
        if self.db is None:
            self.db = open_tinydb(self.path)
        return self.db.table(TABLE)

    def release(self) -> None:
        """Forget the parsed contents (memory); the next write reads the file again."""
        if self.db is not None:
            self.db.close()
            self.db = None

    def read(self) -> list[Alert]:
        """Every alert in the file, indexing its doc id; raises if the file is damaged."""
        alerts = []
        for document in self.table().all():
            alert = Alert.from_record(dict(document))
            self.docs[alert.id] = document.doc_id
            alerts.append(alert)
        return alerts

    def put(self, alerts: list[Alert]) -> None:
        """Insert or replace alerts: one file write for the replaced, one for the new."""
        records = {a.id: a.to_record() for a in alerts}
        known = {i: self.docs[i] for i in records if i in self.docs}
        fresh = [i for i in records if i not in known]
        if known:
            replaced = set(self.table().update(_replacing(records), doc_ids=list(known.values())))
            fresh += [i for i, doc_id in known.items() if doc_id not in replaced]  # gone from the file
        if fresh:
            doc_ids = self.table().insert_multiple([records[i] for i in fresh])
            self.docs.update(zip(fresh, doc_ids, strict=True))

    def drop(self, alert_ids: Iterable[str]) -> None:
        """Remove these alerts from the file (one write; none if it holds none of them)."""
        doomed = {i: self.docs[i] for i in alert_ids if i in self.docs}
        if doomed:
            self.table().remove(doc_ids=list(doomed.values()))
            for alert_id in doomed:
                del self.docs[alert_id]


def _attempt(file: _File, what: str, write: Callable[[Any], None], argument: Any) -> bool:
    try:
        write(argument)
    except Exception:  # a full disk or a file damaged since load must not stop the writer thread
        log.exception("alert store: could not %s %s", what, file.path.name)
        return False
    return True


class AlertRepository:
    """Open alerts in `path` (kept small), closed ones in monthly archives beside it; saved by a background thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.damaged: list[str] = []
        self._hot = _File(path)
        self._archives: dict[str, _File] = {}  # month -> archive file
        self._queue: queue.Queue[Alert | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._retry: dict[str, Alert] = {}  # writes that failed: tried again with the next batch
        self._progress = threading.Condition()
        self._queued = 0
        self._written = 0

    def load(self) -> list[Alert]:
        """Every stored alert (its newest copy); repairs crash duplicates and splits an old single file."""
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob(f".{self.path.stem}*.json.tmp"):
            leftover.unlink()  # an interrupted atomic write: the real file is intact
        pattern = re.compile(rf"{re.escape(self.path.stem)}-(\d{{4}}-\d{{2}})\.json")
        files = [self._archive(m[1]) for p in sorted(folder.iterdir()) if (m := pattern.fullmatch(p.name))]
        files.append(self._hot)
        copies = {(file.path, alert.id): alert for file in files for alert in self._read(file)}
        winners: dict[str, Alert] = {}
        for alert in copies.values():
            held = winners.get(alert.id)
            winners[alert.id] = alert if held is None else newest(held, alert)
        self._settle(copies, list(winners.values()))
        for archive in self._archives.values():
            archive.release()  # read again only when a closed alert changes; the service keeps alerts anyway
        return sorted(winners.values(), key=lambda a: a.opened_at)

    def _settle(self, copies: dict[tuple[Path, str], Alert], winners: list[Alert]) -> None:
        """Write each newest copy where it belongs, then drop closed alerts from the hot file."""

        def misplaced(alert: Alert) -> bool:
            home = self._hot if alert.is_open else self._archive(archive_month(alert))
            return copies.get((home.path, alert.id)) != alert

        repairs = [a for a in winners if misplaced(a)]
        if repairs:
            log.info("alert store: writing %d alerts where they belong (upgrade or crash repair)", len(repairs))
        self._retry = {a.id: a for a in self._write(repairs)}
        closed = [a.id for a in winners if not a.is_open and a.id not in self._retry]
        _attempt(self._hot, "clean", self._hot.drop, closed)  # copies a crash left after archiving

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the writer thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def save(self, alert: Alert) -> None:
        """Queue an alert for the writer thread; never waits on disk."""
        with self._progress:
            self._queued += 1
            self._queue.put(alert)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every save made before this call has been written (or has failed); False on timeout."""
        with self._progress:
            target = self._queued
            return self._progress.wait_for(lambda: self._written >= target, timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            saves = [a for a in batch if a is not None]
            latest = {**self._retry, **{a.id: a for a in saves}}
            self._retry = {a.id: a for a in self._write(latest.values())}
            with self._progress:
                self._written += len(saves)
                self._progress.notify_all()
            if len(saves) < len(batch):
                if self._retry:
                    log.error("alert store: stopping with %d alerts unsaved: %s", len(self._retry), sorted(self._retry))
                return

    def _write(self, alerts: Iterable[Alert]) -> list[Alert]:
        """Closed alerts into their archives, open ones into the hot file, then the archived out of it.

        Returns the alerts that could not be written.
        """
        by_month: dict[str, list[Alert]] = {}
        opened: list[Alert] = []
        for alert in alerts:
            if alert.is_open:
                opened.append(alert)
            else:
                by_month.setdefault(archive_month(alert), []).append(alert)
        failed: list[Alert] = []
        archived: list[str] = []
        for month, group in sorted(by_month.items()):
            archive = self._archive(month)
            if _attempt(archive, "write", archive.put, group):
                archived += [a.id for a in group]
            else:
                failed += group
        if opened and not _attempt(self._hot, "write", self._hot.put, opened):
            failed += opened
        _attempt(self._hot, "clean", self._hot.drop, archived)  # on failure, load() removes the duplicate
        return failed

    def _archive(self, month: str) -> _File:
        archive = self._archives.get(month)
        if archive is None:
            archive = self._archives[month] = _File(self.path.with_name(f"{self.path.stem}-{month}.json"))
        return archive

    def _read(self, file: _File) -> list[Alert]:
        """The alerts in one file; a damaged file is set aside and reported, and reads as empty."""
        if not file.path.exists():
            return []
        try:
            return file.read()
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            file.release()
            file.docs.clear()
            self._set_aside(file.path, exc)
            return []

    def _set_aside(self, path: Path, exc: Exception) -> None:
        report_damage(path, exc, self.damaged, "alert store")
