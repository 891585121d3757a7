"""User-facing message texts for notifications: Bahasa Indonesia by default, English available."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from hub.alerting.rules import Alert, AlertKind

TZ_ABBREVIATION = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}

KIND_LABEL = {
    "id": {
        AlertKind.PANIC: "PANIK",
        AlertKind.TAMPER: "SABOTASE",
        AlertKind.OFFLINE: "POS TERPUTUS",
        AlertKind.CAMERA: "KAMERA HILANG",
        AlertKind.MOTION: "GERAKAN",
        AlertKind.HEALTH: "PERINGATAN KONDISI POS",
        AlertKind.FLOOD: "POS MEMBANJIRI SISTEM",
    },
    "en": {
        AlertKind.PANIC: "PANIC",
        AlertKind.TAMPER: "TAMPER",
        AlertKind.OFFLINE: "POST OFFLINE",
        AlertKind.CAMERA: "CAMERA LOST",
        AlertKind.MOTION: "MOTION",
        AlertKind.HEALTH: "POST HEALTH WARNING",
        AlertKind.FLOOD: "POST FLOODING",
    },
}

TEMPLATES = {
    "id": {
        "title": "{test}[{label}] {post}",
        "body": (
            "{test}{repeat}{label} di {post}, {village}.\n"
            "Waktu: {time} {tz}\n"
            "{map}"
            "{ack}"
            "Buka & konfirmasi: {link}"
        ),
        "test_prefix": "UJI COBA - ",
        "map": "Peta: {url}\n",
        "ack": "KONFIRMASI (1 ketuk): {url}\n",
        "reminder": "PENGINGAT: belum ada yang merespons. ",
        "escalated": "ESKALASI: petugas piket belum merespons. ",
    },
    "en": {
        "title": "{test}[{label}] {post}",
        "body": (
            "{test}{repeat}{label} at {post}, {village}.\n"
            "Time: {time} {tz}\n"
            "{map}"
            "{ack}"
            "Open & acknowledge: {link}"
        ),
        "test_prefix": "TEST - ",
        "map": "Map: {url}\n",
        "ack": "ACKNOWLEDGE (one tap): {url}\n",
        "reminder": "REMINDER: nobody has answered yet. ",
        "escalated": "ESCALATED: the officer on duty has not answered. ",
    },
}


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


def local_time(moment: datetime, zone: str) -> tuple[str, str]:
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%d-%m-%Y %H:%M:%S"), TZ_ABBREVIATION.get(zone, local.tzname() or zone)


def map_url(lat: float | None, lon: float | None) -> str | None:
    if lat is None or lon is None:
        return None
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}"


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
    texts = TEMPLATES.get(language, TEMPLATES["id"])
    label = KIND_LABEL.get(language, KIND_LABEL["id"])[alert.kind]
    when, tz = local_time(alert.opened_at, zone)
    url = map_url(post.lat, post.lon)
    fields = {
        "test": texts["test_prefix"] if alert.test else "",
        "label": label,
        "post": post.name,
        "village": post.village or "-",
        "time": when,
        "tz": tz,
        "map": texts["map"].format(url=url) if url else "",
        "ack": texts["ack"].format(url=ack_link) if ack_link else "",
        "repeat": texts[repeat] if repeat in ("reminder", "escalated") else "",
        "link": link,
    }
    return Message(texts["title"].format(**fields), texts["body"].format(**fields))
