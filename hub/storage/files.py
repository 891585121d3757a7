"""The hub's JSON document files: read them, tell damage from a fresh install, set damage aside.

Every file-based store of the hub (event partitions, alerts, users, officers and roster,
devices) is a TinyDB document written whole by `kamling.durable.atomic_write`. A file
that exists but does not hold a whole document - zero-length (what a full disk or a failing
SD card can leave), truncated, not JSON, not a TinyDB document - is damage: it is renamed
`<name>.damaged-<UTC stamp>` (never deleted: a person may recover it), reported in the
store's `damaged` list (which /api/health shows) and in the log, and the store goes on
empty. A missing file is a fresh install, not damage.

Reading an empty file as an empty database would silently lose what it held; so
`AtomicJSONStorage.read` raises `DamagedFile` instead, and a store that reads a damaged file
at any later time fails loudly rather than writing over it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from tinydb import TinyDB
from tinydb.storages import Storage

from kamling import durable

log = logging.getLogger(__name__)

Identity = tuple[int, int, int]  # (inode, mtime ns, size): a file replaced by a write has another one


class DamagedFile(ValueError):
    """A data file that exists but does not hold a whole document."""

    def __init__(self, path: Path, problem: str, identity: Identity | None = None) -> None:
        super().__init__(f"{path.name}: {problem}")
        self.path = path
        self.problem = problem
        self.identity = identity  # of the file found damaged, so a newer file is never set aside for it


def _identity(stat: os.stat_result) -> Identity:
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def read_document(path: Path) -> dict[str, Any] | None:
    """The TinyDB document in `path`; None when there is no file (a fresh install).

    Raises DamagedFile for a zero-length, truncated or otherwise unreadable file; OSError
    (a read error of the disk itself) passes through.
    """
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return None
    with handle:
        identity = _identity(os.fstat(handle.fileno()))
        raw = handle.read()
    if not raw.strip():
        # atomic_write never leaves an empty file: this is lost content, not an empty store
        raise DamagedFile(path, "zero-length file" if not raw else "blank file", identity)
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise DamagedFile(
            path, f"truncated or not JSON ({exc.__class__.__name__}: {str(exc)[:80]})", identity
        ) from None
    if not isinstance(document, dict):
        raise DamagedFile(path, "not a TinyDB document (top level is not an object)", identity)
    for name, table in document.items():
        if not isinstance(table, dict) or not all(isinstance(doc, dict) for doc in table.values()):
            raise DamagedFile(
                path, f"not a TinyDB document (table {str(name)[:40]!r} is not a set of objects)", identity
            )
    return document


class AtomicJSONStorage(Storage):
    """TinyDB storage that keeps the data in memory and replaces the file atomically on write.

    A damaged file raises DamagedFile on read (and so before any write, which reads first):
    it is never taken for an empty database and never overwritten.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._data: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        if self._data is None:
            self._data = read_document(self.path)
        return self._data

    def write(self, data: dict[str, Any]) -> None:
        try:
            durable.atomic_write(self.path, json.dumps(data, separators=(",", ":")).encode())
        except BaseException:
            self._data = None  # memory may hold unsaved changes: reload from disk next time
            raise
        self._data = data

    def close(self) -> None:
        self._data = None


def open_tinydb(path: Path) -> TinyDB:
    """A TinyDB on `path` that reads lazily; see open_checked to find damage at once."""
    return TinyDB(path, storage=AtomicJSONStorage)


def set_aside(path: Path, exc: Exception) -> str:
    """Move a damaged file out of the way (`<name>.damaged-<UTC stamp>`); returns what happened, for the log.

    When `exc` is a DamagedFile and `path` has been replaced since it was read (another process
    set it aside and wrote a new one), the new file is left alone.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for n in range(1, 100):
        if not target.exists():
            break
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")  # never replace an earlier one
    detail = exc.problem if isinstance(exc, DamagedFile) else f"{exc.__class__.__name__}: {str(exc)[:120]}"
    problem = f"{path.name}: damaged ({detail})"
    expected = exc.identity if isinstance(exc, DamagedFile) else None
    try:
        if expected is not None and _identity(path.stat()) != expected:
            return f"{problem}; replaced meanwhile, the new file is kept"
        os.replace(path, target)
        durable.fsync_dir(path.parent)
    except FileNotFoundError:
        return f"{problem}; gone meanwhile"
    except OSError as err:
        return f"{problem}; could not move it aside ({err})"
    return f"{problem}; moved to {target.name}"


def report_damage(path: Path, exc: Exception, damaged: list[str], store: str) -> str:
    """Set a damaged file aside, add the outcome to the store's `damaged` list and log it as an error."""
    message = set_aside(path, exc)
    damaged.append(message)
    log.error("%s: %s", store, message)
    return message


def open_checked(path: Path, damaged: list[str], store: str) -> TinyDB:
    """A TinyDB on `path`, its file read now: damage is set aside and reported, and the db starts empty.

    A missing file gives an empty db (a fresh install, nothing reported). An OSError of the
    read itself counts as damage too: the file is kept (renamed), and the store stays usable.
    """
    db = open_tinydb(path)
    try:
        db.storage.read()
    except (DamagedFile, OSError) as exc:
        db.close()
        report_damage(path, exc, damaged, store)
        db = open_tinydb(path)
    return db


T = TypeVar("T")


class ReadCache(Generic[T]):
    """A value read from a file, read again only when the file changed.

    Every write replaces the file atomically (kamling.durable: a new inode), so (inode, mtime,
    size) changes with the content; a reader then re-reads only after the CLI or API wrote it.
    """

    def __init__(self) -> None:
        self._entry: tuple[tuple[int, int, int], T] | None = None

    def get(self, path: Path, read: Callable[[], T], missing: Callable[[], T]) -> T:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return missing()
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        entry = self._entry
        if entry is not None and entry[0] == key:
            return entry[1]
        value = read()
        self._entry = (key, value)
        return value
