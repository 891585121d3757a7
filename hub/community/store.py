"""Visits and reports in SQL (migrations 0010_visits, 0011_reports), photos as files beside them.

SQL rather than a JSON-lines file: the questions asked of these rows are queries (an officer's
last visit to a post within the hour, a post's last visit, a week's visits per post, reports by
outcome), the hub's logs are moving to the same database (hub.storage.sql), and a commit is
durable when it returns (SQLite WAL fsynced at commit, PostgreSQL synchronous commit).
Photos stay out of the database (it would grow by megabytes per report and every backup with
it): one file per photo under `<data_dir>/community/photos`, written durably before its row.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hub.storage.sql.database import Database
from hub.storage.sql.events import devices_clause, sortable_time
from hub.storage.sql.migrate import migrate

PHOTO_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png"}


@dataclass(frozen=True)
class Visit:
    id: str
    post: str
    officer: str
    officer_name: str
    at: datetime
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    distance_m: float | None
    flag: str | None
    note: str
    photo: str | None
    via: str
    client: str


@dataclass(frozen=True)
class Report:
    id: str
    post: str
    at: datetime
    category: str
    text: str
    phone: str | None
    lat: float | None
    lon: float | None
    location_shared: bool
    photo: str | None
    client: str
    alert_id: str
    outcome: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None


_VISIT_COLUMNS = (
    "id",
    "post",
    "officer",
    "officer_name",
    "at",
    "lat",
    "lon",
    "accuracy_m",
    "distance_m",
    "flag",
    "note",
    "photo",
    "via",
    "client",
)
_REPORT_COLUMNS = (
    "id",
    "post",
    "at",
    "category",
    "text",
    "phone",
    "lat",
    "lon",
    "location_shared",
    "photo",
    "client",
    "alert_id",
    "outcome",
    "closed_at",
    "closed_by",
)


def _when(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _visit(row: Sequence[Any]) -> Visit:
    values = dict(zip(_VISIT_COLUMNS, row, strict=True))
    values["at"] = _when(values["at"])
    return Visit(**values)


def _report(row: Sequence[Any]) -> Report:
    values = dict(zip(_REPORT_COLUMNS, row, strict=True))
    values["at"] = _when(values["at"])
    values["location_shared"] = bool(values["location_shared"])
    values["closed_at"] = _when(values["closed_at"]) if values["closed_at"] else None
    return Report(**values)


class CommunityStore:
    def __init__(self, database: Database, photo_dir: Path) -> None:
        self.database = database
        self.photo_dir = photo_dir
        self._lock = threading.Lock()

    def open(self) -> None:
        migrate(self.database)  # idempotent: applies only what this database has not seen
        self.photo_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def close(self) -> None:
        self.database.close()

    # -- photos ---------------------------------------------------------------------------------
    def save_photo(self, record_id: str, data: bytes, mime: str) -> str:
        """Write a photo durably (fsynced, then renamed into place) before the row that names it."""
        name = f"{record_id}{PHOTO_SUFFIX[mime]}"
        final = self.photo_dir / name
        tmp = self.photo_dir / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        folder = os.open(self.photo_dir, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a power cut
        finally:
            os.close(folder)
        return name

    def photo_path(self, name: str | None) -> Path | None:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return None
        path = self.photo_dir / name
        return path if path.is_file() else None

    # -- visits ---------------------------------------------------------------------------------
    def add_visit(self, visit: Visit) -> None:
        row = [getattr(visit, c) for c in _VISIT_COLUMNS]
        row[_VISIT_COLUMNS.index("at")] = sortable_time(visit.at)
        with self.database.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO visits ({', '.join(_VISIT_COLUMNS)}) VALUES ({', '.join('?' * len(row))})", row
            )

    def last_visit(self, post: str, officer: str | None = None) -> Visit | None:
        """The newest visit to `post` (by `officer` when given)."""
        where, params = "post = ?", [post]
        if officer is not None:
            where, params = "officer = ? AND post = ?", [officer, post]
        rows = self.database.query(
            f"SELECT {', '.join(_VISIT_COLUMNS)} FROM visits WHERE {where} ORDER BY at DESC, id DESC LIMIT 1", params
        )
        return _visit(rows[0]) if rows else None

    def visits(
        self,
        post: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        posts: frozenset[str] | None = None,
    ) -> list[Visit]:
        """Visits newest first, of one post and/or since a time; `posts`: only these (a village scope)."""
        clauses, params = [], []
        if post is not None:
            clauses.append("post = ?")
            params.append(post)
        if posts is not None:
            clauses.append(devices_clause(posts, "post"))
            params.extend(sorted(posts))
        if since is not None:
            clauses.append("at >= ?")
            params.append(sortable_time(since))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.database.query(
            f"SELECT {', '.join(_VISIT_COLUMNS)} FROM visits {where} ORDER BY at DESC, id DESC LIMIT ?",
            [*params, limit],
        )
        return [_visit(r) for r in rows]

    def get_visit(self, visit_id: str) -> Visit | None:
        rows = self.database.query(f"SELECT {', '.join(_VISIT_COLUMNS)} FROM visits WHERE id = ?", [visit_id])
        return _visit(rows[0]) if rows else None

    # -- reports --------------------------------------------------------------------------------
    def add_report(self, report: Report) -> None:
        row = [getattr(report, c) for c in _REPORT_COLUMNS]
        row[_REPORT_COLUMNS.index("at")] = sortable_time(report.at)
        row[_REPORT_COLUMNS.index("location_shared")] = 1 if report.location_shared else 0
        with self.database.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO reports ({', '.join(_REPORT_COLUMNS)}) VALUES ({', '.join('?' * len(row))})", row
            )

    def close_reports(self, alert_id: str, outcome: str, at: datetime, by: str) -> int:
        """Set the outcome of every still-open report of `alert_id`; returns how many."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE reports SET outcome = ?, closed_at = ?, closed_by = ? WHERE alert_id = ? AND outcome IS NULL",
                (outcome, sortable_time(at), by, alert_id),
            )
            return cursor.rowcount

    def reports(
        self,
        post: str | None = None,
        alert_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        posts: frozenset[str] | None = None,
    ) -> list[Report]:
        """Reports newest first; `posts`: only these (a village scope)."""
        clauses, params = [], []
        for column, value in (("post", post), ("alert_id", alert_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if posts is not None:
            clauses.append(devices_clause(posts, "post"))
            params.extend(sorted(posts))
        if since is not None:
            clauses.append("at >= ?")
            params.append(sortable_time(since))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.database.query(
            f"SELECT {', '.join(_REPORT_COLUMNS)} FROM reports {where} ORDER BY at DESC, id DESC LIMIT ?",
            [*params, limit],
        )
        return [_report(r) for r in rows]

    def get_report(self, report_id: str) -> Report | None:
        rows = self.database.query(f"SELECT {', '.join(_REPORT_COLUMNS)} FROM reports WHERE id = ?", [report_id])
        return _report(rows[0]) if rows else None

    def report_counts(self, since: datetime | None = None) -> dict[str, int]:
        """Reports by outcome (`open` for those whose alert is still open) and in total."""
        where, params = ("WHERE at >= ?", [sortable_time(since)]) if since else ("", [])
        rows = self.database.query(
            f"SELECT COALESCE(outcome, 'open'), COUNT(*) FROM reports {where} GROUP BY 1", params
        )
        counts = {"open": 0, "escalated": 0, "false_report": 0, "closed": 0}
        for outcome, count in rows:
            counts[str(outcome)] = int(count)
        counts["total"] = sum(int(c) for _, c in rows)
        return counts
