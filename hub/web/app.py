"""The hub's web app (FastAPI): the JSON API, the dashboard, the live stream, metrics and the ack page."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from hub.service import HubService
from hub.web.deps import Viewer
from hub.web.live import create_live_router
from hub.web.routes import (
    ack,
    admin,
    alert_actions,
    api,
    auth,
    dashboard,
    lapor,
    metrics,
    post_actions,
    reports,
    reports_page,
    ronda,
    ronda_sambang,
    roster,
    sambang,
)
from hub.web.security_headers import SecurityHeaders

SWAGGER_CDN = "https://cdn.jsdelivr.net"  # where FastAPI's explorer page loads Swagger UI from
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def explorer_csp(html: bytes) -> str:
    """The /docs page's own policy, wider than the dashboard's and only there (logged-in users):
    Swagger UI from its CDN, its one inline start-up script by hash (not 'unsafe-inline'), and
    inline styles, which Swagger UI's React components set."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.finditer(html)
    )
    return (
        f"default-src 'none'; script-src {SWAGGER_CDN} {hashes}; style-src {SWAGGER_CDN} 'unsafe-inline'; "
        "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def add_api_docs(app: FastAPI) -> None:
    """/openapi.json and the /docs explorer, for any logged-in user or API token (viewer and up)."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_schema(_: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def api_explorer(_: Viewer) -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API")
        page.headers["Content-Security-Policy"] = explorer_csp(bytes(page.body))
        return page


def create_app(hub: HubService) -> FastAPI:
    # The API description and explorer sit behind a login like every other route (they reveal the route list).
    app = FastAPI(
        title="poskamling hub",
        version=hub.version,
        description="Pos Kamling hub API",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.hub = hub
    add_api_docs(app)
    for router in (
        api.router,
        auth.router,
        admin.router,
        roster.router,
        ronda.router,
        reports.router,
        ack.router,
        metrics.router,
        dashboard.router,
    ):
        app.include_router(router)
    for router in (sambang.router, lapor.router):  # the QR poster's phone pages and their API (issue 14)
        app.include_router(router)
    app.include_router(alert_actions.router)  # operators' notes, assignments, reported incidents, procedures (issue 15)
    app.include_router(post_actions.router)  # a post's page and its commands: siren, picture, ping (issue 15)
    app.include_router(ronda_sambang.router)  # Ronda & Sambang overview and the weekly village report (issue 14)
    app.include_router(reports_page.router)  # the reports page: response times, jam rawan (issue 15)
    app.include_router(create_live_router(hub))
    app.mount("/static", StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    # Outermost of the app's middleware: every response, errors and static files included, gets the headers.
    app.add_middleware(SecurityHeaders, tile_url=hub.settings.map_tile_url)
    return app
