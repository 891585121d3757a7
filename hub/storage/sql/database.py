"""One SQL database behind a URL: `sqlite:////path/hub.db` or `postgresql://user@host/db`.

The rest of the hub writes SQL once, with `?` placeholders and syntax both engines share
(`INSERT ... ON CONFLICT DO NOTHING`, row values, `LIMIT`); this module turns `?` into
psycopg's `%s`, keeps one connection per thread, and tells a database that is away
(`StoreUnavailable`, an OSError: the event-log writer retries those and never acks meanwhile)
from a statement that fails on its data (any other exception).

SQLite runs in WAL mode with `synchronous=FULL`: a commit is on disk (the WAL is fsynced)
before it returns, which is what lets the hub ack a post's event after the commit.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import psycopg

from kamling.redact import redact_url

log = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgresql"]
SQLITE_HEADER = b"SQLite format 3\x00"


class StoreUnavailable(OSError):
    """The database cannot be reached or written now (down, disk full, locked): retry later, never drop."""


class StoreDamaged(RuntimeError):
    """The database file is not a usable database (truncated, overwritten): restore it from a backup."""


class DatabaseUrlError(ValueError):
    """A database URL that names no supported engine or no file."""


@dataclass(frozen=True)
class DatabaseUrl:
    dialect: Dialect
    target: str  # the SQLite file path, or the psycopg conninfo URL

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            # sqlite:////abs/path.db (four slashes: an absolute path) or sqlite:///relative.db
            path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
            if not path:
                raise DatabaseUrlError(
                    f"{url!r}: a SQLite URL needs a file, e.g. sqlite:////var/lib/poskamling/hub/hub.db"
                )
            return cls("sqlite", path)
        if parts.scheme in ("postgresql", "postgres"):
            return cls("postgresql", url)
        raise DatabaseUrlError(f"{url!r}: use sqlite:////path/to/hub.db or postgresql://user@host/db")

    def redacted(self) -> str:
        """The URL without its credentials (for logs and /api/health)."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.target}"
        return redact_url(self.target, keep_location=True)


def check_sqlite_file(path: Path) -> None:
    """StoreDamaged when `path` exists but is not a whole SQLite database (a missing file is a new store)."""
    if not path.exists():
        return
    size = path.stat().st_size
    if size == 0:
        raise StoreDamaged(
            f"{path} is empty (0 bytes): restore it from a backup (poskamling hub restore), "
            "or move it away to start an empty store"
        )
    with path.open("rb") as handle:
        header = handle.read(100)
    if not header.startswith(SQLITE_HEADER) or len(header) < 100:
        raise StoreDamaged(f"{path} is not a SQLite database: restore it from a backup (poskamling hub restore)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if pages and size < pages * page_size:
        raise StoreDamaged(
            f"{path} is truncated ({size} of {pages * page_size} bytes): "
            "restore it from a backup (poskamling hub restore)"
        )


# SQLite files this process has connections to, with how many. A POSIX lock belongs to the process
# and the file, not to the descriptor: closing *any* descriptor of the file drops every lock the
# process holds on it, so `check_sqlite_file` (a plain open/read/close) run while a connection is open
# would silently release that connection's locks. Another process then believes it is the last one
# and checkpoints and deletes the WAL under our feet ("database disk image is malformed"). So the raw
# check runs only while the process has no connection to the file: at start, which is its purpose.
_open_files: dict[str, int] = {}
_open_files_lock = threading.Lock()


def _file_key(path: Path) -> str:
    return os.path.realpath(path)


class Database:
    """Connections to one database, one per thread; `transaction()` commits or rolls back."""

    def __init__(self, url: str) -> None:
        self.url = DatabaseUrl.parse(url)
        self.dialect: Dialect = self.url.dialect
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    # connections -----------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            path = Path(self.url.target)
            path.parent.mkdir(parents=True, exist_ok=True)
            key = _file_key(path)
            with _open_files_lock:
                if not _open_files.get(key):  # a raw open/close now would drop our own connections' locks
                    check_sqlite_file(path)
                connection = sqlite3.connect(path, timeout=10.0, check_same_thread=False, isolation_level=None)
                _open_files[key] = _open_files.get(key, 0) + 1
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")  # the WAL is fsynced at every commit
                connection.execute("PRAGMA foreign_keys=ON")
            except BaseException:
                self._release(connection)
                raise
            return connection
        return psycopg.connect(self.url.target, autocommit=True, connect_timeout=5)

    def connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None or self._broken(connection):
            try:
                connection = self._connect()
            except (sqlite3.OperationalError, psycopg.OperationalError) as exc:
                raise StoreUnavailable(f"database {self.url.redacted()} unavailable: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise StoreDamaged(f"{self.url.target} is damaged ({exc}): restore it from a backup") from exc
            self._local.connection = connection
            with self._lock:
                self._all.append(connection)
        return connection

    def _broken(self, connection: Any) -> bool:
        return self.dialect == "postgresql" and bool(connection.closed or connection.broken)

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            self._release(connection)
        self._local = threading.local()

    def _release(self, connection: Any) -> None:
        """Close one connection (and, for SQLite, count it out of the process's open files)."""
        try:
            connection.close()
        except Exception:
            pass
        if self.dialect == "sqlite":
            key = _file_key(Path(self.url.target))
            with _open_files_lock:
                left = _open_files.get(key, 0) - 1
                if left > 0:
                    _open_files[key] = left
                else:
                    _open_files.pop(key, None)

    # statements ------------------------------------------------------------------------------
    def sql(self, statement: str) -> str:
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One transaction on this thread's connection; StoreUnavailable when the database is away."""
        connection = self.connection()
        try:
            if self.dialect == "sqlite":
                connection.execute("BEGIN IMMEDIATE")
                cursor = Cursor(self, connection.cursor())
                try:
                    yield cursor
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
            else:
                with connection.transaction():
                    yield Cursor(self, connection.cursor())
        except (sqlite3.OperationalError, psycopg.OperationalError) as exc:
            if self.dialect == "postgresql":
                self._local.connection = None  # reconnect next time
            raise StoreUnavailable(f"database {self.url.redacted()}: {exc}") from exc

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read (autocommit).

        A PostgreSQL connection made before the server restarted fails at its first use after it
        (psycopg learns it is broken only then): a read is safe to repeat, so it is tried once more
        on a new connection; otherwise every thread's first read after an outage would fail too."""
        for attempt in (1, 2):
            reused = getattr(self._local, "connection", None) is not None
            try:
                cursor = self.connection().cursor()
                cursor.execute(self.sql(statement), tuple(params))
                return list(cursor.fetchall())
            except (sqlite3.OperationalError, psycopg.OperationalError) as exc:
                if self.dialect == "sqlite":
                    raise StoreUnavailable(f"database {self.url.redacted()}: {exc}") from exc
                self._local.connection = None
                if attempt == 2 or not reused:
                    raise StoreUnavailable(f"database {self.url.redacted()}: {exc}") from exc
        raise AssertionError("unreachable")


class Cursor:
    """A cursor that takes `?` placeholders on both engines."""

    def __init__(self, database: Database, cursor: Any) -> None:
        self.database = database
        self.cursor = cursor

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Cursor:
        self.cursor.execute(self.database.sql(statement), tuple(params))
        return self

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> Cursor:
        self.cursor.executemany(self.database.sql(statement), [tuple(r) for r in rows])
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self.cursor.fetchall())

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self.cursor.fetchone()
        return tuple(row) if row is not None else None

    @property
    def rowcount(self) -> int:
        return int(self.cursor.rowcount)
