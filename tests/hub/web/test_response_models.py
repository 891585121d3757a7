"""`response_model` on every JSON route (issue 16): /openapi.json says what each route returns.

The route table of the real app is walked, so a route added tomorrow without a model fails here
with its name. A route that answers something other than JSON says so itself, by declaring its
response class (HTML page, CSV, file, text); the few that cannot (redirects, the stream, the docs)
are listed below, each with its reason.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, routing
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from hub.provisioning.broker_files import new_secret
from poskamling.broker import MosquittoBroker
from poskamling.httpsink import NotificationSink
from tests.support import HUB_USER, HubHarness, post_entry

pytestmark = pytest.mark.e2e

Route = tuple[str, str]  # (method, path)

NOT_JSON: dict[Route, str] = {
    ("GET", "/openapi.json"): "the API description itself (not in the schema)",
    ("GET", "/docs"): "the Swagger UI page, HTML (not in the schema)",
    ("GET", "/api/stream"): "Server-Sent Events (text/event-stream) for the dashboard; hub/web/live.py",
    ("POST", "/logout"): "the dashboard's logout form: a 303 redirect to /login; hub/web/routes/dashboard.py",
    ("POST", "/ack/{token}"): "the phone ack page's button: a 303 redirect back to the page; hub/web/routes/ack.py",
    ("POST", "/ack/{token}/en-route"): "the phone ack page's button: a 303 redirect; hub/web/routes/ack.py",
    ("GET", "/ack/{token}/snapshot"): "a JPEG for the ack link holder; hub/web/routes/ack.py",
}
"""Routes that answer no JSON and declare no response class of their own, and why."""

PENDING: dict[Route, str] = {}
"""JSON routes another change in progress gives their model; allowed to lack one until then."""


def route_table(app: FastAPI) -> Iterator[tuple[Route, Any]]:
    """(method, path) and the route, for every HTTP route of the app, included routers resolved."""
    contexts = getattr(routing, "iter_route_contexts", None)  # FastAPI >= 0.165 keeps included routers nested
    routes = list(contexts(app.routes)) if contexts else list(app.routes)
    for route in routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                yield (method, route.path), route


def declares_other_media(route: Any) -> bool:
    """The route declared a response class that is not JSON (HTMLResponse, FileResponse, CSV, text)."""
    declared = route.response_class
    return not isinstance(declared, DefaultPlaceholder) and not issubclass(declared, JSONResponse)


def documented_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a response model documents: `Model` or `list[Model]`; None for `dict[str, Any]` etc."""
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation.model_fields:
        return annotation
    return None


def json_routes(app: FastAPI) -> dict[Route, Any]:
    return {key: route for key, route in route_table(app) if key not in NOT_JSON and not declares_other_media(route)}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubHarness]:
    # One hub for the module (as tests/conftest.py builds one): the tests only read the route table and the schema.
    base = tmp_path_factory.mktemp("response-models")
    broker = MosquittoBroker(base / "broker", accounts={HUB_USER: new_secret()})
    sink = NotificationSink()
    broker.start()
    sink.start()
    harness = HubHarness(
        broker, sink, base / "hub", [post_entry("pos-a", "Pos A")], [{"name": "officer", "urls": [sink.url("officer")]}]
    )
    harness.start()
    yield harness
    harness.stop()
    sink.stop()
    broker.stop()


def test_every_json_route_has_a_response_model(hub: HubHarness) -> None:
    assert hub.web is not None
    routes = json_routes(hub.web.app)
    assert len(routes) > 30, "the route table walk found too few routes to mean anything"
    missing = sorted(
        f"{method} {path} ({route.endpoint.__module__}.{route.endpoint.__name__})"
        for (method, path), route in routes.items()
        if documented_model(route.response_model) is None and (method, path) not in PENDING
    )
    assert not missing, (
        "JSON routes without a response model (set response_model=, or declare a response class):\n"
        + "\n".join(missing)
    )


def test_the_lists_of_exceptions_name_real_routes(hub: HubHarness) -> None:
    assert hub.web is not None
    table = dict(route_table(hub.web.app))
    stale = sorted(f"{m} {p}" for m, p in [*NOT_JSON, *PENDING] if (m, p) not in table)
    assert not stale, f"exceptions for routes that no longer exist: {stale}"
    modelled = sorted(
        f"{m} {p}"
        for m, p in NOT_JSON
        if declares_other_media(table[(m, p)]) or documented_model(table[(m, p)].response_model)
    )
    assert not modelled, f"no longer exceptions (they declare their response now): {modelled}"


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.rsplit("/", 1)[-1]
    found: dict[str, Any] = spec["components"]["schemas"][name]
    return found


def success(operation: dict[str, Any], route: Any) -> dict[str, Any]:
    responses = operation["responses"]
    code = str(route.status_code or 200)
    assert code in responses, f"no {code} response documented"
    answer: dict[str, Any] = responses[code]
    return answer


def test_openapi_documents_the_response_schema_of_every_json_route(hub: HubHarness) -> None:
    assert hub.web is not None
    spec = hub.client("viewer").get("/openapi.json").json()
    checked, problems = 0, []
    for (method, path), route in sorted(json_routes(hub.web.app).items()):
        if not route.include_in_schema or (
            (method, path) in PENDING and documented_model(route.response_model) is None
        ):
            continue
        name = f"{method} {path}"
        operation = spec["paths"].get(path, {}).get(method.lower())
        if operation is None:
            problems.append(f"{name}: not in /openapi.json")
            continue
        schema = success(operation, route).get("content", {}).get("application/json", {}).get("schema", {})
        schema = resolve(spec, schema)
        if schema.get("type") == "array":
            schema = resolve(spec, schema.get("items", {}))
        if not schema.get("properties"):
            problems.append(f"{name}: no response schema with properties: {schema}")
        checked += 1
    assert not problems, "\n".join(problems)
    assert checked > 30


def test_openapi_gives_the_media_type_of_routes_that_answer_no_json(hub: HubHarness) -> None:
    assert hub.web is not None
    spec = hub.client("viewer").get("/openapi.json").json()
    wrong = []
    for (method, path), route in route_table(hub.web.app):
        if not route.include_in_schema or not declares_other_media(route):
            continue
        content = success(spec["paths"][path][method.lower()], route).get("content", {})
        if "application/json" in content:
            wrong.append(f"{method} {path}: documented as JSON, declared {route.response_class.__name__}")
    assert not wrong, "\n".join(wrong)
    csv = spec["paths"]["/api/reports/{section}.csv"]["get"]["responses"]["200"]["content"]
    assert list(csv) == ["text/csv"]
    assert "application/json" not in spec["paths"]["/metrics"]["get"]["responses"]["200"].get("content", {})
