"""What every route shares: the hub from `app.state`, who is calling, and the role checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.accounts.auth import Principal, TokenAuthenticator, allowed
from hub.accounts.sessions import CSRF_HEADER, SESSION_COOKIE
from hub.service import HubService
from hub.settings import Role
from hub.web.scope import Scope, forbid_scoped

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


VILLAGE_ROLES: frozenset[Role] = frozenset({"viewer", "operator"})
"""Routes open to one of these roles serve village accounts too (filtered by their Scope); a route
for admins or technicians only is about the whole hub, and refuses an account limited to villages."""


def require(*roles: Role) -> Any:
    """Dependency: the caller must hold one of `roles` (admins hold all). Without viewer or operator
    among `roles` the route is about the whole hub: a village-scoped account gets 403 (hub/web/scope.py)."""

    def check(request: Request, hub: HubDep, credentials: BearerDep) -> Principal:
        principal = authenticate(request, hub, credentials)
        if not allowed(principal, roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs role {' or '.join(roles)}")
        if not VILLAGE_ROLES.intersection(roles):
            forbid_scoped(principal)
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer", "operator", "technician"))]
Operator = Annotated[Principal, Depends(require("operator"))]


def scope(principal: Principal) -> Scope:
    """What `principal` may see: `scope(who).devices(hub.registry)` into a query, `.check_device(...)`
    for one object (404 outside it). See hub/web/scope.py and docs/security.md."""
    return Scope.of(principal)


def alert_in_scope(hub: HubService, who: Principal, alert_id: str) -> None:
    """Before acting on an alert (ack, resolve, notes, ...): another village's answers 404, as an
    unknown id does. The alert service acts on the alerts it holds, so its memory is where to look."""
    alert = hub.alerts.get(alert_id)
    if alert is not None:
        scope(who).check_device(hub.registry, alert.device, "no such alert")
