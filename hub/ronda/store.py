"""The ronda roster in one small TinyDB file (<data_dir>/ronda.json), shared by the hub, its API and the CLI.

Like hub/duty/officers.py: every operation opens the file afresh under an exclusive lock
(fcntl), so `poskamling ronda ...` can edit it while the hub runs; writes are atomic; a
damaged file is set aside and reported in `damaged`, and read as an empty roster (then no
post is expected to be staffed, so nothing is raised: a lost roster must not page all night).
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tinydb import Query, TinyDB

from hub.ronda.roster import Guard, GuardChange, RondaHours, RondaRoster, same_village
from hub.storage.files import ReadCache, open_checked
from kamling.protocol import new_event_id

T = TypeVar("T")


class RondaError(ValueError):
    """A roster change that cannot be made (unknown guard, card held by another guard, ...)."""


class RondaStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cache: ReadCache[RondaRoster] = ReadCache()
        self.damaged: list[str] = []

    @contextmanager
    def _open(self) -> Iterator[TinyDB]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with self._lock, open(lock_path, "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            db = open_checked(self.path, self.damaged, "ronda roster")
            try:
                yield db
            finally:
                db.close()
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _do(self, action: Callable[[TinyDB], T]) -> T:
        with self._open() as db:
            return action(db)

    def roster(self) -> RondaRoster:
        """The whole roster; read again only when the file changed (writes replace it: new inode)."""

        def read(db: TinyDB) -> RondaRoster:
            return RondaRoster(
                guards=tuple(Guard.model_validate(dict(r)) for r in db.table("guards").all()),
                changes=tuple(GuardChange.model_validate(dict(r)) for r in db.table("changes").all()),
                hours=tuple(RondaHours.model_validate(dict(r)) for r in db.table("hours").all()),
            )

        return self._cache.get(self.path, lambda: self._do(read), RondaRoster)

    # -- guards ---------------------------------------------------------------------------------
    def put_guard(self, guard: Guard) -> Guard:
        """Add or replace a guard (by id); a card may belong to one guard only."""

        def put(db: TinyDB) -> None:
            if guard.card_id:
                holder = db.table("guards").get((Query().card_id == guard.card_id) & (Query().id != guard.id))
                if holder:
                    raise RondaError(f"card {guard.card_id} already belongs to guard {holder['id']!r}")
            db.table("guards").upsert(guard.model_dump(mode="json"), Query().id == guard.id)

        self._do(put)
        return guard

    def remove_guard(self, guard_id: str) -> bool:
        def remove(db: TinyDB) -> bool:
            removed = db.table("guards").remove(Query().id == guard_id)
            db.table("changes").remove(Query().guard_id == guard_id)
            return bool(removed)

        return self._do(remove)

    # -- dated changes --------------------------------------------------------------------------
    def add_change(self, **fields: Any) -> GuardChange:
        change = GuardChange.model_validate({"id": new_event_id(), **fields})

        def add(db: TinyDB) -> None:
            if not db.table("guards").contains(Query().id == change.guard_id):
                raise RondaError(f"no guard with id {change.guard_id!r}")
            db.table("changes").insert(change.model_dump(mode="json"))

        self._do(add)
        return change

    def remove_change(self, change_id: str) -> bool:
        return bool(self._do(lambda db: db.table("changes").remove(Query().id == change_id)))

    # -- village hours --------------------------------------------------------------------------
    def set_hours(self, hours: RondaHours) -> RondaHours:
        def put(db: TinyDB) -> None:
            table = db.table("hours")
            table.remove(lambda r: same_village(str(r.get("village", "")), hours.village))
            table.insert(hours.model_dump(mode="json"))

        self._do(put)
        return hours
