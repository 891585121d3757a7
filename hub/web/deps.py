"""What every route shares: the hub from `app.state`, who is calling, and the role checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.accounts.auth import Principal, TokenAuthenticator, allowed
from hub.accounts.sessions import CSRF_HEADER, SESSION_COOKIE
from hub.service import HubService
from hub.settings import Role

bearer = HTTPBearer(auto_error=False)


def get_hub(request: Request) -> HubService:
    """The hub this app serves (set by create_app)."""
    hub: HubService = request.app.state.hub
    return hub


HubDep = Annotated[HubService, Depends(get_hub)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def authenticate(request: Request, hub: HubService, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """Who is calling: a bearer token (API clients) or a dashboard session cookie (+ CSRF)."""
    if credentials is not None:
        principal = TokenAuthenticator(hub.settings.api_tokens).authenticate(credentials.credentials)
        if principal is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid token", {"WWW-Authenticate": "Bearer"})
        return principal
    session = hub.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "authentication required", {"WWW-Authenticate": "Bearer"})
    if request.method in UNSAFE_METHODS and not hub.sessions.csrf_ok(session, request.headers.get(CSRF_HEADER)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    return session.principal


def require(*roles: Role) -> Any:
    """Dependency: the caller must hold one of `roles` (admins hold all)."""

    def check(request: Request, hub: HubDep, credentials: BearerDep) -> Principal:
        principal = authenticate(request, hub, credentials)
        if not allowed(principal, roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs role {' or '.join(roles)}")
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer", "operator", "technician"))]
Operator = Annotated[Principal, Depends(require("operator"))]
