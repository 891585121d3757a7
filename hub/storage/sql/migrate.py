"""Versioned SQL migrations, run at start: `migrations/<dialect>/NNNN_name.sql`, each once, in order.

A small runner instead of Alembic: the hub has a handful of tables, no ORM (Alembic would bring
SQLAlchemy), and two engines whose differences fit in two folders of plain SQL a DBA can read.
Each file runs in one transaction (both engines have transactional DDL) and is recorded in
`schema_migrations`; on PostgreSQL an advisory lock keeps two hubs starting at once from racing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

from hub.storage.sql.database import Database
from kamling.protocol import utc_now

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
ADVISORY_LOCK = 0x6B616D6C  # "kaml": one number all hubs agree on


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The file's statements (split on `;` at a line end; our files hold no procedural code)."""
        body = "\n".join(line for line in self.sql.splitlines() if not line.strip().startswith("--"))
        return [s.strip() for s in re.split(r";\s*$", body, flags=re.M) if s.strip()]


def available(dialect: str) -> list[Migration]:
    folder = resources.files("hub.storage.sql").joinpath("migrations", dialect)
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def migrate(database: Database) -> list[int]:
    """Apply every migration not applied yet; return the versions applied now."""
    with database.transaction() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
    applied_now: list[int] = []
    for migration in available(database.dialect):
        with database.transaction() as cursor:
            if database.dialect == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(?)", (ADVISORY_LOCK,))
            if cursor.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)).fetchone():
                continue
            for statement in migration.statements():
                cursor.execute(statement)
            cursor.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, utc_now().isoformat()),
            )
        applied_now.append(migration.version)
        log.info("database %s: applied migration %04d_%s", database.url.redacted(), migration.version, migration.name)
    return applied_now


def current_version(database: Database) -> int:
    rows = database.query("SELECT MAX(version) FROM schema_migrations")
    return int(rows[0][0] or 0) if rows else 0
