"""CommunityService: police visits (sambang) and residents' quick reports (lapor cepat) at a post.

Built by the composition root (hub/service.py) from the settings, the post registry, the alert
service, the roster and the audit log; the web routes (hub/web/routes/sambang.py, lapor.py) call
it with values they have already taken apart from the request.

A report raises (or joins, while one is open) a `report` alert on its post: low severity, shown
live to the operators, not paged (escalation.py). An operator escalates it to an `incident`,
which pages the duty chain like a panic, or closes it as a false report; the reports keep the
outcome of their alert (`escalated`, `false_report`, `closed`), so false reports can be counted.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.alerting.rules import Alert, AlertKind, Outcome, TransitionError
from hub.alerting.service import AlertService, seed_roster
from hub.community.geo import valid_point, visit_flag
from hub.community.images import clean_photo
from hub.community.limits import SlidingLimit
from hub.community.links import FORM_SECONDS, KEY_FILE, OFFICER_DAYS, POSTER_DAYS, CommunityLinks
from hub.community.store import CommunityStore, Report, Visit
from hub.duty.officers import OfficerStore
from hub.duty.roster import Officer
from hub.paging.ack_links import load_or_create_secret
from hub.posts.registry import PostRegistry
from hub.settings import HubSettings, PostSettings
from hub.storage.audit import AuditRecorder
from hub.storage.sql.database import Database
from kamling.protocol import new_event_id, utc_now

log = logging.getLogger(__name__)

VISIT_INTERVAL = timedelta(hours=1)
"""An officer's visits to one post are recorded at most once per this interval."""
CATEGORIES = ("pencurian", "mencurigakan", "keributan", "kebakaran", "kecelakaan", "lainnya")
"""What a resident can report (labels in hub/i18n.py as lapor_cat_<category>)."""
MAX_TEXT = 1000
MAX_NOTE = 1000
PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,19}$")
ADDRESS_LIMIT = (3, 15 * 60.0)  # reports per address per window (seconds)
POST_LIMIT = (20, 60 * 60.0)  # reports per post per window
SUMMARY_CHARS = 120


class TooSoon(Exception):
    """A visit by the same officer to the same post within VISIT_INTERVAL: `last` is the recorded one."""

    def __init__(self, last: Visit) -> None:
        super().__init__(f"visit already recorded at {last.at.isoformat()}")
        self.last = last


class RateLimited(Exception):
    """Too many reports; `scope` is `address` or `post`, `retry_after` seconds."""

    def __init__(self, scope: str, retry_after: float) -> None:
        super().__init__(f"{scope} rate limit: retry after {retry_after:.0f} s")
        self.scope = scope
        self.retry_after = retry_after


class InvalidInput(ValueError):
    """A field a person must correct; `field` names it (category, text, phone, photo...)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotAReport(ValueError):
    """The alert is not an open resident's report."""


@dataclass(frozen=True)
class Visitor:
    """Who records a visit: a roster officer through their personal link, or a dashboard user."""

    id: str  # roster id, or "user:<name>"
    name: str
    via: str  # link or session


def poster_urls(links: CommunityLinks, public_url: str, post_id: str, days: float = POSTER_DAYS) -> tuple[str, str]:
    """The (sambang, lapor) URLs printed on a post's poster, valid for `days`."""
    base, ttl = public_url.rstrip("/"), days * 86400
    return (
        f"{base}/sambang/{links.issue('sambang', post_id, ttl)}",
        f"{base}/lapor/{links.issue('lapor', post_id, ttl)}",
    )


def officer_url(links: CommunityLinks, public_url: str, officer_id: str, days: float = OFFICER_DAYS) -> str:
    """An officer's personal link: opened once on their phone, it lets them record visits without a login."""
    return f"{public_url.rstrip('/')}/sambang/saya/{links.issue('officer', officer_id, days * 86400)}"


def find_officer(settings: HubSettings, store: OfficerStore, officer_id: str) -> Officer | None:
    """An officer of the roster file, or of the settings when the roster file has none (as paging does)."""
    officer = store.get_officer(officer_id)
    if officer is None and not store.roster().officers:
        officer = next((o for o in seed_roster(settings).officers if o.id == officer_id), None)
    return officer


def clean_text(value: str, limit: int) -> str:
    """Text as typed, bounded, without control characters (newlines and tabs kept); never HTML."""
    value = "".join(c for c in value if c in "\n\t" or unicodedata.category(c)[0] != "C")
    return value.strip()[:limit]


class CommunityService:
    def __init__(
        self,
        settings: HubSettings,
        registry: PostRegistry,
        alerts: AlertService,
        officers: OfficerStore,
        audit: AuditRecorder,
        database: Database,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        address_limit: tuple[int, float] = ADDRESS_LIMIT,
        post_limit: tuple[int, float] = POST_LIMIT,
        links: CommunityLinks | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.alerts = alerts
        self.officers = officers
        self.audit = audit
        self.store = CommunityStore(database, settings.data_dir / "community" / "photos")
        self.clock = clock
        self.links = links
        self.by_address = SlidingLimit(*address_limit, clock=monotonic)
        self.by_post = SlidingLimit(*post_limit, clock=monotonic)
        self._lock = threading.Lock()  # one visit/report decision at a time: the hourly rule and the limits hold
        alerts.listeners.append(self._alert_changed)

    def start(self) -> None:
        if self.links is None:
            self.links = CommunityLinks(load_or_create_secret(self.key_path(self.settings)))
        self.store.open()

    def stop(self) -> None:
        self.store.close()

    @staticmethod
    def key_path(settings: HubSettings) -> Any:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return settings.data_dir / KEY_FILE

    def signer(self) -> CommunityLinks:
        assert self.links is not None, "CommunityService.start() was not called"
        return self.links

    # -- links ----------------------------------------------------------------------------------
    def poster_urls(self, post_id: str, days: float = POSTER_DAYS) -> tuple[str, str]:
        """The (sambang, lapor) URLs printed on a post's poster."""
        return poster_urls(self.signer(), self.settings.public_url, post_id, days)

    def officer_url(self, officer_id: str, days: float = OFFICER_DAYS) -> str:
        return officer_url(self.signer(), self.settings.public_url, officer_id, days)

    def form_token(self, visitor: Visitor, post_id: str) -> str:
        return self.signer().issue("form", f"{visitor.id}|{post_id}", FORM_SECONDS)

    def post(self, post_id: str) -> PostSettings | None:
        return self.registry.get(post_id)

    def officer_visitor(self, officer_id: str) -> Visitor | None:
        """The visitor a personal link stands for, while that officer is on the roster and active."""
        officer = find_officer(self.settings, self.officers, officer_id)
        if officer is None or not officer.active:
            return None
        return Visitor(officer.id, officer.name, "link")

    # -- visits ---------------------------------------------------------------------------------
    def last_visit(self, post_id: str, visitor: Visitor | None = None) -> Visit | None:
        return self.store.last_visit(post_id, visitor.id if visitor else None)

    def record_visit(
        self,
        post: PostSettings,
        visitor: Visitor,
        *,
        note: str = "",
        photo: bytes | None = None,
        lat: float | None = None,
        lon: float | None = None,
        accuracy: float | None = None,
        client: str = "",
    ) -> Visit:
        """Record a visit now; TooSoon when this visitor recorded one at this post within the hour."""
        note = clean_text(note, MAX_NOTE)
        cleaned = clean_photo(photo, keep_location=True) if photo else None  # PhotoError: the caller says why
        if not valid_point(lat, lon):
            lat = lon = accuracy = None
        flag, distance = visit_flag(post.lat, post.lon, lat, lon)
        with self._lock:
            now = self.clock()
            last = self.store.last_visit(post.device_id, visitor.id)
            if last is not None and now - last.at < VISIT_INTERVAL:
                raise TooSoon(last)
            visit_id = new_event_id()
            photo_name = self.store.save_photo(visit_id, *cleaned) if cleaned else None
            visit = Visit(
                id=visit_id,
                post=post.device_id,
                officer=visitor.id,
                officer_name=visitor.name,
                at=now,
                lat=lat,
                lon=lon,
                accuracy_m=accuracy if accuracy is None or accuracy >= 0 else None,
                distance_m=round(distance, 1) if distance is not None else None,
                flag=flag.value if flag else None,
                note=note,
                photo=photo_name,
                via=visitor.via,
                client=client,
            )
            self.store.add_visit(visit)
        self.audit.record(
            visitor.name,
            "sambang.visit",
            post.device_id,
            client=client,
            officer=visitor.id,
            via=visitor.via,
            flag=visit.flag or "",
            distance_m=visit.distance_m,
            visit=visit.id,
        )
        return visit

    # -- reports --------------------------------------------------------------------------------
    def submit_report(
        self,
        post: PostSettings,
        *,
        category: str,
        text: str = "",
        phone: str = "",
        photo: bytes | None = None,
        share_location: bool = False,
        lat: float | None = None,
        lon: float | None = None,
        client: str = "",
    ) -> Report:
        """Store a resident's report and raise (or join) its post's `report` alert.

        RateLimited when the address or the post sent too many; InvalidInput / PhotoError for bad fields.
        Location (the form's and the photo's EXIF) is kept only when the resident chose to share it.
        """
        if category not in CATEGORIES:
            raise InvalidInput("category", "unknown")
        text = clean_text(text, MAX_TEXT)
        phone = clean_text(phone, 24)
        if phone and not PHONE.match(phone):
            raise InvalidInput("phone", "format")
        cleaned = clean_photo(photo, keep_location=share_location) if photo else None
        if not (share_location and valid_point(lat, lon)):
            lat = lon = None
        with self._lock:
            wait = max(self.by_address.retry_after(client), self.by_post.retry_after(post.device_id))
            if wait > 0:
                scope = "address" if self.by_address.retry_after(client) > 0 else "post"
                raise RateLimited(scope, wait)
            self.by_address.hit(client)
            self.by_post.hit(post.device_id)
            report_id = new_event_id()
            photo_name = self.store.save_photo(report_id, *cleaned) if cleaned else None
            current = self.alerts.open_for(post.device_id, AlertKind.REPORT)
            count = int(current.details.get("reports", 0)) + 1 if current else 1
            summary = f"{category}: {text[:SUMMARY_CHARS]}" if text else category
            details: dict[str, Any] = {
                "messages": [summary],
                "reports": count,
                "report_id": report_id,
                "category": category,
                "text": text,
                "phone": phone or None,
                "lat": lat,
                "lon": lon,
                "photo": bool(photo_name),
            }
            alert = self.alerts.raise_condition(post.device_id, AlertKind.REPORT, details)
            report = Report(
                id=report_id,
                post=post.device_id,
                at=self.clock(),
                category=category,
                text=text,
                phone=phone or None,
                lat=lat,
                lon=lon,
                location_shared=share_location,
                photo=photo_name,
                client=client,
                alert_id=alert.id,
            )
            self.store.add_report(report)
        self.audit.record(
            "warga", "report.submit", post.device_id, client=client, report=report_id, alert=alert.id, category=category
        )
        return report

    def _open_report(self, alert_id: str) -> Alert:
        alert = self.alerts.get(alert_id)
        if alert is None:
            raise KeyError(alert_id)
        if alert.kind is not AlertKind.REPORT or not alert.is_open:
            raise NotAReport(f"alert {alert_id} is not an open resident's report")
        return alert

    def escalate(self, alert_id: str, actor: str, note: str | None = None) -> Alert:
        """Turn an open report into an `incident` alert that pages the duty chain; the report closes as escalated."""
        report = self._open_report(alert_id)
        details = {k: v for k, v in report.details.items() if k != "messages"}
        detail_text = f"{report.details.get('category', '')}: {report.details.get('text', '')}"[:SUMMARY_CHARS]
        incident = self.alerts.raise_condition(
            report.device,
            AlertKind.INCIDENT,
            {**details, "messages": [detail_text], "from_report": report.id, "escalated_by": actor, "note": note},
        )
        self.store.close_reports(report.id, "escalated", self.clock(), actor)
        try:
            self.alerts.resolve(
                report.id, actor, Outcome.REAL, f"escalated: {incident.id}" + (f" ({note})" if note else "")
            )
        except TransitionError:
            pass  # closed meanwhile by another operator: the incident stands
        self.audit.record(actor, "report.escalate", report.device, alert=report.id, incident=incident.id)
        return incident

    def false_report(self, alert_id: str, actor: str, note: str | None = None) -> Alert:
        """Close an open report as a false report (counted per post)."""
        report = self._open_report(alert_id)
        closed = self.alerts.resolve(report.id, actor, Outcome.FALSE_ALARM, note)
        self.audit.record(actor, "report.false", report.device, alert=report.id)
        return closed

    def _alert_changed(self, alert: Alert) -> None:
        """A report alert closed any other way (the general resolve): its reports take its outcome."""
        if alert.kind is not AlertKind.REPORT or alert.is_open:
            return
        outcome = "false_report" if alert.outcome is Outcome.FALSE_ALARM else "closed"
        actor = next((e.actor or "" for e in reversed(alert.timeline) if e.action == "resolved"), "") or "system"
        self.store.close_reports(alert.id, outcome, alert.resolved_at or self.clock(), actor)
