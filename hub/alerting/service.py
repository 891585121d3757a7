"""Alert service: applies the pure alert rules, pages people, escalates, tells the post, persists.

The alert path never waits on disk or on a notifier: pages go to a pager (hub/paging/pager.py; by
default a child process) and alerts are saved by a background writer. Who is paged comes from the duty roster
(hub/duty/roster.py, stored by hub/duty/officers.py); officers listed in the settings seed it.
Escalation (hub/alerting/escalation.py) is driven by each alert's stored `escalation_level` and
`next_due`, so a restarted hub picks up where it stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from hub.alerting import actions, rules
from hub.alerting.escalation import DueTimer, Step, due_alerts, first_step, next_step, rule_for
from hub.alerting.messages import PostInfo, alert_message, assignment_message
from hub.alerting.procedures import ProcedureStore
from hub.alerting.rules import Alert, AlertKind, Outcome
from hub.duty.officers import OfficerStore
from hub.duty.roster import Officer, Roster, duty_chain
from hub.i18n import text
from hub.paging.ack_links import AckLinks, load_or_create_secret
from hub.paging.pager import Page, Pager
from hub.paging.picture_wait import PictureWait
from hub.settings import HubSettings, PostSettings
from kamling.protocol import AlertUpdate, Event, EventKind, ProtocolError, evidence_of, utc_now

log = logging.getLogger(__name__)

PICTURE_KINDS = frozenset({AlertKind.PANIC, AlertKind.TAMPER})
"""Alerts whose pages carry the camera picture at the press (issue 15)."""


@dataclass(frozen=True)
class Recipient:
    name: str
    urls: tuple[str, ...]
    language: str = "id"


class RecipientResolver(Protocol):
    """Who to page first. A resolver may also offer `chain_for` (levels of recipients) to escalate."""

    def recipients_for(self, post: PostSettings, alert: Alert, now: datetime) -> list[Recipient]: ...


Chain = list[list[Recipient]]


def _recipient(officer: Officer) -> Recipient:
    return Recipient(officer.name, officer.urls, officer.language)


def seed_roster(settings: HubSettings) -> Roster:
    """Officers from the settings, always on duty for their villages; the settings' duty desk."""
    officers = tuple(
        Officer(
            id=f"settings-{index}",
            name=o.name,
            rank=o.rank,
            villages=tuple(o.villages),
            urls=tuple(u.get_secret_value() for u in o.urls),
            language=o.language,
            level=o.level,
            always_on_duty=True,
        )
        for index, o in enumerate(settings.officers, start=1)
    )
    return Roster(officers=officers, fallback=settings_fallback(settings))


def settings_fallback(settings: HubSettings) -> Officer | None:
    if not settings.fallback_urls:
        return None
    urls = tuple(u.get_secret_value() for u in settings.fallback_urls)
    return Officer(
        id="piket", name="Piket Polsek", rank="SPKT", urls=urls, language=settings.language, always_on_duty=True
    )


class RosterResolver:
    """The escalation chain from the stored roster; from the settings' officers while none is stored."""

    def __init__(self, settings: HubSettings, store: OfficerStore) -> None:
        self.settings = settings
        self.store = store

    def roster(self) -> Roster:
        try:
            stored = self.store.roster()
        except Exception:  # a damaged roster file must not stop a page
            log.exception("roster %s unreadable; paging the officers from the settings", self.store.path)
            return seed_roster(self.settings)
        if not stored.officers and stored.fallback is None:
            return seed_roster(self.settings)
        if stored.fallback is None:
            return stored.model_copy(update={"fallback": settings_fallback(self.settings)})
        return stored

    def chain_for(self, post: PostSettings, alert: Alert, now: datetime) -> Chain:
        roster = self.roster()
        if alert.kind in rules.HUB_KINDS and roster.fallback is not None:  # about the hub: the duty desk
            return [[_recipient(roster.fallback)]]
        chain = duty_chain(roster, post.village, now, self.settings.timezone)
        return [[_recipient(o) for o in level] for level in chain]

    def recipients_for(self, post: PostSettings, alert: Alert, now: datetime) -> list[Recipient]:
        chain = self.chain_for(post, alert, now)
        return chain[0] if chain else []


Publisher = Callable[[str, AlertUpdate], None]
Listener = Callable[[Alert], object]


class AlertRecords(Protocol):
    """Where alerts are kept: the SQL store (hub/alerting/sql_store.py) or the file store (store.py)."""

    damaged: list[str]

    def load(self) -> list[Alert]: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def save(self, alert: Alert) -> None: ...


class AlertService:
    def __init__(
        self,
        settings: HubSettings,
        posts: Callable[[str], PostSettings | None],
        pager: Pager,
        publish: Publisher,
        repository: AlertRecords,
        resolver: RecipientResolver | None = None,
        clock: Callable[[], datetime] = utc_now,
        officers: OfficerStore | None = None,
        links: AckLinks | None = None,
        run_timer: bool = True,
    ) -> None:
        self.settings = settings
        self.posts = posts
        self.pager = pager
        self.publish = publish
        self.repository = repository
        self.officers = officers or OfficerStore(settings.data_dir / "roster.json")
        self.procedures = ProcedureStore(settings.data_dir / "procedures.json")  # per-kind procedures (issue 15)
        self.resolver: RecipientResolver = resolver or RosterResolver(settings, self.officers)
        self.clock = clock
        self.links = links
        self.run_timer = run_timer  # False: tests drive escalate_due() with their own clock
        self.timer = DueTimer(self.escalate_due, clock)
        self.listeners: list[Listener] = []
        # Issue 15: a panic/tamper page carries the picture at the press; its first page waits for it
        # at most settings.page_picture_wait_s (hub/paging/picture_wait.py). HubService sets the lookups.
        self.picture_wait = PictureWait(pager, settings.page_picture_wait_s)
        self.find_snapshot: Callable[[str, str], Path | None] | None = None  # (event id, device) -> file
        self.has_camera: Callable[[str], bool] = lambda _device: True  # a post without one never waits
        self.picture_listeners: list[Listener] = []  # an alert's evidence picture was stored (the live page)
        self._alerts: dict[str, Alert] = {}
        self._open: dict[tuple[str, AlertKind], str] = {}
        self._lock = threading.RLock()

    def start(self) -> None:
        for alert in self.repository.load():
            self._alerts[alert.id] = alert
            if alert.is_open:
                self._open[(alert.device, alert.kind)] = alert.id
        if self.links is None:
            secret = self.settings.ack_link_secret
            key = secret.get_secret_value().encode() if secret else load_or_create_secret(self._key_path())
            self.links = AckLinks(key, self.settings.ack_link_ttl)
        self.repository.start()
        self.pager.start()
        self.picture_wait.start()
        self._resume()
        if self.run_timer:
            self.timer.start()

    def _key_path(self) -> Path:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return self.settings.data_dir / "ack_link.key"

    def _resume(self) -> None:
        """After a restart: re-arm pending escalations; page alerts the last run opened but never paged."""
        for alert in list(self._alerts.values()):
            if not alert.awaiting_ack or alert.test:
                continue
            if alert.next_due is not None:
                self.timer.arm(alert.next_due)
            elif alert.escalation_level == 0 and not any(
                e.action in ("paging", "not_paged", "page_failed", "notified") for e in alert.timeline
            ):
                log.warning("alert %s was never paged (hub stopped first); paging now", alert.id)
                self._page(alert)

    def stop(self) -> None:
        self.timer.stop()
        self.picture_wait.stop()  # its held pages go to the pager before the pager stops
        self.pager.stop()
        self.repository.stop()

    # -- queries --------------------------------------------------------------------------
    def get(self, alert_id: str) -> Alert | None:
        return self._alerts.get(alert_id)

    def all(self) -> list[Alert]:
        with self._lock:
            return sorted(self._alerts.values(), key=lambda a: a.opened_at, reverse=True)

    def open_for(self, device: str, kind: AlertKind) -> Alert | None:
        alert_id = self._open.get((device, kind))
        return self._alerts.get(alert_id) if alert_id else None

    # -- inputs ---------------------------------------------------------------------------
    def handle_event(self, event: Event) -> Alert | None:
        """Apply an event that passed ingest; returns the alert it raised or joined."""
        if event.kind is EventKind.CAMERA and event.data.get("state") == "restored":
            self.clear_condition(event.device, AlertKind.CAMERA, "camera restored")
            return None
        try:
            evidence = evidence_of(event)
        except ProtocolError as exc:  # stored as a plain camera event, linked to nothing
            log.warning("event %s from %s: evidence not linked (%s)", event.id, event.device, exc)
            return None
        if evidence is not None:
            return self.attach_evidence(event.device, event.id, evidence.evidence_for, float(evidence.offset_s))
        kind = rules.alert_kind_for(event)
        if kind is None:
            return None
        now = self.clock()
        with self._lock:
            current = self.open_for(event.device, kind)
            if current is not None:
                if event.id in current.event_ids:
                    return current
                return self._update(rules.join_repeat(current, event, now))
            alert = rules.open_alert(event.device, kind, now, event=event, test=event.test)
            self._page(alert, opening=True)
        return alert

    def attach_evidence(self, device: str, event_id: str, evidence_for: str, offset_s: float) -> Alert | None:
        """A picture from around `device`'s event `evidence_for` joins that event's alert (issue 15).

        Only an alert of the same post: a post cannot hang pictures on another post's alert.
        """
        with self._lock:
            target = self._alert_with_event(device, evidence_for)
            if target is None:
                log.info("evidence %s from %s: no alert lists event %s", event_id, device, evidence_for)
                return None
            linked = rules.attach_evidence(target, event_id, offset_s, self.clock())
            return self._update(linked) if linked is not target else target

    def picture_stored(self, device: str, event_id: str) -> None:
        """The snapshot store saved `device`'s `event_id` (any thread): if it is an open alert's evidence
        picture, a page waiting for it goes now, and the alert's pages in browsers show it."""
        for (owner, _kind), alert_id in list(self._open.items()):
            alert = self._alerts.get(alert_id)
            if owner != device or alert is None or event_id not in alert.evidence:
                continue
            self.picture_wait.kick()
            for listener in list(self.picture_listeners):
                try:
                    listener(alert)
                except Exception:
                    log.exception("picture listener failed")
            return

    def _alert_with_event(self, device: str, event_id: str) -> Alert | None:
        """The alert of `device` listing `event_id`: its open alerts first (the usual case), then the rest."""
        for (owner, _kind), alert_id in list(self._open.items()):
            alert = self._alerts.get(alert_id)
            if owner == device and alert is not None and event_id in alert.event_ids:
                return alert
        for alert in self._alerts.values():
            if alert.device == device and event_id in alert.event_ids:
                return alert
        return None

    def raise_missed(self, events: Iterable[Event]) -> list[Alert]:
        """After a restart: events the log committed but whose alert never reached the disk (the hub
        stopped between the two writes) raise or join their alert now, oldest first."""
        with self._lock:
            known = {event_id for alert in self._alerts.values() for event_id in alert.event_ids}
        raised: list[Alert] = []
        for event in sorted(events, key=lambda e: (e.ts, e.device, e.seq)):
            if event.id in known or rules.alert_kind_for(event) is None:
                continue
            log.warning(
                "event %s (%s from %s) has no alert: the hub stopped before saving it; raising it now",
                event.id,
                event.kind.value,
                event.device,
            )
            alert = self.handle_event(event)
            if alert is not None:
                raised.append(alert)
        return raised

    def post_offline(self, device: str) -> Alert:
        """A post went silent: that is an alarm, not a grey dot."""
        now = self.clock()
        with self._lock:
            current = self.open_for(device, AlertKind.OFFLINE)
            if current is not None:
                return current
            alert = rules.open_alert(device, AlertKind.OFFLINE, now)
            self._page(alert, opening=True)
        return alert

    def raise_condition(self, device: str, kind: AlertKind, details: dict[str, Any]) -> Alert:
        """A condition reported by a post (e.g. health warnings) stands: open its alert, or update its details."""
        now = self.clock()
        with self._lock:
            current = self.open_for(device, kind)
            if current is not None:
                noted = rules.record_note(current, now, "updated", "system", "; ".join(details.get("messages", ())))
                return self._update(replace(noted, details=details))
            alert = replace(rules.open_alert(device, kind, now), details=details)
            self._page(alert, opening=True)
        return alert

    def clear_condition(self, device: str, kind: AlertKind, detail: str) -> Alert | None:
        """The condition is gone (post online again, camera back): log a restore and resolve."""
        with self._lock:
            current = self.open_for(device, kind)
            if current is None:
                return None
            return self._update(rules.resolve(current, "system", Outcome.RESTORED, detail, self.clock()))

    def acknowledge(self, alert_id: str, actor: str, channel: str) -> Alert:
        with self._lock:
            return self._update(rules.acknowledge(self._require(alert_id), actor, channel, self.clock()))

    def en_route(self, alert_id: str, actor: str) -> Alert:
        with self._lock:
            return self._update(rules.en_route(self._require(alert_id), actor, self.clock()))

    def ack_url(self, alert_id: str, recipient: Recipient) -> str:
        """The signed one-tap acknowledgement link for one recipient of one alert."""
        assert self.links is not None, "AlertService.start() was not called"
        token = self.links.issue(alert_id, recipient.name, recipient.language)
        return f"{self.settings.public_url.rstrip('/')}/ack/{token}"

    def resolve(self, alert_id: str, actor: str, outcome: Outcome, note: str | None) -> Alert:
        with self._lock:
            return self._update(rules.resolve(self._require(alert_id), actor, outcome, note, self.clock()))

    # -- operators' actions (issue 15; pure part: hub/alerting/actions.py) --------------------
    def add_note(self, alert_id: str, actor: str, note: str) -> Alert:
        """A note on an open alert (KeyError: no such alert; TransitionError: closed; InvalidText)."""
        with self._lock:
            return self._update(actions.add_note(self._require(alert_id), actor, note, self.clock()))

    def assignable(self) -> list[Officer]:
        """The officers an operator may assign: the active officers of the roster paging uses."""
        roster = getattr(self.resolver, "roster", None)
        source = roster() if callable(roster) else self.officers.roster()
        return [o for o in source.officers if o.active]

    def assign(self, alert_id: str, actor: str, officer_id: str) -> Alert:
        """Assign an officer to an open alert and page them "you are assigned" with their ack link.

        UnknownOfficer for an officer who is not assignable; the page's outcome lands
        on the timeline like any page (`notified` / `page_failed`, detail "<name> (assigned)").
        """
        officer = next((o for o in self.assignable() if o.id == officer_id), None)
        if officer is None:
            raise actions.UnknownOfficer(f"no active officer with id {officer_id!r}")
        with self._lock:
            alert = self._update(actions.assign(self._require(alert_id), actor, officer.id, officer.name, self.clock()))
        post = self.posts(alert.device)
        recipient = _recipient(officer)
        if post is None:
            self._page_result(alert.id, officer.name, "assigned", False, f"post {alert.device} is not configured")
            return alert
        link = f"{self.settings.public_url.rstrip('/')}/alerts/{alert.id}"
        info = PostInfo(post.name, post.village, post.lat, post.lon)
        try:
            message = assignment_message(
                alert,
                info,
                link,
                self.settings.timezone,
                recipient.language,
                ack_link=self.ack_url(alert.id, recipient),
                by=actor,
            )
        except Exception as exc:
            log.exception("assigning %s: could not build the message", officer.name)
            self._page_result(alert.id, officer.name, "assigned", False, str(exc))
            return alert
        page = Page(tuple(recipient.urls), message.title, message.body)
        self.pager.submit(page, lambda ok, error: self._page_result(alert.id, officer.name, "assigned", ok, error))
        return alert

    def report_incident(self, device: str, report: actions.ManualReport, actor: str) -> tuple[Alert, bool]:
        """An incident reported by phone or in person for a post: a `manual` alert, paged like any
        other; while one is open for that post the report joins it. Returns (alert, opened now)."""
        if device == rules.HUB_DEVICE or self.posts(device) is None:
            raise actions.UnknownPost(f"no post {device!r}")
        now = self.clock()
        with self._lock:
            current = self.open_for(device, AlertKind.MANUAL)
            if current is not None:
                return self._update(actions.join_manual(current, report, actor, now)), False
            alert = actions.open_manual(device, report, actor, now)
            self._page(alert, opening=True)
        return alert, True

    def _require(self, alert_id: str) -> Alert:
        alert = self._alerts.get(alert_id)
        if alert is None:
            raise KeyError(alert_id)
        return alert

    # -- effects --------------------------------------------------------------------------
    def _update(self, alert: Alert) -> Alert:
        previous = self._alerts.get(alert.id)
        self._alerts[alert.id] = alert
        key = (alert.device, alert.kind)
        if alert.is_open:
            self._open[key] = alert.id
        elif self._open.get(key) == alert.id:
            del self._open[key]
        if previous is None or previous.state != alert.state:
            self._tell_post(alert)
        self.repository.save(alert)
        for listener in list(self.listeners):
            try:
                listener(alert)
            except Exception:
                log.exception("alert listener failed")
        return alert

    def _tell_post(self, alert: Alert) -> None:
        if alert.kind in rules.POLSEK_ONLY:
            return  # offline: it will see its other alerts on reconnect; health, flood, poison, hub: for the Polsek only
        update = AlertUpdate(
            alert_id=alert.id,
            state=alert.state,
            kind=EventKind(alert.kind.value),
            ts=alert.updated_at,
            by=alert.acknowledged_by,
            message=text(f"post_state_{alert.state.value}", "id"),  # the guard reads Bahasa Indonesia
        )
        try:
            self.publish(alert.device, update)
        except Exception:
            log.exception("could not publish alert %s state to %s", alert.id, alert.device)

    def _page(self, alert: Alert, opening: bool = False) -> None:
        """First page of an alert: level 1 of the duty chain (tests and unpaged kinds: nobody).

        `opening`: a new alert, not recorded yet, and the caller holds the lock. Its page leaves
        first; only then is the alert recorded, saved, shown and told to its post, so the officer's
        phone never waits for the hub's own bookkeeping.
        """
        post = self.posts(alert.device)
        now = self.clock()
        rule = rule_for(self.settings.alert_rules, alert.kind)
        reason = "test event" if alert.test else None if rule.page else f"{alert.kind.value} is not paged (alert_rules)"
        chain = self._chain(post, alert, now) if post is not None and not reason else []
        step = first_step(rule, len(chain), now) if chain else None
        with self._lock:
            current = alert if opening else self._alerts[alert.id]
            if not opening and not current.awaiting_ack:
                return  # answered on the dashboard before we got here
            if step is not None and post is not None:  # a step implies a chain, and a chain a post
                self._dispatch(current, post, chain, step)
            if opening:
                self._update(alert)
            if post is None:
                return
            if reason:
                self._update(rules.mark_not_paged(current, now, reason))
                return
            if step is None:
                self._update(rules.record_note(current, now, "page_failed", None, "nobody configured"))
                log.error("alert %s: nobody to page for post %s", alert.id, post.device_id)
                return
            self._update(rules.escalation_step(current, step.level, step.next_due, now, _describe(step, chain)))
        self._arm(step)

    def escalate_due(self, now: datetime | None = None) -> list[Alert]:
        """Take every escalation step that is due at `now` (the timer calls this); returns the alerts moved."""
        now = now or self.clock()
        with self._lock:
            candidates = due_alerts(self._alerts.values(), now)
        moved: list[Alert] = []
        for candidate in candidates:
            post = self.posts(candidate.device)
            if post is None:
                continue
            chain = self._chain(post, candidate, now)
            rule = rule_for(self.settings.alert_rules, candidate.kind)
            with self._lock:
                current = self._alerts[candidate.id]
                step = next_step(current, rule, len(chain), now)
                if step is None:
                    continue
                current = self._update(
                    rules.escalation_step(current, step.level, step.next_due, now, _describe(step, chain))
                )
            moved.append(current)
            self._arm(step)
            self._dispatch(current, post, chain, step)
        return moved

    def _chain(self, post: PostSettings, alert: Alert, now: datetime) -> Chain:
        chain_for = getattr(self.resolver, "chain_for", None)
        try:
            if chain_for is not None:
                return [level for level in chain_for(post, alert, now) if level]
            first = self.resolver.recipients_for(post, alert, now)
        except Exception:
            log.exception("alert %s: resolving recipients failed", alert.id)
            return []
        return [first] if first else []

    def _arm(self, step: Step) -> None:
        if step.next_due is not None and self.run_timer:
            self.timer.arm(step.next_due)

    def _dispatch(self, alert: Alert, post: PostSettings, chain: Chain, step: Step) -> None:
        """Hand this step's pages to the pager; each result lands on the alert's timeline."""
        sent: set[str] = set()
        plan = [(pos, "escalated" if pos > 1 else None) for pos in step.page]
        plan += [(pos, "reminder") for pos in step.remind]
        for position, repeat in plan:
            if position > len(chain):
                continue
            for recipient in chain[position - 1]:
                if recipient.name in sent:
                    continue
                sent.add(recipient.name)
                self._send(alert, post, recipient, repeat)

    def _send(self, alert: Alert, post: PostSettings, recipient: Recipient, repeat: str | None = None) -> None:
        link = f"{self.settings.public_url.rstrip('/')}/alerts/{alert.id}"
        info = PostInfo(post.name, post.village, post.lat, post.lon)
        try:
            ack_link = self.ack_url(alert.id, recipient)
            message = alert_message(
                alert, info, link, self.settings.timezone, recipient.language, ack_link=ack_link, repeat=repeat
            )
        except Exception as exc:  # a page we cannot even write must still show on the timeline
            log.exception("paging %s: could not build the message", recipient.name)
            self._page_result(alert.id, recipient.name, repeat, False, str(exc))
            return
        page = Page(tuple(recipient.urls), message.title, message.body)

        def done(ok: bool, error: str | None) -> None:
            self._page_result(alert.id, recipient.name, repeat, ok, error)

        if self.find_snapshot is None or alert.kind not in PICTURE_KINDS:
            self.pager.submit(page, done)
            return

        def picture() -> str | None:
            return self._picture_path(alert.id)

        if repeat is None and alert.escalation_level == 0 and self.has_camera(alert.device):
            self.picture_wait.submit(page, done, picture)  # the first page: held briefly for its picture
        else:
            self.pager.submit(replace(page, attachment=picture()), done)

    def _picture_path(self, alert_id: str) -> str | None:
        """The stored picture at the press of this alert (issue 15), as a file path; None while it is not there."""
        alert = self._alerts.get(alert_id)
        event_id = rules.at_press(alert) if alert is not None else None
        if event_id is None or self.find_snapshot is None:
            return None
        path = self.find_snapshot(event_id, alert.device) if alert is not None else None
        return str(path) if path is not None else None

    def _page_result(self, alert_id: str, name: str, repeat: str | None, ok: bool, error: str | None) -> None:
        with self._lock:
            current = self._alerts[alert_id]
            if ok:
                detail = f"{name} ({repeat})" if repeat else name
                self._update(rules.mark_notified(current, [name], self.clock(), detail))
            else:
                log.error("paging %s for alert %s failed: %s", name, alert_id, error)
                self._update(rules.record_note(current, self.clock(), "page_failed", name, error or "notifier refused"))


def _describe(step: Step, chain: Chain) -> str:
    def who(positions: tuple[int, ...]) -> str:
        return ", ".join(r.name for p in positions if p <= len(chain) for r in chain[p - 1])

    parts = [f"level {step.level}"]
    if step.page:
        parts.append(f"page: {who(step.page)}")
    if step.remind:
        parts.append(f"remind: {who(step.remind)}")
    if step.next_due is None:
        parts.append("no further steps")
    return "; ".join(parts)
