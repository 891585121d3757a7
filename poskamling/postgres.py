"""Run a private PostgreSQL server in a folder, on a free port (tests, benchmarks, demo).

Debian's `postgresql` package provides the binaries (`scripts/bootstrap` installs it when
missing). PostgreSQL refuses to run as root, so when we are root the cluster is created and
run as the unprivileged `postgres` user (made by the package) through `runuser`; otherwise as
ourselves. Only the loopback interface is listened on, and only the owner may connect
(`trust` for local connections of this private, throw-away cluster).
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from poskamling.net import free_port, wait_for_port

log = logging.getLogger(__name__)

SERVICE_USER = "postgres"


class PostgresError(RuntimeError):
    """The server could not be created, started or stopped."""


def find_pg_bin() -> Path:
    """The folder of initdb/pg_ctl (Debian keeps them out of PATH), or PostgresError saying what to install."""
    for candidate in (shutil.which("initdb"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)):
        if candidate and Path(candidate).exists():
            return Path(candidate).resolve().parent  # Debian: /usr/lib/postgresql/N/bin (links elsewhere)
    raise PostgresError(
        "PostgreSQL not found: install it with `sudo apt-get install postgresql` (or run scripts/bootstrap)"
    )


@dataclass
class TempPostgres:
    """One throw-away cluster: `start()` creates and starts it, `stop()` stops it (the folder stays)."""

    root: Path | None = None
    """The cluster's folder; None: a new folder under the system's temp dir (which the unprivileged
    server user can reach, unlike pytest's per-user tmp_path when we are root)."""
    database: str = "poskamling"
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    _as_root: bool = field(default=False, init=False)

    @property
    def folder(self) -> Path:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="poskamling-pg-"))
        return self.root

    @property
    def data_dir(self) -> Path:
        return self.folder / "pgdata"

    @property
    def user(self) -> str:
        return SERVICE_USER if self._as_root else os.environ.get("USER") or "postgres"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(find_pg_bin() / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if check and result.returncode != 0:
            raise PostgresError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()[-800:]}")
        return result

    def start(self, timeout: float = 30.0) -> None:
        self._as_root = os.geteuid() == 0
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            shutil.chown(self.folder, SERVICE_USER)
            self.folder.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", self.user, "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses={self.host} -p {self.port} -c unix_socket_directories={self.folder} -c fsync=on"
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.folder / "server.log"), "-o", options, "-w", "start"
        )
        if not wait_for_port(self.host, self.port, timeout):
            raise PostgresError(f"PostgreSQL did not listen on {self.host}:{self.port}: {self.recent_log()}")
        self._create_database(timeout)
        log.info("PostgreSQL listening on %s:%s", self.host, self.port)

    def _create_database(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            result = self._run(
                "createdb", "-h", self.host, "-p", str(self.port), "-U", self.user, self.database, check=False
            )
            if result.returncode == 0 or "already exists" in result.stderr:
                return
            if time.monotonic() > deadline:
                raise PostgresError(f"createdb failed: {result.stderr.strip()}")
            time.sleep(0.1)  # the server accepts TCP a moment before it accepts logins

    def remove(self) -> None:
        """Stop and delete the cluster's folder."""
        self.stop("immediate")
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: roll back open transactions; `immediate`: like a crash)."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def recent_log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""
