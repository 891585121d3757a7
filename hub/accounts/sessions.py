"""Dashboard sessions: random ids in HTTP-only cookies, a CSRF token per session, idle expiry."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.accounts.auth import Principal

SESSION_COOKIE = "kamling_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"


@dataclass(frozen=True)
class Session:
    id: str
    principal: Principal
    csrf_token: str
    expires: float  # monotonic


class SessionManager:
    """Server-side sessions in memory: a hub restart logs everyone out, which is safe."""

    def __init__(self, idle_seconds: float = 12 * 3600, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, principal: Principal) -> Session:
        session = Session(
            secrets.token_urlsafe(32), principal, secrets.token_urlsafe(32), self.clock() + self.idle_seconds
        )
        with self._lock:
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session for a cookie value, refreshed; None if unknown or expired."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            now = self.clock()
            if session.expires < now:
                del self._sessions[session_id]
                return None
            refreshed = Session(session.id, session.principal, session.csrf_token, now + self.idle_seconds)
            self._sessions[session_id] = refreshed
            return refreshed

    def destroy(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._sessions.pop(session_id, None)

    def destroy_user(self, username: str) -> None:
        with self._lock:
            for sid in [s.id for s in self._sessions.values() if s.principal.name == username]:
                del self._sessions[sid]

    @staticmethod
    def csrf_ok(session: Session, presented: str | None) -> bool:
        return bool(presented) and secrets.compare_digest(session.csrf_token, presented or "")
