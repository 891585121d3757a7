"""GET /metrics for Prometheus: a viewer role or the dedicated metrics token (which opens nothing else)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST

from hub.accounts.auth import allowed, token_digest
from hub.service import HubService
from hub.web.deps import BearerDep, HubDep, authenticate
from hub.web.scope import forbid_scoped


def _metrics_token_ok(hub: HubService, credentials: HTTPAuthorizationCredentials | None) -> bool:
    expected = hub.settings.metrics_token_sha256
    if not expected or credentials is None:
        return False
    return hmac.compare_digest(token_digest(credentials.credentials), expected)


def metrics_access(request: Request, hub: HubDep, credentials: BearerDep) -> None:
    """Dependency: the metrics token, or any signed-in role from viewer up."""
    if _metrics_token_ok(hub, credentials):
        return
    principal = authenticate(request, hub, credentials)
    if not allowed(principal, ("viewer", "operator", "technician")):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs role viewer or the metrics token")
    forbid_scoped(principal)  # hub-wide counts (open alerts per kind, posts online): not a village account's


MetricsReader = Annotated[None, Depends(metrics_access)]


router = APIRouter()


# Declared as text so /openapi.json does not promise JSON; the response sets the exact Prometheus type.
@router.get(
    "/metrics", summary="Prometheus metrics (viewer role or the metrics token)", response_class=PlainTextResponse
)
def metrics(hub: HubDep, _: MetricsReader) -> Response:
    source = getattr(hub, "metrics", None)
    if source is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "metrics not enabled")
    return Response(source.render(), media_type=CONTENT_TYPE_LATEST)
