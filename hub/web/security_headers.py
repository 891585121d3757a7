"""Security headers on every response the hub sends: pages, JSON, static files, the live stream,
redirects and every error (404, 401, 422 and an unhandled 500 alike).

A pure ASGI middleware rather than Starlette's BaseHTTPMiddleware: it only edits the
`http.response.start` message, so streaming responses (SSE) pass through untouched and unbuffered.

Policies (decided in issue 18, docs/security.md):

* HTML gets the dashboard policy: everything from the hub itself (`default-src 'self'`); no
  inline script (the templates' only inline `<script>` is `type="application/json"` data, which
  the browser never runs); no inline style; `img-src` adds `data:` (the blank favicon) and, only
  when `map_tile_url` is set, that tile server's origin. No framing, no `<base>`, forms post only
  to the hub.
* Anything else (JSON, static files, the event stream, plain-text errors) gets `default-src 'none'`:
  such a response is never meant to render as a page, so if it is opened as one it can load nothing.
* A route that sets its own policy keeps it (the public ack page has a stricter one; /docs a
  wider one for the API explorer): this middleware only fills in what is missing, and adds
  `base-uri 'none'` / `frame-ancestors 'none'` to such a policy if it lacks them (they do not
  fall back to default-src; adding a directive can only tighten a policy).
* `Cache-Control: no-store` on everything but /static (there `no-cache`: the browser revalidates
  with the ETag, so a hub upgrade is never hidden behind an old script).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

STATIC_PREFIX = "/static/"

# The document directives every HTML policy of the hub shares (no framing, no <base>, forms only to us).
_DOCUMENT_TAIL = "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

# Directives that do not fall back to default-src: added to a route's own policy when it lacks them.
_NOT_DEFAULTED = (("base-uri", "base-uri 'none'"), ("frame-ancestors", "frame-ancestors 'none'"))

NON_DOCUMENT_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

COMMON_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # old browsers; frame-ancestors 'none' in the CSP for the rest
    # no-referrer: URLs carry signed ack tokens and alert ids; nothing leaves the hub in a Referer.
    # The dashboard's own pages may narrow it to same-origin themselves (render() does).
    "Referrer-Policy": "no-referrer",
    # Nothing of the hub needs a sensor or a payment: deny them to any page or injected frame.
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# Every header a response must carry; the test walks the route table against this list.
REQUIRED_HEADERS = ("Content-Security-Policy", *COMMON_HEADERS, "Cache-Control")


def tile_origin(tile_url: str | None) -> str | None:
    """The origin (scheme://host[:port]) of the map tile server, or None; None also for a URL
    whose origin could not be written safely into a CSP (settings refuse those already)."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if any(c in parts.netloc for c in " ;,'\"{}*\\") or "@" in parts.netloc:
        log.warning("map_tile_url %r: origin not allowed in the CSP; the map shows no tiles", tile_url)
        return None
    return f"{parts.scheme}://{parts.netloc}"


def dashboard_csp(tile_url: str | None = None) -> str:
    """The policy of the hub's own HTML pages (dashboard, login, error pages)."""
    images = "'self' data:"
    origin = tile_origin(tile_url)
    if origin:
        images += f" {origin}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; media-src 'self'; "
        f"{_DOCUMENT_TAIL}"
    )


class SecurityHeaders:
    """ASGI middleware: adds the missing security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, tile_url: str | None = None) -> None:
        self.app = app
        self.document_csp = dashboard_csp(tile_url)

    def headers_for(self, path: str, existing: Mapping[str, str]) -> list[tuple[str, str]]:
        """The headers to add (lower-case names in `existing` are already set by the route)."""
        wanted: dict[str, str] = dict(COMMON_HEADERS)
        is_html = existing.get("content-type", "").startswith("text/html")
        wanted["Content-Security-Policy"] = self.document_csp if is_html else NON_DOCUMENT_CSP
        wanted["Cache-Control"] = "no-cache" if path.startswith(STATIC_PREFIX) else "no-store"
        return [(name, value) for name, value in wanted.items() if name.lower() not in existing]

    def _add(self, path: str, raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        headers = list(raw)
        existing = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
        if "content-security-policy" in existing:
            # A route's own policy is kept, only tightened: directives that default-src does not cover.
            own = existing["content-security-policy"]
            tightened = own + "".join(f"; {d}" for name, d in _NOT_DEFAULTED if name not in own)
            if tightened != own:
                headers = [(k, v) for k, v in headers if k.lower() != b"content-security-policy"]
                headers.append((b"content-security-policy", tightened.encode("latin-1")))
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers_for(path, existing)]
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": self._add(path, message.get("headers", ()))}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette's outermost error handler would answer 500 *outside* this middleware,
            # without these headers. Answer here instead; re-raise so it is still logged.
            if not started:
                body = b"Internal Server Error"
                headers = [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({"type": "http.response.start", "status": 500, "headers": self._add(path, headers)})
                await send({"type": "http.response.body", "body": body})
            raise
