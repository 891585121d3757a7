"""Every route needs a role: walk the app's route table (not a hand-kept list) against the real hub."""

from __future__ import annotations

import inspect
import re
from typing import Any

import httpx
import pytest
from starlette.routing import Mount

from hub.accounts.auth import DEVICE_COOKIE
from hub.accounts.sessions import SESSION_COOKIE
from tests.support import VirtualClock, post_entry, wait_for

pytestmark = pytest.mark.e2e

# Routes anyone may call, each with its reason. Everything else must refuse a stranger.
PUBLIC = {
    "/api/health": "liveness for monitoring; counters only, no personal data",
    "/api/auth/login": "the login itself (throttled, audited)",
    "/login": "the dashboard login form",
    "/ack/{token}": "signed, expiring acknowledgement link from an officer's phone (the token is the credential)",
    "/ack/{token}/en-route": "signed acknowledgement link",
    "/ack/{token}/snapshot": "signed acknowledgement link",
    "/sambang/{token}": "the QR poster's signed, post-bound visit link; recording needs an officer (session or personal link)",
    "/sambang/saya/{token}": "an officer's signed, expiring personal link (the token is the credential)",
    "/lapor/{token}": "residents' quick report from the QR poster: signed post-bound link, rate limited per address and post",
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
    return (
        not path.startswith("/api/")
        and response.status_code == 303
        and response.headers["location"].startswith("/login")
    )


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


def _client_from(hub: Any, address: str) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x address reaches the hub on loopback)."""
    assert hub.web is not None
    return httpx.Client(base_url=hub.web.url, timeout=10, transport=httpx.HTTPTransport(local_address=address))


def _form_login(client: Any, username: str, password: str) -> Any:
    return client.post("/login", data={"username": username, "password": password}, follow_redirects=False)


OPERATOR_ADDRESS, STRANGER_ADDRESS, LAPTOP_ADDRESS, NEW_ADDRESS = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"


def test_a_stranger_hammering_an_operator_cannot_lock_them_out(make_hub) -> None:
    """Issue 18: hundreds of wrong guesses from another address (virtual clock), through both
    login paths; the operator still logs in at once from their console or their known browser,
    and within the account's cap (30 s) from a machine the hub has never seen."""
    hub = make_hub([post_entry("pos-rw01")])
    assert hub.service is not None
    clock = VirtualClock()
    hub.service.login_guard.throttle.clock = clock  # the throttle's time only; cookies keep real time
    hub.service.users.create("operator2", "Kuat-Sekali-2026", "operator")

    console = _client_from(hub, OPERATOR_ADDRESS)
    assert _login(console, "operator2", "Kuat-Sekali-2026").status_code == 200  # an earlier shift
    laptop = _client_from(hub, LAPTOP_ADDRESS)
    first = _form_login(laptop, "operator2", "Kuat-Sekali-2026")
    assert first.status_code == 303 and DEVICE_COOKIE in first.cookies  # this browser is known from now on
    laptop.cookies.delete(SESSION_COOKIE)

    stranger = _client_from(hub, STRANGER_ADDRESS)
    answers = []
    for n in range(300):  # ten guesses a second for 30 s, half through the API, half through the form
        response = (
            _login(stranger, "operator2", f"tebakan-{n}")
            if n % 2
            else _form_login(stranger, "operator2", f"tebakan-{n}")
        )
        answers.append(response.status_code)
        clock.sleep(0.1)
    assert set(answers) <= {401, 429} and answers.count(401) < 20  # only a few guesses were even checked
    print(f"\nstranger: {len(answers)} attempts in 30 s, {answers.count(401)} checked, {answers.count(429)} refused")
    # The stranger's own address waits, whatever the account (or password) it tries next.
    someone = _login(stranger, "someone-else", "whatever-pw")
    assert someone.status_code == 429 and int(someone.headers["retry-after"]) > 0

    # The operator's console (a known address) and known browser get in at once, by both paths.
    assert _login(console, "operator2", "Kuat-Sekali-2026").status_code == 200
    assert _form_login(_client_from(hub, OPERATOR_ADDRESS), "operator2", "Kuat-Sekali-2026").status_code == 303
    assert _login(laptop, "operator2", "Kuat-Sekali-2026").status_code == 200
    # A never-seen machine waits for the account's slowdown only: seconds, not an hour.
    newcomer = _client_from(hub, NEW_ADDRESS)
    waiting = _login(newcomer, "operator2", "Kuat-Sekali-2026")
    if waiting.status_code == 429:
        wait = int(waiting.headers["retry-after"])
        assert 1 <= wait <= 30
        clock.sleep(wait)
        waiting = _login(newcomer, "operator2", "Kuat-Sekali-2026")
    assert waiting.status_code == 200

    clock.sleep(600)  # the stranger's waits are over: one last guess carries the count of the refusals before it
    assert _login(stranger, "operator2", "last-guess").status_code == 401

    records = hub.client("admin").get("/api/admin/audit", params={"action": "login", "limit": 1000}).json()
    by_stranger = [r for r in records if r["client"] == STRANGER_ADDRESS]
    assert {r["action"] for r in by_stranger} == {"login.failed", "login.throttled"}
    throttled = [r for r in by_stranger if r["action"] == "login.throttled"]
    assert all(r["detail"]["retry_after"] > 0 and r["detail"]["scope"] in ("account", "address") for r in throttled)
    failed = [r for r in by_stranger if r["action"] == "login.failed"]
    refused = sum(r["detail"].get("account_refused", 0) + r["detail"].get("address_refused", 0) for r in failed)
    assert len(failed) + refused >= 300 + 2  # every attempt is in the log (the newcomer's one refusal may add one)
    assert len(by_stranger) < 60  # ...in a few dozen records, not one fsync per attempt
    spared = [r for r in records if r["action"] == "login.ok" and r["detail"].get("exempt")]
    assert {r["detail"]["exempt"] for r in spared} == {"known_address", "known_browser"}
    assert hub.client("operator").get("/api/admin/audit").status_code == 403


def test_the_old_lockout_settings_stop_the_hub_with_a_clear_error(tmp_path) -> None:
    from hub.settings import load_hub_settings
    from kamling.configfile import ConfigError

    config = tmp_path / "hub.yaml"
    config.write_text("mqtt_password: x\nlogin_max_failures: 5\nlogin_lockout_seconds: 60\n")
    with pytest.raises(ConfigError, match=re.escape("login_max_failures -> login.account_free_failures")):
        load_hub_settings(config)


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
