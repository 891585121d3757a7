"""hub.storage.sql.database: SQLite connections that keep their locks while other processes come and go."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from hub.storage.sql.database import Database, StoreDamaged

OTHER_PROCESS = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("PRAGMA journal_mode=WAL")
connection.execute("INSERT INTO t (v) VALUES ('other process')")
connection.close()  # the last connection of the last process checkpoints and deletes the WAL
"""


def test_a_second_connection_does_not_drop_the_first_ones_locks(tmp_path: Path) -> None:
    """A new connection in a process that already has one (a new thread, another store on the same
    file) must not release the first one's POSIX locks (closing any descriptor of a file drops them
    all): else another process, closing, thinks it was the last user and deletes the WAL under us."""
    path = tmp_path / "hub.db"
    first = Database(f"sqlite:///{path}")
    second = Database(f"sqlite:///{path}")
    try:
        with first.transaction() as cursor:
            cursor.execute("CREATE TABLE t (v TEXT)")
            cursor.execute("INSERT INTO t (v) VALUES ('first')")
        assert second.query("SELECT COUNT(*) FROM t") == [(1,)]  # a second connection in this process
        subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(path)], check=True, timeout=60)

        assert Path(f"{path}-wal").exists(), "another process deleted the WAL while this one had it open"
        with first.transaction() as cursor:
            cursor.execute("INSERT INTO t (v) VALUES ('after')")
        assert sorted(v for (v,) in second.query("SELECT v FROM t")) == ["after", "first", "other process"]
    finally:
        first.close()
        second.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_damaged_file_is_still_refused_after_the_process_closed_its_connections(tmp_path: Path) -> None:
    """The raw header check is skipped only while the process holds a connection to the file."""
    path = tmp_path / "hub.db"
    database = Database(f"sqlite:///{path}")
    with database.transaction() as cursor:
        cursor.execute("CREATE TABLE t (v TEXT)")
    database.close()
    path.write_bytes(b"not a database" * 10)
    again = Database(f"sqlite:///{path}")
    try:
        again.query("SELECT 1")
    except StoreDamaged as exc:
        assert str(path) in str(exc)
    else:
        raise AssertionError("a damaged file opened without StoreDamaged")
    finally:
        again.close()
