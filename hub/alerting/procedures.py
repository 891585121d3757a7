"""Per-kind procedures: what an operator does on a panic, a tamper, a post unstaffed, ... (issue 15).

Each alert kind has a default procedure in the text catalogue (hub/i18n.py `procedure_<kind>`,
Bahasa Indonesia and English). An admin may replace it on the dashboard; the replacement (one
text per kind, in whatever language the Polsek writes it, shown in every language) is kept in
`<data_dir>/procedures.json`, a small TinyDB document like the roster's.

Why a file of its own and not the settings: the settings are the installer's YAML, read at start
and validated as a whole; a procedure is an admin's living text, changed from the dashboard while
the hub runs and kept across restarts and upgrades without touching the configuration. Reads are
cached until the file changes (hub.storage.files.ReadCache), so the alert page costs no file read.
A damaged file is set aside and reported (`damaged`, /api/health); the defaults are shown meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tinydb import Query, TinyDB

from hub.alerting.actions import MAX_PROCEDURE, InvalidText, clean_text
from hub.alerting.rules import AlertKind
from hub.i18n import text
from hub.storage.files import ReadCache, open_checked


@dataclass(frozen=True)
class Procedure:
    kind: AlertKind
    text: str
    custom: bool  # an admin's text; False: the catalogue's default in the reader's language
    updated_by: str | None = None
    updated_at: str | None = None


def default_procedure(kind: AlertKind, language: str) -> str:
    return text(f"procedure_{kind.value}", language)


def parse_kind(value: str) -> AlertKind:
    try:
        return AlertKind(value)
    except ValueError:
        raise InvalidText("kind", "unknown", f"not an alert kind: {value[:40]!r}") from None


Stored = dict[str, dict[str, str]]


class ProcedureStore:
    """The admins' procedures in `path`; the catalogue's defaults for the kinds they left alone."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.damaged: list[str] = []
        self._lock = threading.Lock()
        self._cache: ReadCache[Stored] = ReadCache()

    def _read(self) -> Stored:
        with self._lock:
            db = open_checked(self.path, self.damaged, "procedures")
            try:
                return {
                    str(doc["kind"]): {k: str(v) for k, v in doc.items()}
                    for doc in db.table("procedures").all()
                    if isinstance(doc.get("kind"), str) and isinstance(doc.get("text"), str)
                }
            finally:
                db.close()

    def stored(self) -> Stored:
        return self._cache.get(self.path, self._read, dict)

    def get(self, kind: AlertKind, language: str) -> Procedure:
        entry = self.stored().get(kind.value)
        if entry is None:
            return Procedure(kind, default_procedure(kind, language), custom=False)
        return Procedure(kind, entry["text"], True, entry.get("updated_by"), entry.get("updated_at"))

    def all(self, language: str) -> list[Procedure]:
        return [self.get(kind, language) for kind in AlertKind]

    def put(self, kind: AlertKind, procedure: str, actor: str, now: datetime) -> Procedure:
        """Replace a kind's procedure (text checked: InvalidText naming `text`)."""
        cleaned = clean_text("text", procedure, MAX_PROCEDURE)
        doc = {"kind": kind.value, "text": cleaned, "updated_by": actor, "updated_at": now.isoformat()}
        self._write(lambda db: db.table("procedures").upsert(doc, Query().kind == kind.value))
        return Procedure(kind, cleaned, True, actor, doc["updated_at"])

    def reset(self, kind: AlertKind) -> bool:
        """Back to the catalogue's default; False when there was no admin text."""
        removed: list[int] = []
        self._write(lambda db: removed.extend(db.table("procedures").remove(Query().kind == kind.value)))
        return bool(removed)

    def _write(self, change: Callable[[TinyDB], object]) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = open_checked(self.path, self.damaged, "procedures")
            try:
                change(db)
            finally:
                db.close()
