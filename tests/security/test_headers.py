"""Security headers on every response (issue 18): walk the app's route table (every method, as a
stranger, with an API token and with a dashboard session), plus 404s, 405s, static files, the live
stream and an unhandled error, and check every answer carries all the headers."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
import pytest

from hub.web.security_headers import NON_DOCUMENT_CSP, REQUIRED_HEADERS, dashboard_csp, tile_origin
from tests.security.test_api_access import _concrete, _routes
from tests.support import post_entry

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = "Kuat-Sekali-2026"
STREAMS = {"/api/stream"}  # never ends by itself: read the head, then hang up


def missing_headers(response: httpx.Response) -> list[str]:
    """What is missing or weak in one response's security headers (empty: all good)."""
    h = response.headers
    problems = [name for name in REQUIRED_HEADERS if name not in h]
    if problems:
        return problems
    if h["x-content-type-options"] != "nosniff":
        problems.append("X-Content-Type-Options")
    if h["x-frame-options"] != "DENY":
        problems.append("X-Frame-Options")
    if h["referrer-policy"] not in ("no-referrer", "same-origin"):
        problems.append("Referrer-Policy")
    if "camera=()" not in h["permissions-policy"]:
        problems.append("Permissions-Policy")
    csp = h["content-security-policy"]
    if "frame-ancestors 'none'" not in csp or "base-uri 'none'" not in csp:
        problems.append("Content-Security-Policy")
    script_src = re.search(r"script-src ([^;]*)", csp)
    if script_src and "'unsafe-inline'" in script_src.group(1):
        problems.append("Content-Security-Policy: inline script")
    is_static = response.request.url.path.startswith("/static/")
    if h["cache-control"] != ("no-cache" if is_static else "no-store"):
        problems.append("Cache-Control")
    return problems


def admin_session(hub: Any) -> tuple[httpx.Client, str]:
    hub.service.users.create("admin1", ADMIN_PASSWORD, "admin")
    browser = hub.client(None)
    login = browser.post("/api/auth/login", json={"username": "admin1", "password": ADMIN_PASSWORD})
    assert login.status_code == 200, login.text
    return browser, login.json()["csrf_token"]


def call(client: httpx.Client, method: str, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    if url in STREAMS:
        with client.stream(method, url, headers=headers) as response:
            return response  # the head is all we check; leaving the block hangs up
    return client.request(method, url, headers=headers, follow_redirects=False)


def test_every_route_and_every_error_carries_the_security_headers(make_hub) -> None:
    hub = make_hub([post_entry("pos-rw01")], map_tile_url="http://tiles.polsek.lan:8080/{z}/{x}/{y}.png")
    assert hub.service is not None
    from hub.web.app import create_app

    routes = _routes(create_app(hub.service))
    assert len(routes) > 40, "the route walk found too few routes"
    stranger, token = hub.client(None), hub.client("admin")
    session, csrf = admin_session(hub)
    callers = {"stranger": (stranger, {}), "token": (token, {}), "session": (session, {"X-CSRF-Token": csrf})}

    endpoints = [(method, _concrete(path)) for path, methods, _ in routes for method in sorted(methods)]
    endpoints += [  # what no route answers, and the static files
        ("GET", "/no/such/page"),
        ("GET", "/api/no-such-thing"),
        ("DELETE", "/api/posts"),
        ("GET", "/static/dashboard.css"),
        ("GET", "/static/live.js"),
        ("GET", "/static/no-such.js"),
    ]
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    good_endpoints = 0
    for method, url in endpoints:
        endpoint_ok = True
        for who, (client, headers) in callers.items():
            response = call(client, method, url, headers)
            statuses[response.status_code] += 1
            problems = missing_headers(response)
            if problems:
                endpoint_ok = False
                failures.append(f"{method} {url} as {who} -> {response.status_code}: {', '.join(problems)}")
        good_endpoints += endpoint_ok
    print(
        f"\nroutes with all security headers: {good_endpoints}/{len(endpoints)} "
        f"({len(routes)} routes in the table + 6 extra paths; {sum(statuses.values())} responses: {dict(sorted(statuses.items()))})"
    )
    assert not failures, "\n".join(failures)
    # The walk really met the cases the issue names: pages, JSON, redirects, 401s, 404s, 405s, 422s.
    assert {200, 303, 401, 404, 405, 422} <= set(statuses), statuses


def test_each_kind_of_response_gets_its_policy(make_hub) -> None:
    hub = make_hub([post_entry("pos-rw01")], map_tile_url="http://tiles.polsek.lan:8080/{z}/{x}/{y}.png")
    session, _ = admin_session(hub)
    page = session.get("/posts")
    assert page.status_code == 200 and page.headers["content-security-policy"] == dashboard_csp(
        "http://tiles.polsek.lan:8080/{z}"
    )
    assert "img-src 'self' data: http://tiles.polsek.lan:8080;" in page.headers["content-security-policy"]
    assert "script-src 'self';" in page.headers["content-security-policy"]
    login = hub.client(None).get("/login")
    assert login.status_code == 200 and "script-src 'self'" in login.headers["content-security-policy"]
    api = hub.client("viewer").get("/api/posts")
    assert api.headers["content-security-policy"] == NON_DOCUMENT_CSP and api.headers["cache-control"] == "no-store"
    # The ack page keeps its own stricter policy (no script at all); the middleware only adds base-uri.
    ack = hub.client(None).get("/ack/not-a-token")
    assert "default-src 'none'" in ack.headers["content-security-policy"]
    assert "base-uri 'none'" in ack.headers["content-security-policy"]
    # The API explorer's wider policy allows its CDN script and exactly its one inline script, by hash.
    docs = hub.client("viewer").get("/docs")
    assert docs.status_code == 200
    policy = docs.headers["content-security-policy"]
    assert (
        "https://cdn.jsdelivr.net 'sha256-" in policy
        and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    )


def test_no_tile_server_no_foreign_origin(make_hub) -> None:
    hub = make_hub([post_entry("pos-rw01")])
    session, _ = admin_session(hub)
    csp = session.get("/posts").headers["content-security-policy"]
    assert "img-src 'self' data:;" in csp and "http" not in csp


def test_tile_origins_that_could_break_out_of_the_policy_are_not_used() -> None:
    assert tile_origin("https://tiles.lan/{z}/{x}/{y}.png") == "https://tiles.lan"
    assert tile_origin("https://a.tiles.lan;script-src *") is None
    assert tile_origin("javascript:alert(1)") is None
    assert tile_origin(None) is None
    from hub.settings import HubSettings

    with pytest.raises(ValueError, match="map_tile_url"):
        HubSettings(mqtt_password="x", map_tile_url="https://tiles.lan;script-src */{z}/{x}/{y}.png")


def test_an_unhandled_error_still_carries_the_headers(make_hub) -> None:
    hub = make_hub([post_entry("pos-rw01")])

    def boom() -> None:
        raise RuntimeError("a bug, on purpose (the test's)")

    hub.web.app.add_api_route("/boom", boom)  # routes are looked up per request: the running app serves it
    response = hub.client(None).get("/boom")
    assert response.status_code == 500
    assert not missing_headers(response)
