"""What the two public phone pages of the QR poster share (sambang.py, lapor.py).

Both are signed-link pages: the post-bound token in the URL is the credential (no login for
residents; officers are recognised by their dashboard session or personal-link cookie). They
render from hub/web/templates/community with autoescape on everything, so nothing a person types
is ever HTML; they carry their own headers: a CSP that allows only the hub's own script and style
(the geolocation helper /static/phone.js), and a Permissions-Policy that, unlike the dashboard's,
lets these pages (and only them) ask the phone for its location.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData, UploadFile

from hub.community.images import MAX_PHOTO_BYTES
from hub.i18n import LANGUAGES, Translator

MAX_BODY = MAX_PHOTO_BYTES + 64 * 1024  # one photo and a few short fields
MAX_FIELDS = 12

env = Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates" / "community"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'none'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(self), payment=(), usb=()",
}

LINK_ERRORS = {"expired": (410, "community_link_expired"), "missing": (404, "community_link_missing")}


class BodyTooLarge(Exception):
    pass


def language(request: Request) -> str:
    lang = request.query_params.get("lang", "id")
    return lang if lang in LANGUAGES else "id"


def page(template: str, lang: str, status: int = 200, **values: Any) -> HTMLResponse:
    body = env.get_template(template).render(t=Translator(lang), lang=lang, **values)
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def link_error(reason: str, lang: str = "id") -> HTMLResponse:
    """403 for a forged or malformed link, 410 expired, 404 for a post the hub no longer has."""
    status, key = LINK_ERRORS.get(reason, (403, "community_link_invalid"))
    t = Translator(lang)
    return page("message.html", lang, status, title=t("community_error_title"), lines=[t(key)], tone="bad")


async def read_form(request: Request) -> FormData:
    """The posted form, refused before parsing when it is (or claims to be) larger than MAX_BODY."""
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit() or int(declared) > MAX_BODY:
        raise BodyTooLarge()
    return await request.form(max_files=1, max_fields=MAX_FIELDS)


async def photo_bytes(form: FormData, name: str = "photo") -> bytes | None:
    upload = form.get(name)
    if not isinstance(upload, UploadFile):
        return None
    data = await upload.read(MAX_BODY + 1)
    return data or None


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def number(form: FormData, name: str) -> float | None:
    """A finite float from a form field, else None (empty, text, NaN, infinity)."""
    text = field(form, name).strip()
    if not text or len(text) > 32:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def photo_response(path: Path | None) -> FileResponse:
    """A visit's or a report's stored photo (JPEG or PNG); 404 when there is none to show."""
    if path is None:
        raise HTTPException(404, "no photo")
    return FileResponse(path, media_type="image/png" if path.suffix == ".png" else "image/jpeg")
