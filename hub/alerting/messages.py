"""The page an officer receives: composed from the catalogue's parts (hub/i18n.py) in the officer's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from hub.alerting.rules import Alert, AlertKind
from hub.i18n import text

TZ_ABBREVIATION = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


@dataclass(frozen=True)
class PostInfo:
    name: str
    village: str
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def kind_label(kind: AlertKind, language: str) -> str:
    """An alert kind in capitals, as a page's title and the acknowledgement page show it."""
    return text(f"page_kind_{kind.value}", language)


def local_time(moment: datetime, zone: str) -> tuple[str, str]:
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%d-%m-%Y %H:%M:%S"), TZ_ABBREVIATION.get(zone, local.tzname() or zone)


def map_url(lat: float | None, lon: float | None) -> str | None:
    if lat is None or lon is None:
        return None
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}"


def _page_fields(
    alert: Alert, post: PostInfo, link: str, zone: str, language: str, ack_link: str | None
) -> dict[str, str]:
    """What every page to an officer says: what, where, when, the map, the ack link and the alert page."""
    when, tz = local_time(alert.opened_at, zone)
    url = map_url(post.lat, post.lon)
    return {
        "test": text("page_test_prefix", language) if alert.test else "",
        "label": kind_label(alert.kind, language),
        "post": post.name,
        "village": post.village or "-",
        "time": when,
        "tz": tz,
        "map": text("page_map", language, url=url) if url else "",
        "ack": text("page_ack", language, url=ack_link) if ack_link else "",
        "link": link,
    }


def alert_message(
    alert: Alert,
    post: PostInfo,
    link: str,
    zone: str,
    language: str = "id",
    *,
    ack_link: str | None = None,
    repeat: str | None = None,
) -> Message:
    """The page for one officer. `ack_link`: their signed one-tap link; `repeat`: reminder/escalated."""
    fields = _page_fields(alert, post, link, zone, language, ack_link) | {
        "repeat": text(f"page_{repeat}", language) if repeat in ("reminder", "escalated") else "",
    }
    body = text("page_body", language, **fields)
    return Message(text("page_title", language, **fields), _with_detail(body, manual_line(alert, language)))


def _with_detail(body: str, line: str) -> str:
    """`line` after the body's first line (what, where), before the time, map and links."""
    if not line:
        return body
    first, _, rest = body.partition("\n")
    return f"{first}\n{line}\n{rest}" if rest else f"{first}\n{line}"


def manual_line(alert: Alert, language: str) -> str:
    """For an incident reported by phone or in person: what happened and who reported it (first line)."""
    if alert.kind is not AlertKind.MANUAL:
        return ""
    details = alert.details
    who = f"{details.get('reporter', '')} {details.get('reporter_phone', '')}".strip()
    return text(
        "page_manual_line",
        language,
        source=text(f"manual_source_{details.get('source', 'phone')}", language),
        category=text(f"manual_cat_{details.get('category', 'other')}", language),
        description=str(details.get("description", "")),
        reporter=who or "-",
    )


def assignment_message(
    alert: Alert, post: PostInfo, link: str, zone: str, language: str, *, ack_link: str | None, by: str
) -> Message:
    """The page an officer receives when an operator assigns them to an alert ("you are assigned")."""
    fields = _page_fields(alert, post, link, zone, language, ack_link) | {"by": by}
    body = text("page_assigned_body", language, **fields)
    return Message(text("page_assigned_title", language, **fields), _with_detail(body, manual_line(alert, language)))
