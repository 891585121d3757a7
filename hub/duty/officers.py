"""Officer and roster storage: one small TinyDB file, shared by the hub and the CLI.

Every operation opens the file afresh under an exclusive lock (fcntl), so the `poskamling
officers` command can edit the roster while the hub runs and the hub sees the change at
the next page. Writes are atomic (kamling.durable: temp file, fsync, rename, fsync of the folder).

A damaged file (zero-length, truncated) is set aside under the lock, reported in `damaged`
(hub.storage.files) and read as no roster: the hub keeps running and pages the officers and
the fallback of its settings (RosterResolver), which beats not paging at all; /api/health and
the log say so until someone restores the roster or enters it again.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tinydb import Query, TinyDB

from hub.duty.roster import Officer, Override, Roster, Shift
from hub.storage.files import ReadCache, open_checked
from kamling.protocol import new_event_id

T = TypeVar("T")

FALLBACK_ID = "piket"


class RosterError(ValueError):
    """A roster change that cannot be made (unknown officer, duplicate id, ...)."""


class OfficerStore:
    """Officers, weekly shifts, dated overrides and the fallback contact in `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cache: ReadCache[Roster] = ReadCache()
        self.damaged: list[str] = []  # damaged files found and set aside (shown in /api/health)

    @contextmanager
    def _open(self) -> Iterator[TinyDB]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with self._lock, open(lock_path, "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            db = open_checked(self.path, self.damaged, "officers and roster")  # under the lock: no race with a writer
            try:
                yield db
            finally:
                db.close()
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _do(self, action: Callable[[TinyDB], T]) -> T:
        with self._open() as db:
            return action(db)

    def check(self) -> None:
        """Read the file now, so that damage is found and reported at start, not at the first page."""
        if self.path.exists():
            self._do(lambda db: None)

    # -- snapshot -------------------------------------------------------------------------
    def roster(self) -> Roster:
        def read(db: TinyDB) -> Roster:
            meta = db.table("meta").get(Query().key == "fallback")
            fallback = Officer.model_validate(meta["officer"]) if meta else None
            return Roster(
                officers=tuple(Officer.model_validate(_clean(r)) for r in db.table("officers").all()),
                shifts=tuple(Shift.model_validate(_clean(r)) for r in db.table("shifts").all()),
                overrides=tuple(Override.model_validate(_clean(r)) for r in db.table("overrides").all()),
                fallback=fallback,
            )

        # a new alert reads the file only after the CLI or API changed it
        return self._cache.get(self.path, lambda: self._do(read), Roster)

    def has_roster(self) -> bool:
        """True when at least one officer or a fallback is stored (then settings officers are ignored)."""
        roster = self.roster()
        return bool(roster.officers or roster.fallback)

    # -- officers -------------------------------------------------------------------------
    def put_officer(self, officer: Officer) -> Officer:
        """Add or replace an officer (by id)."""
        self._do(lambda db: db.table("officers").upsert(officer.model_dump(mode="json"), Query().id == officer.id))
        return officer

    def remove_officer(self, officer_id: str) -> bool:
        """Remove an officer with their shifts and overrides."""

        def remove(db: TinyDB) -> bool:
            removed = db.table("officers").remove(Query().id == officer_id)
            db.table("shifts").remove(Query().officer_id == officer_id)
            db.table("overrides").remove(Query().officer_id == officer_id)
            return bool(removed)

        return self._do(remove)

    def get_officer(self, officer_id: str) -> Officer | None:
        return next((o for o in self.roster().officers if o.id == officer_id), None)

    # -- shifts and overrides -------------------------------------------------------------
    def add_shift(self, **fields: Any) -> Shift:
        shift = Shift.model_validate({"id": new_event_id(), **fields})

        def add(db: TinyDB) -> None:
            self._require_officer(db, shift.officer_id)
            db.table("shifts").insert(shift.model_dump(mode="json"))

        self._do(add)
        return shift

    def add_override(self, **fields: Any) -> Override:
        return self._add_overrides(_override(fields))[0]

    def swap(self, away: str, covering: str, start: Any, end: Any, note: str = "") -> tuple[Override, Override]:
        """`covering` takes `away`'s duty for a period: one off and one on override, both or neither."""
        off = _override(
            {"officer_id": away, "kind": "off", "start": start, "end": end, "note": note or f"swap: {covering}"}
        )
        on = _override(
            {"officer_id": covering, "kind": "on", "start": start, "end": end, "note": note or f"swap: {away}"}
        )
        self._add_overrides(off, on)
        return off, on

    def _add_overrides(self, *overrides: Override) -> tuple[Override, ...]:
        """Insert in one locked write, after checking every officer: never half of a swap."""

        def add(db: TinyDB) -> None:
            for override in overrides:
                self._require_officer(db, override.officer_id)
            db.table("overrides").insert_multiple(o.model_dump(mode="json") for o in overrides)

        self._do(add)
        return overrides

    def remove_entry(self, table: str, entry_id: str) -> bool:
        if table not in ("shifts", "overrides"):
            raise ValueError(table)
        return bool(self._do(lambda db: db.table(table).remove(Query().id == entry_id)))

    # -- fallback -------------------------------------------------------------------------
    def set_fallback(self, officer: Officer | None) -> None:
        def put(db: TinyDB) -> None:
            table = db.table("meta")
            if officer is None:
                table.remove(Query().key == "fallback")
            else:
                table.upsert({"key": "fallback", "officer": officer.model_dump(mode="json")}, Query().key == "fallback")

        self._do(put)

    @staticmethod
    def _require_officer(db: TinyDB, officer_id: str) -> None:
        if not db.table("officers").contains(Query().id == officer_id):
            raise RosterError(f"no officer with id {officer_id!r}")


def _override(fields: dict[str, Any]) -> Override:
    override = Override.model_validate({"id": new_event_id(), **fields})
    if override.end <= override.start:
        raise RosterError("override end must be after its start")
    return override


def _clean(record: Any) -> dict[str, Any]:
    return dict(record)
