"""Police visits (sambang) from the post's QR poster: `/sambang/<post token>` on the officer's phone.

The poster's signed, post-bound token names the post. The officer is recognised by their
dashboard session or by the personal link they opened once on this phone
(`/sambang/saya/<officer token>`, from `poskamling officers link <id>`), which leaves the token in
a cookie for this path only. The visit form also carries a short-lived form token bound to the
officer and the post, so a page elsewhere cannot post a visit in the officer's name.
Forged or malformed tokens get 403, expired ones 410, each with a page that says so.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response

from hub.accounts.auth import address_key
from hub.accounts.sessions import SESSION_COOKIE
from hub.community.images import PhotoError
from hub.community.links import LinkError
from hub.community.service import TooSoon, Visitor
from hub.community.store import Visit
from hub.i18n import Translator
from hub.settings import PostSettings
from hub.storage.sql.database import StoreUnavailable
from hub.web.deps import HubDep, Viewer, scope
from hub.web.routes.community_pages import (
    BodyTooLarge,
    field,
    language,
    link_error,
    number,
    page,
    photo_bytes,
    photo_response,
    read_form,
)
from hub.web.routes.ronda import post_in_scope
from hub.web.schemas import VisitOut

router = APIRouter(tags=["sambang"])

OFFICER_COOKIE = "kamling_officer"


def _post(hub: HubDep, token: str) -> PostSettings:
    claim = hub.community.signer().verify(token, "sambang")
    post = hub.community.post(claim.subject)
    if post is None:
        raise LinkError("missing")
    return post


def _visitor(hub: HubDep, request: Request) -> Visitor | None:
    session = hub.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        return Visitor(f"user:{session.principal.name}", session.principal.name, "session")
    token = request.cookies.get(OFFICER_COOKIE)
    if not token:
        return None
    try:
        claim = hub.community.signer().verify(token, "officer")
    except LinkError:
        return None
    return hub.community.officer_visitor(claim.subject)


def _local(hub: HubDep, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(hub.settings.timezone)).strftime("%d-%m-%Y %H:%M")


def _form(
    hub: HubDep,
    request: Request,
    token: str,
    post: PostSettings,
    visitor: Visitor | None,
    lang: str,
    status: int = 200,
    error: str | None = None,
    note: str = "",
) -> HTMLResponse:
    last = hub.community.last_visit(post.device_id, visitor) if visitor else None
    return page(
        "sambang.html",
        lang,
        status,
        post=post,
        visitor=visitor,
        token=token,
        error=error,
        note=note,
        form_token=hub.community.form_token(visitor, post.device_id) if visitor else "",
        last=_local(hub, last.at) if last else None,
    )


@router.get("/sambang/saya/{token}", response_class=HTMLResponse, include_in_schema=False)
def personal_link(token: str, request: Request, hub: HubDep) -> Response:
    """An officer's personal link: remembered on this phone (cookie for /sambang only)."""
    lang = language(request)
    try:
        claim = hub.community.signer().verify(token, "officer")
    except LinkError as exc:
        return link_error(exc.reason, lang)
    visitor = hub.community.officer_visitor(claim.subject)
    if visitor is None:
        return link_error("invalid", lang)
    t = Translator(lang)
    response = page(
        "message.html", lang, title=t("sambang_title"), lines=[t("sambang_personal_ok", name=visitor.name)], tone="good"
    )
    max_age = max(0, int(claim.expires - hub.community.signer().clock()))
    response.set_cookie(
        OFFICER_COOKIE,
        token,
        max_age=max_age,
        path="/sambang",
        httponly=True,
        secure=hub.settings.public_url.startswith("https://"),
        samesite="lax",
    )
    return response


@router.get("/sambang/{token}", response_class=HTMLResponse, include_in_schema=False)
def visit_page(token: str, request: Request, hub: HubDep) -> Response:
    lang = language(request)
    try:
        post = _post(hub, token)
    except LinkError as exc:
        return link_error(exc.reason, lang)
    return _form(hub, request, token, post, _visitor(hub, request), lang)


@router.post("/sambang/{token}", response_class=HTMLResponse, include_in_schema=False)
async def record_visit(token: str, request: Request, hub: HubDep) -> Response:
    lang = language(request)
    t = Translator(lang)
    try:
        post = _post(hub, token)
    except LinkError as exc:
        return link_error(exc.reason, lang)
    visitor = _visitor(hub, request)
    if visitor is None:
        return _form(hub, request, token, post, None, lang, status=401)
    try:
        form = await read_form(request)
    except BodyTooLarge:
        return _form(hub, request, token, post, visitor, lang, 413, t("community_error_too_big"))
    note = field(form, "note")
    try:
        hub.community.signer().verify(field(form, "form"), "form", f"{visitor.id}|{post.device_id}")
    except LinkError:
        return _form(hub, request, token, post, visitor, lang, 403, t("community_error_form"), note)
    photo = await photo_bytes(form)
    client = address_key(request.client.host if request.client else "")
    try:
        visit: Visit = await run_in_threadpool(
            hub.community.record_visit,
            post,
            visitor,
            note=note,
            photo=photo,
            lat=number(form, "lat"),
            lon=number(form, "lon"),
            accuracy=number(form, "accuracy"),
            client=client,
        )
    except TooSoon as exc:
        return page(
            "message.html",
            lang,
            429,
            title=t("sambang_title"),
            tone="warn",
            lines=[t("sambang_too_soon", time=_local(hub, exc.last.at))],
        )
    except PhotoError as exc:
        return _form(hub, request, token, post, visitor, lang, 400, t(f"community_error_photo_{exc.reason}"), note)
    except StoreUnavailable:
        return _form(hub, request, token, post, visitor, lang, 503, t("community_error_unavailable"), note)
    lines = [
        f"{t('community_post')}: {post.name}",
        f"{t('sambang_officer')}: {visit.officer_name}",
        f"{t('sambang_time')}: {_local(hub, visit.at)}",
    ]
    meters = f"{visit.distance_m:.0f}" if visit.distance_m is not None else ""
    if visit.flag:
        lines.append(t(f"sambang_flag_{visit.flag}", meters=meters))
    elif meters:
        lines.append(t("sambang_distance", meters=meters))
    return page(
        "message.html",
        lang,
        201,
        title=t("sambang_recorded"),
        lines=lines,
        tone="warn" if visit.flag else "good",
        flag=visit.flag or "none",
    )


# -- for the dashboard and the API ---------------------------------------------------------------


def visit_view(visit: Visit) -> dict[str, object]:
    return {
        "id": visit.id,
        "post": visit.post,
        "officer": visit.officer,
        "officer_name": visit.officer_name,
        "at": visit.at.isoformat(),
        "lat": visit.lat,
        "lon": visit.lon,
        "accuracy_m": visit.accuracy_m,
        "distance_m": visit.distance_m,
        "flag": visit.flag,
        "note": visit.note,
        "photo": bool(visit.photo),
        "via": visit.via,
    }


@router.get("/api/sambang/visits", summary="Police visits to posts, newest first", response_model=list[VisitOut])
def list_visits(hub: HubDep, who: Viewer, post: str | None = None, limit: int = 100) -> list[dict[str, object]]:
    # a village account: its posts only, in the query (so `limit` counts its visits)
    posts = scope(who).devices(hub.registry)
    return [visit_view(v) for v in hub.community.store.visits(post=post, limit=max(1, min(limit, 1000)), posts=posts)]


@router.get("/api/sambang/visits/{visit_id}/photo", summary="A visit's photo", response_class=FileResponse)
def visit_photo(visit_id: str, hub: HubDep, who: Viewer) -> Response:
    visit = hub.community.store.get_visit(visit_id)
    if visit is not None and not post_in_scope(hub, who, visit.post):
        visit = None  # another village's: as if it did not exist
    return photo_response(hub.community.store.photo_path(visit.photo if visit else None))
