"""URLs safe to show or log: the one redaction for contact, camera and broker URLs.

Two kinds of URL carry secrets in different places:

* Contact URLs (apprise) may hide a secret anywhere after the scheme: the bot token is the
  host of `tgram://TOKEN/CHAT`, the topic of `ntfy://TOPIC` is its password, a Discord or
  Slack webhook `https://...` carries its token in the path, `json://user:pass@host` and
  `mailtos://user:pass@mail.example` in the user part. Only the channel (the scheme) is safe
  to show: `redact_url(url)` -> `tgram://…`.
* Camera streams and brokers (`rtsp://admin:pw@10.0.0.5:554/stream?token=x`) keep their
  secrets in the user part and the query, and their host and path are what a technician needs
  to find the fault: `redact_url(url, keep_location=True)` -> `rtsp://***@10.0.0.5:554/stream?token=***`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

HIDDEN = "***"
ELLIPSIS = "…"


def redact_url(url: str, *, keep_location: bool = False) -> str:
    """`url` without its secrets (see the module doc for what each mode keeps)."""
    scheme, separator, _ = url.partition("://")
    if not separator or not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return ELLIPSIS  # not a URL we understand: show nothing of it
    if not keep_location:
        return f"{scheme}://{ELLIPSIS}"
    rest = url.partition("://")[2]
    credentials = "@" in rest
    if credentials:
        # Cut at the LAST "@": a typed camera password may hold "/", "?", "#" or "@" unescaped,
        # and none of it may reach a log. (An "@" in the path or query hides more than needed.)
        rest = rest.rpartition("@")[2]
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return f"{scheme}://{ELLIPSIS}"
    shown = f"{scheme}://{HIDDEN + '@' if credentials else ''}{parts.netloc}{parts.path}"
    if parts.query:
        # Every value is hidden: which query keys carry a credential differs between vendors.
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        shown += "?" + ("&".join(f"{key}={HIDDEN}" for key, _ in pairs) if pairs else HIDDEN)
    return shown  # the fragment is dropped: nothing a technician needs
