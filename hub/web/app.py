"""The hub's web app (FastAPI): the JSON API, the dashboard, the live stream, metrics and the ack page."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from hub.service import HubService
from hub.web.deps import Viewer
from hub.web.live import create_live_router
from hub.web.routes import ack, admin, api, auth, dashboard, metrics, reports, roster


def add_api_docs(app: FastAPI) -> None:
    """/openapi.json and the /docs explorer, for any logged-in user or API token (viewer and up)."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_schema(_: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def api_explorer(_: Viewer) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API")


def create_app(hub: HubService) -> FastAPI:
    # The API description and explorer sit behind a login like every other route (they reveal the route list).
    app = FastAPI(
        title="poskamling hub", version=hub.version, description="Pos Kamling hub API",
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.state.hub = hub
    add_api_docs(app)
    for router in (api.router, auth.router, admin.router, roster.router, reports.router, ack.router, metrics.router, dashboard.router):
        app.include_router(router)
    app.include_router(create_live_router(hub))
    app.mount("/static", StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    return app
