"""The operator dashboard: server-rendered HTML pages over HubService (Jinja2, no build step).

Every page but /login needs a dashboard session; without one the browser is sent to
/login?next=<page>. Viewers can look; operators (and admins) also get the acknowledge and
resolve controls, which call the JSON API with the session's CSRF token. Live updates come
from /api/stream (hub.live); the page scripts live in hub/static.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles  # noqa: F401  (mounted by hub.api.create_app)
from fastapi.templating import Jinja2Templates

from hub.accounts.auth import DEVICE_COOKIE, LoginOutcome, Principal, allowed
from hub.accounts.sessions import CSRF_FORM_FIELD, SESSION_COOKIE, Session
from hub.alerting.messages import TZ_ABBREVIATION
from hub.alerting.rules import Alert, AlertKind, Outcome
from hub.duty.roster import is_on_duty
from hub.i18n import LANG_COOKIE, Translator, choose_language, weekday_names
from hub.service import HubService
from hub.storage.events import EventQuery
from hub.storage.sql.events import decode_cursor
from hub.web.alert_extras import alert_extras
from hub.web.deps import HubDep, scope
from hub.web.mapview import build_map
from hub.web.render import bad_value, format_time, make_environment
from hub.web.routes.auth import client_address, retry_after_header, set_device_cookie, set_session_cookie
from hub.web.views import alert_view, event_views, post_views
from kamling.protocol import EventKind

PACKAGE = Path(__file__).parent.parent  # hub/web: templates/ and static/
# Autoescape on every template and a `finalize` that makes any printed value safe (hub/web/render.py).
TEMPLATES = Jinja2Templates(env=make_environment(PACKAGE / "templates"))
STATIC_DIR = PACKAGE / "static"
EVENTS_PER_PAGE = 50
MAX_OFFSET = 10_000  # the deepest page an offset may reach (the same bound as /api/events)
RECENT_CLOSED = 50

router = APIRouter(tags=["dashboard"], include_in_schema=False)


# -- sessions and context ---------------------------------------------------------------------


def safe_next(target: str | None) -> str:
    """Only local paths: never send a user who just logged in to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_redirect(request: Request) -> HTTPException:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target, safe='')}"
    return HTTPException(status.HTTP_303_SEE_OTHER, "login required", headers={"Location": location})


def page_session(request: Request, hub: HubService) -> Session:
    session = hub.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise login_redirect(request)
    return session


def can_operate(principal: Principal) -> bool:
    return allowed(principal, ("operator",))


def language_of(request: Request, hub: HubService) -> str:
    return choose_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), hub.settings.language)


def page_context(hub: HubService, lang: str, session: Session | None, path: str) -> dict[str, Any]:
    """What every dashboard template gets, besides its own values (also for rendering pages in tests)."""
    t = Translator(lang)
    principal = session.principal if session else None
    return {
        "t": t,
        "lang": lang,
        "user": principal,
        "csrf_token": session.csrf_token if session else "",
        "can_operate": bool(principal and can_operate(principal)),
        "when": lambda value: format_time(value, hub.settings.timezone, lang),  # a bad stored time: shown, marked
        "bad": lambda value: bad_value(value, lang),
        "path": path,
        "client_config": {
            "lang": lang,
            "timezone": hub.settings.timezone,
            "zone": TZ_ABBREVIATION.get(hub.settings.timezone, ""),
            "csrf": session.csrf_token if session else "",
            "canOperate": bool(principal and can_operate(principal)),
            "strings": t.all(),
        },
    }


def render(
    request: Request,
    hub: HubService,
    template: str,
    session: Session | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = language_of(request, hub)
    page = page_context(hub, lang, session, request.url.path)
    response = TEMPLATES.TemplateResponse(request, template, page | context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response


# -- login / logout ---------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, hub: HubDep, next: str = "/") -> Response:
    if hub.sessions.get(request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(safe_next(next), status.HTTP_303_SEE_OTHER)
    return render(
        request, hub, "dashboard/login.html", None, next=safe_next(next), error=None, no_users=hub.users.count() == 0
    )


def check_login(request: Request, hub: HubService, username: str, password: str) -> LoginOutcome:
    """The hub's one login check (throttling, known browsers and addresses, audit: hub.login_guard)."""
    guard = getattr(hub, "login_guard", None)
    if guard is None:
        return LoginOutcome(hub.users.verify(username, password))
    return guard.login(username, password, client_address(request), request.cookies.get(DEVICE_COOKIE))


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    hub: HubDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    outcome = check_login(request, hub, username.strip(), password)
    principal, retry_after = outcome.principal, outcome.retry_after
    if principal is None:
        locked = retry_after > 0
        response = render(
            request,
            hub,
            "dashboard/login.html",
            None,
            status.HTTP_429_TOO_MANY_REQUESTS if locked else status.HTTP_401_UNAUTHORIZED,
            next=safe_next(next),
            error="login_throttled" if locked else "login_failed",
            no_users=False,
            username=username,
        )
        if locked:
            response.headers["Retry-After"] = retry_after_header(retry_after)
        return response
    session = hub.sessions.create(principal)
    redirect = RedirectResponse(safe_next(next), status.HTTP_303_SEE_OTHER)
    secure = hub.settings.public_url.startswith("https://")
    set_session_cookie(redirect, session.id, secure)
    set_device_cookie(redirect, outcome, hub.settings.login.device_cookie_days, secure)
    return redirect


@router.post("/logout")
def logout(request: Request, hub: HubDep, csrf_token: Annotated[str, Form(alias=CSRF_FORM_FIELD)] = "") -> Response:
    session = hub.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        if not hub.sessions.csrf_ok(session, csrf_token):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
        audit = getattr(hub, "audit", None)
        if audit is not None:
            audit.record(session.principal.name, "logout", client=client_address(request))
        hub.sessions.destroy(session.id)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- pages ------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def console(request: Request, hub: HubDep) -> Response:
    session = page_session(request, hub)
    return render(request, hub, "dashboard/console.html", session)


@router.get("/posts", response_class=HTMLResponse)
def posts(request: Request, hub: HubDep, fragment: bool = False) -> Response:
    session = page_session(request, hub)
    # hub/web/views.py: the same post as /api/posts and the live stream; the account's villages only
    rows = post_views(hub, scope(session.principal).posts(hub.registry))
    view = build_map(
        [(r["device_id"], r["name"], r["lat"], r["lon"]) for r in rows if r.get("error") is None],
        tile_url=getattr(hub.settings, "map_tile_url", None),
    )
    by_device = {r["device_id"]: r for r in rows}
    template = "dashboard/_posts.html" if fragment else "dashboard/posts.html"
    return render(request, hub, template, session, rows=rows, map=view, by_device=by_device)


def snapshots_of(hub: HubService, alert: Alert) -> list[str]:
    """The alert's event snapshots that are stored, evidence pictures (issue 15) left out."""
    return [
        event_id
        for event_id in alert.event_ids
        if isinstance(event_id, str)
        and event_id not in alert.evidence
        and hub.snapshots.find(event_id, alert.device) is not None
    ]


def evidence_strip(hub: HubService, alert: Alert) -> list[dict[str, Any]]:
    """The stored pictures from around the press, oldest first, each with its offset ("-2 s", "0 s", "+3 s")."""
    strip = []
    for event_id, offset in sorted(alert.evidence.items(), key=lambda item: item[1]):
        if hub.snapshots.find(event_id, alert.device) is None:
            continue  # on its way (the event arrives first), or evicted long after the alert closed
        label = f"{offset:+.1f}".rstrip("0").rstrip(".").replace("-", "\u2212") if offset else "0"
        strip.append({"event_id": event_id, "offset": label, "at_press": abs(offset) < 0.5})
    return strip


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_detail(request: Request, alert_id: str, hub: HubDep, fragment: bool = False) -> Response:
    session = page_session(request, hub)
    alert = hub.alerts.get(alert_id)
    if alert is None or not scope(session.principal).covers_device(hub.registry, alert.device):
        # another village's alert looks exactly like one that does not exist
        return render(request, hub, "dashboard/not_found.html", session, status.HTTP_404_NOT_FOUND)
    post = hub.registry.get(alert.device)
    template = "dashboard/_alert.html" if fragment else "dashboard/alert.html"
    outcomes = [o.value for o in Outcome if o is not Outcome.RESTORED]
    return render(
        request,
        hub,
        template,
        session,
        alert=alert_view(hub, alert),
        post=post,
        snapshots=snapshots_of(hub, alert),
        evidence=evidence_strip(hub, alert),
        outcomes=outcomes,
        **alert_extras(hub, alert, language_of(request, hub)),  # procedure, officers to assign (issue 15)
    )


def parse_local(value: str | None, zone: str) -> datetime | None:
    """A `datetime-local` form value (hub local time) as an aware datetime; None if empty or bad."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


@router.get("/events", response_class=HTMLResponse)
def events(
    request: Request,
    hub: HubDep,
    device: str = "",
    kind: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
    cursor: str = "",
) -> Response:
    """Pages with the store's keyset cursor ("Next" carries it, with the filters); `page` only numbers
    the page, and without a cursor (old links, "Newer") it is a bounded offset (at most MAX_OFFSET rows)."""
    session = page_session(request, hub)
    seen = scope(session.principal)
    page = max(1, page)
    if cursor:
        try:
            decode_cursor(cursor)
        except ValueError:  # a hand-edited link: start again at the newest page
            cursor, page = "", 1
    if not cursor and (page - 1) * EVENTS_PER_PAGE > MAX_OFFSET:
        page = 1  # deep offsets scan every row before them; the cursor links do not
    zone = hub.settings.timezone
    query = EventQuery(
        device=device or None,
        kind=kind or None,
        since=parse_local(since, zone),
        until=parse_local(until, zone),
        limit=EVENTS_PER_PAGE,
        offset=0 if cursor else (page - 1) * EVENTS_PER_PAGE,
        cursor=cursor or None,
        devices=seen.devices(hub.registry),  # a village account: its villages' events only, in the query
    )
    result = hub.store.query(query)
    pages = max(page, math.ceil(result.total / EVENTS_PER_PAGE))
    filters = {"device": device, "kind": kind, "since": since, "until": until}

    def page_link(number: int, after: str | None = None) -> str:
        extra: dict[str, Any] = {"page": number} if number > 1 else {}
        chosen = {k: v for k, v in filters.items() if v} | extra
        return "/events?" + urlencode(chosen | ({"cursor": after} if after else {}))

    if result.next_cursor:
        older: str | None = page_link(page + 1, result.next_cursor)
    else:  # a store without cursors (TinyDB) pages by offset
        full = len(result.items) == EVENTS_PER_PAGE
        older = page_link(page + 1) if page < pages and full and not result.total_capped else None
    newer = page_link(page - 1) if page > 1 and (page - 2) * EVENTS_PER_PAGE <= MAX_OFFSET else None
    return render(
        request,
        hub,
        "dashboard/events.html",
        session,
        items=event_views(result.items),
        total=result.total,
        total_capped=result.total_capped,
        page=page,
        pages=pages,
        filters=filters,
        posts=seen.posts(hub.registry),
        kinds=[k.value for k in EventKind],
        newer=newer,
        older=older,
        newest=page_link(1) if page > 2 else None,
        names={p.device_id: p.name for p in seen.posts(hub.registry)},
    )


def roster_source(hub: HubService) -> Any | None:
    """What the alert service pages from: its resolver's roster (stored roster, or the settings'
    officers while none is stored), else its officer store; None: settings.officers are shown."""
    for source in (getattr(hub.alerts, "resolver", None), getattr(hub.alerts, "officers", None)):
        if source is not None and callable(getattr(source, "roster", None)):
            return source
    return None


@router.get("/officers", response_class=HTMLResponse)
def officers(request: Request, hub: HubDep) -> Response:
    session = page_session(request, hub)
    store = roster_source(hub)
    now = datetime.now(ZoneInfo(hub.settings.timezone))
    if store is not None:
        roster = store.roster()
        people = [
            {
                "name": o.name,
                "rank": o.rank,
                "villages": list(o.villages),
                "level": o.level,
                "language": o.language,
                "channels": channels(o.urls),
                "active": o.active,
                "on_duty": is_on_duty(roster, o, now, hub.settings.timezone),
                "id": o.id,
            }
            for o in roster.officers
        ]
        shifts, overrides, fallback = list(roster.shifts), list(roster.overrides), roster.fallback
    else:
        people = [
            {
                "name": o.name,
                "rank": "",
                "villages": list(o.villages),
                "level": 1,
                "language": o.language,
                "channels": channels([u.get_secret_value() for u in o.urls]),
                "active": True,
                "on_duty": None,
                "id": "",
            }
            for o in hub.settings.officers
        ]
        shifts, overrides, fallback = [], [], None
    return render(
        request,
        hub,
        "dashboard/officers.html",
        session,
        people=people,
        shifts=shifts,
        overrides=overrides,
        fallback=fallback,
        officer_names={p["id"]: p["name"] for p in people if p["id"]},
        fallback_channels=channels(fallback.urls) if fallback else [],
        weekdays=weekday_names(language_of(request, hub)),
    )


def channels(urls: Any) -> list[str]:
    """Only the kind of each contact (tgram, mailto, ...): apprise URLs carry secrets."""
    return sorted({str(u).split("://", 1)[0] for u in urls})


def kind_key(kind: AlertKind | str) -> str:
    return f"kind_{getattr(kind, 'value', kind)}"


DEAD_LETTERS_PER_PAGE = 50


@router.get("/admin/deadletters", response_class=HTMLResponse)
def dead_letters(request: Request, hub: HubDep, page: int = 1) -> Response:
    """Admins only: messages that failed in the hub (issue 18); every value is escaped by the template."""
    session = page_session(request, hub)
    if session.principal.role != "admin" or session.principal.villages:  # about the whole hub: no village account
        return render(request, hub, "dashboard/not_found.html", session, status.HTTP_403_FORBIDDEN)
    page = min(max(1, page), 100_000)
    items, total = hub.ingest.dead_letters.page(DEAD_LETTERS_PER_PAGE, (page - 1) * DEAD_LETTERS_PER_PAGE)
    pages = max(1, math.ceil(total / DEAD_LETTERS_PER_PAGE))
    return render(
        request,
        hub,
        "dashboard/deadletters.html",
        session,
        letters=items,
        total=total,
        page=page,
        pages=pages,
        evicted=hub.ingest.dead_letters.evicted,
        newer=f"/admin/deadletters?page={page - 1}" if page > 1 else None,
        older=f"/admin/deadletters?page={page + 1}" if page < pages else None,
    )
