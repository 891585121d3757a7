"""API authentication: bearer tokens mapped to roles. Every route but health needs one."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hub.settings import ApiTokenSettings, Role

ROLES: tuple[Role, ...] = ("viewer", "operator", "technician", "admin")


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh API token and the digest to put in the hub settings."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


class TokenAuthenticator:
    def __init__(self, tokens: list[ApiTokenSettings]) -> None:
        self.tokens = tokens

    def authenticate(self, token: str) -> Principal | None:
        digest = token_digest(token)
        for entry in self.tokens:
            if hmac.compare_digest(entry.sha256, digest):
                return Principal(entry.name, entry.role)
        return None


def allowed(principal: Principal, roles: tuple[Role, ...]) -> bool:
    """Admins may do anything; others need one of `roles`."""
    return principal.role == "admin" or principal.role in roles


# --- Login throttling and lockout -------------------------------------------------------

MAX_LOCKOUT_SECONDS = 3600.0


@dataclass
class _Failures:
    count: int = 0  # consecutive failures since the last success or lockout
    lockouts: int = 0  # lockouts so far: each doubles the next one
    locked_until: float = 0.0


class LoginThrottle:
    """Pure bookkeeping: `max_failures` failed logins on a key (a user name or a client
    address) lock that key for `lockout_seconds`, doubling with each further lockout up to
    an hour. A success resets the key's failure count (but not its lockout history)."""

    def __init__(self, max_failures: int = 5, lockout_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.clock = clock
        self._keys: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> float:
        """Seconds until all `keys` are unlocked (0 when none is locked)."""
        now = self.clock()
        with self._lock:
            return max((self._keys[k].locked_until - now for k in keys if k in self._keys), default=0.0) if keys else 0.0

    def failure(self, *keys: str) -> bool:
        """Count a failure on every key; True when one of them just got locked."""
        now = self.clock()
        locked = False
        with self._lock:
            for key in keys:
                entry = self._keys.setdefault(key, _Failures())
                entry.count += 1
                if entry.count >= self.max_failures:
                    entry.lockouts += 1
                    entry.count = 0
                    entry.locked_until = now + min(MAX_LOCKOUT_SECONDS, self.lockout_seconds * 2 ** (entry.lockouts - 1))
                    locked = True
            if len(self._keys) > 100_000:  # bounded memory under a spray of names/addresses
                for key in [k for k, v in self._keys.items() if v.locked_until < now and v.lockouts == 0][:50_000]:
                    del self._keys[key]
        return locked

    def success(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                if key in self._keys:
                    self._keys[key].count = 0


@dataclass(frozen=True)
class LoginOutcome:
    principal: Principal | None
    retry_after: float = 0.0  # > 0: locked out, try again after this many seconds

    @property
    def locked(self) -> bool:
        return self.retry_after > 0


class PasswordVerifier(Protocol):
    def verify(self, username: str, password: str) -> Principal | None: ...


class AuditSink(Protocol):
    def record(self, actor: str, action: str, target: str = "", *, ok: bool = True, client: str = "", **detail: Any) -> None: ...


class LoginGuard:
    """The one login check for the JSON API and the dashboard form: throttling per user name
    and per client address, lockout with back-off, and an audit record of every attempt.

    `login(username, password, client)` returns a LoginOutcome: a principal on success; on a
    lockout `retry_after` > 0 and the password is not even checked.
    """

    def __init__(self, users: PasswordVerifier, throttle: LoginThrottle, audit: AuditSink | None = None) -> None:
        self.users = users
        self.throttle = throttle
        self.audit = audit

    def login(self, username: str, password: str, client: str = "") -> LoginOutcome:
        keys = (f"user:{username.lower()[:64]}", f"client:{client}")
        wait = self.throttle.retry_after(*keys)
        if wait > 0:
            self._audit(username, "login.locked", False, client, retry_after=round(wait, 1))
            return LoginOutcome(None, wait)
        principal = self.users.verify(username, password)
        if principal is None:
            locked = self.throttle.failure(*keys)
            self._audit(username, "login.failed", False, client, locked=locked)
            return LoginOutcome(None, self.throttle.retry_after(*keys) if locked else 0.0)
        self.throttle.success(*keys)
        self._audit(principal.name, "login.ok", True, client, role=principal.role)
        return LoginOutcome(principal)

    def _audit(self, actor: str, action: str, ok: bool, client: str, **detail: Any) -> None:
        if self.audit is not None:
            self.audit.record(actor[:64], action, ok=ok, client=client, **detail)
