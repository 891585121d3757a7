"""Hub user accounts: Argon2-hashed passwords and roles, stored in TinyDB. No default account.

The hub and `poskamling user ...` share the file: every read first reloads it if another
process replaced it (a password reset on the hub host takes effect at once), and every change
is a read-modify-write under an exclusive lock (fcntl), so neither side overwrites the other.

A damaged users file found at open (zero-length, truncated) is set aside and reported in
`damaged` (hub.storage.files), and the hub starts with no users: that fails closed (no one
logs in with a password; API tokens from the settings still work) and keeps the hub paging
officers, which needs no user. `poskamling user add` makes a new admin, or an admin puts the
repaired file back: the next read picks it up.
"""

from __future__ import annotations

import fcntl
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tinydb import Query, TinyDB
from tinydb.table import Table

from hub.accounts.auth import ROLES, Principal
from hub.settings import Role
from hub.storage.files import open_checked, open_tinydb
from kamling.protocol import utc_now

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD_LENGTH = 10


class UserError(ValueError):
    """A user operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    created_at: str
    disabled: bool = False
    villages: tuple[str, ...] = ()  # empty: all villages; else scoped (see Principal.villages)


def check_password_strength(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if username.lower() in password.lower():
        raise UserError("password must not contain the user name")
    if len(set(password)) < 5:
        raise UserError("password is too repetitive")


class UserStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._hasher = PasswordHasher()
        self._db: TinyDB | None = None
        self._lock = threading.RLock()
        self._dummy_hash = ""
        self._seen: tuple[int, int, int] | None = None  # identity of the file the open db has read
        self.damaged: list[str] = []  # damaged files found and set aside (shown in /api/health)

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Under the lock the CLI writes with: a file is never set aside while a good one replaces it.
        with self._lock, open(self._lock_path(), "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self._db = open_checked(self.path, self.damaged, "users")
                self._seen = self._identity()
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        self._dummy_hash = self._hasher.hash("not-a-real-password")

    def _lock_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.lock")

    def _identity(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _refresh(self) -> None:
        """Reopen the db when the file is not the one it read (writes replace it: a new inode)."""
        with self._lock:
            if self._db is None:
                return
            identity = self._identity()
            if identity != self._seen:
                self._db.close()
                self._db = open_tinydb(self.path)
                self._seen = identity

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One read-modify-write, exclusive against this and other processes."""
        with self._lock, open(self._lock_path(), "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self._refresh()
                yield
                self._seen = self._identity()  # our own write: the db holds what the file holds
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def _table(self) -> Table:
        if self._db is None:
            raise RuntimeError("user store is not open")
        with self._lock:
            self._refresh()
            return self._db.table("users")

    def create(self, username: str, password: str, role: Role, villages: tuple[str, ...] = ()) -> User:
        if not USERNAME_RE.match(username):
            raise UserError("user name: 2-32 characters, lower-case letters, digits, . _ -")
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        check_password_strength(password, username)
        with self._writing():
            if self._table.get(Query().username == username):
                raise UserError(f"user {username!r} exists already")
            record = {
                "username": username,
                "role": role,
                "password_hash": self._hasher.hash(password),
                "created_at": utc_now().isoformat(),
                "disabled": False,
                "villages": _villages(villages),
            }
            self._table.insert(record)
        return _user(record)

    def set_password(self, username: str, password: str) -> None:
        check_password_strength(password, username)
        password_hash = self._hasher.hash(password)
        with self._writing():
            if not self._table.update({"password_hash": password_hash}, Query().username == username):
                raise UserError(f"no user {username!r}")

    def set_disabled(self, username: str, disabled: bool) -> None:
        with self._writing():
            if not self._table.update({"disabled": disabled}, Query().username == username):
                raise UserError(f"no user {username!r}")

    def set_villages(self, username: str, villages: tuple[str, ...]) -> None:
        """Limit an account to some villages (empty: all)."""
        with self._writing():
            if not self._table.update({"villages": _villages(villages)}, Query().username == username):
                raise UserError(f"no user {username!r}")

    def delete(self, username: str) -> None:
        with self._writing():
            if not self._table.remove(Query().username == username):
                raise UserError(f"no user {username!r}")

    def get(self, username: str) -> User | None:
        record = self._table.get(Query().username == username)
        return _user(record) if record else None

    def all(self) -> list[User]:
        return sorted((_user(r) for r in self._table.all()), key=lambda u: u.username)

    def count(self) -> int:
        return len(self._table)

    def verify(self, username: str, password: str) -> Principal | None:
        """The user's principal if the password is right and the account enabled; else None.

        Takes the same time for unknown users (a dummy hash is checked) so that names
        cannot be discovered by timing.
        """
        record = self._table.get(Query().username == username)
        encoded = record["password_hash"] if record else self._dummy_hash
        try:
            self._hasher.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            return None
        if record is None or record.get("disabled"):
            return None
        if self._hasher.check_needs_rehash(encoded):
            with self._writing():
                self._table.update({"password_hash": self._hasher.hash(password)}, Query().username == username)
        return Principal(username, record["role"], tuple(record.get("villages") or ()))


def _user(record: dict[str, Any]) -> User:
    return User(
        record["username"],
        record["role"],
        record["created_at"],
        bool(record.get("disabled")),
        tuple(record.get("villages") or ()),
    )


def _villages(villages: tuple[str, ...] | list[str]) -> list[str]:
    cleaned = [v.strip() for v in villages if v.strip()]
    if len(cleaned) > 200 or any(len(v) > 120 for v in cleaned):
        raise UserError("villages: at most 200 names of up to 120 characters")
    return cleaned
