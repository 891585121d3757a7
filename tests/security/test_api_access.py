"""Every route needs a role: walk the app's route table (not a hand-kept list) against the real hub."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from starlette.routing import Mount

from tests.support import post_entry, wait_for

pytestmark = pytest.mark.e2e

# Routes anyone may call, each with its reason. Everything else must refuse a stranger.
PUBLIC = {
    "/api/health": "liveness for monitoring; counters only, no personal data",
    "/api/auth/login": "the login itself (throttled, audited)",
    "/login": "the dashboard login form",
    "/ack/{token}": "signed, expiring acknowledgement link from an officer's phone (the token is the credential)",
    "/ack/{token}/en-route": "signed acknowledgement link",
    "/ack/{token}/snapshot": "signed acknowledgement link",
}
SMALL_ROLES = ("viewer", "operator", "technician")


def _routes(app: Any) -> list[tuple[str, set[str], Any]]:
    """(path, methods, dependant) of every route, through included routers of any FastAPI version."""
    found: list[tuple[str, set[str], Any]] = []

    def visit(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, Mount):
                found.append((route.path + "/{path}", {"GET"}, None))
            elif hasattr(route, "effective_candidates"):  # FastAPI >= 0.160: routers included lazily
                candidates = route.effective_candidates
                visit(list(candidates() if callable(candidates) else candidates))
            elif getattr(route, "methods", None):
                found.append((route.path, set(route.methods) - {"HEAD"}, getattr(route, "dependant", None)))

    visit(list(app.routes))
    return found


def _roles(dependant: Any) -> tuple[str, ...] | None:
    """The roles a `require(*roles)` dependency in the tree accepts, if there is one."""
    if dependant is None:
        return None
    call = getattr(dependant, "call", None)
    if callable(call):
        try:
            roles = inspect.getclosurevars(call).nonlocals.get("roles")
        except TypeError:
            roles = None
        if isinstance(roles, tuple):
            return roles
    for sub in dependant.dependencies:
        roles = _roles(sub)
        if roles is not None:
            return roles
    return None


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "01JDZZZZZZZZZZZZZZZZZZZZZZ", path)


def _refused(response: Any, path: str) -> bool:
    if response.status_code == 401:
        return True
    # Dashboard (HTML) routes send a browser without a session to the login form (303) instead
    # of a bare 401; the JSON API under /api/ must answer 401.
    return not path.startswith("/api/") and response.status_code == 303 and response.headers["location"].startswith("/login")


def test_every_route_refuses_strangers_and_too_small_roles(make_hub) -> None:
    hub = make_hub([post_entry("pos-rw01")])
    assert hub.service is not None and hub.web is not None
    from hub.web.app import create_app

    routes = _routes(create_app(hub.service))
    assert len(routes) > 20, "the route walk found too few routes: is it still seeing included routers?"
    stranger = hub.client(None)
    checked_roles = 0
    for path, methods, dependant in routes:
        if path in PUBLIC or path.startswith("/static/"):
            continue
        for method in sorted(methods):
            url = _concrete(path)
            response = stranger.request(method, url, follow_redirects=False)
            assert _refused(response, path), f"{method} {path} answered {response.status_code} without credentials"
            roles = _roles(dependant)
            if roles is None:
                continue
            for role in SMALL_ROLES:
                if role in roles:
                    continue
                response = hub.client(role).request(method, url, follow_redirects=False)
                assert response.status_code == 403, f"{method} {path} answered {response.status_code} to a {role}"
                checked_roles += 1
            response = hub.client("operator").request(method, url, headers={"Authorization": "Bearer wrong"})
            assert response.status_code == 401, f"{method} {path} accepted a wrong token"
    assert checked_roles > 5  # admin-only and operator routes exist and were checked


def test_static_files_need_no_login_but_hold_no_data(make_hub) -> None:
    """Static assets (CSS, JS) are public by design; nothing under /static is generated data."""
    hub = make_hub([post_entry("pos-rw01")])
    assert hub.client(None).get("/static/../users.json").status_code == 404


def _login(client: Any, username: str, password: str) -> Any:
    return client.post("/api/auth/login", json={"username": username, "password": password})


def test_session_cookie_needs_the_csrf_token_for_unsafe_methods(make_hub) -> None:
    hub = make_hub([post_entry("pos-rw01")])
    assert hub.service is not None
    hub.service.users.create("operator1", "Kuat-Sekali-2026", "operator")
    browser = hub.client(None)
    login = _login(browser, "operator1", "Kuat-Sekali-2026")
    assert login.status_code == 200, login.text
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    csrf = login.json()["csrf_token"]
    assert browser.get("/api/alerts").status_code == 200  # safe method: the cookie is enough

    missing = browser.post("/api/alerts/nope/ack")
    assert missing.status_code == 403 and "CSRF" in missing.text
    wrong = browser.post("/api/alerts/nope/ack", headers={"X-CSRF-Token": csrf[:-1] + "x"})
    assert wrong.status_code == 403
    right = browser.post("/api/alerts/nope/ack", headers={"X-CSRF-Token": csrf})
    assert right.status_code == 404  # past authentication and CSRF: the alert does not exist

    logout = browser.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert logout.status_code == 200
    assert browser.get("/api/alerts").status_code == 401


def test_login_lockout_per_user_and_per_client_is_audited(make_hub) -> None:
    hub = make_hub([post_entry("pos-rw01")], login_max_failures=3, login_lockout_seconds=60)
    assert hub.service is not None
    hub.service.users.create("operator2", "Kuat-Sekali-2026", "operator")
    client = hub.client(None)
    assert [_login(client, "operator2", f"salah-{i}").status_code for i in range(3)] == [401, 401, 429]
    locked = _login(client, "operator2", "Kuat-Sekali-2026")  # even the right password waits
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert _login(client, "someone-else", "whatever-pw").status_code == 429  # this client address is locked too

    admin = hub.client("admin")
    actions = [e["action"] for e in admin.get("/api/admin/audit", params={"action": "login"}).json()]
    assert actions.count("login.failed") == 3 and "login.locked" in actions
    assert hub.client("operator").get("/api/admin/audit").status_code == 403


def test_acknowledgement_is_audited(make_hub, make_post) -> None:
    hub = make_hub([post_entry("pos-rw01")])
    post = make_post("pos-rw01")
    api = hub.client("operator")
    wait_for(lambda: api.get("/api/posts").json()[0]["online"], what="post online")
    post.press()
    alert_id = wait_for(lambda: api.get("/api/alerts").json())[0]["id"]
    assert api.post(f"/api/alerts/{alert_id}/ack").status_code == 200
    entries = wait_for(lambda: hub.client("admin").get("/api/admin/audit", params={"action": "alert."}).json())
    assert entries[0]["action"] == "alert.ack" and entries[0]["target"] == alert_id
    assert entries[0]["actor"] == "test-operator"
