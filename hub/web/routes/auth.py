"""Login, logout and who-am-I for dashboard sessions (cookie + CSRF token)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from hub.accounts.auth import DEVICE_COOKIE, LoginOutcome
from hub.accounts.sessions import SESSION_COOKIE
from hub.web.deps import HubDep, Viewer
from hub.web.schemas import LoginOut, LogoutOut, MeOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def set_session_cookie(response: Response, session_id: str, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, secure=secure, samesite="strict", path="/")


def set_device_cookie(response: Response, outcome: LoginOutcome, days: float, secure: bool) -> None:
    """The known-browser cookie (hub/accounts/auth.py): lets this browser past a stranger's
    failures on the same account. Only the hub reads it (HttpOnly, SameSite=Strict)."""
    if outcome.device_cookie:
        response.set_cookie(
            DEVICE_COOKIE,
            outcome.device_cookie,
            max_age=int(days * 86400),
            httponly=True,
            secure=secure,
            samesite="strict",
            path="/",
        )


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def client_address(request: Request) -> str:
    """The peer address (a proxy in front of the hub must be trusted explicitly: not yet)."""
    return request.client.host if request.client else ""


@router.post(
    "/login",
    summary="Log in with user name and password; sets an HTTP-only session cookie",
    responses={
        401: {"description": "wrong user name or password"},
        429: {"description": "too many failures: wait Retry-After seconds"},
    },
    response_model=LoginOut,
)
def login(body: LoginRequest, request: Request, response: Response, hub: HubDep) -> dict[str, Any]:
    outcome = hub.login_guard.login(
        body.username, body.password, client_address(request), request.cookies.get(DEVICE_COOKIE)
    )
    if outcome.throttled:  # slowed down, not locked out: the wait is short and the password was not checked
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed logins; try again shortly",
            {"Retry-After": retry_after_header(outcome.retry_after)},
        )
    principal = outcome.principal
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password")
    session = hub.sessions.create(principal)
    secure = hub.settings.public_url.startswith("https://")
    set_session_cookie(response, session.id, secure)
    set_device_cookie(response, outcome, hub.settings.login.device_cookie_days, secure)
    return {"username": principal.name, "role": principal.role, "csrf_token": session.csrf_token}


@router.post("/logout", summary="End the dashboard session", response_model=LogoutOut)
def logout(request: Request, response: Response, hub: HubDep, who: Viewer) -> dict[str, str]:
    hub.audit.record(who.name, "logout", client=client_address(request))
    hub.sessions.destroy(request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"status": "logged out"}


@router.get("/me", summary="Who is logged in, with the CSRF token for unsafe requests", response_model=MeOut)
def me(request: Request, hub: HubDep, who: Viewer) -> dict[str, Any]:
    session = hub.sessions.get(request.cookies.get(SESSION_COOKIE))
    csrf = session.csrf_token if session else None
    return {"username": who.name, "role": who.role, "villages": list(who.villages), "csrf_token": csrf}
