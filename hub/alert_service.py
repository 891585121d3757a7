"""Alert service: applies the pure alert rules, pages people, tells the post, persists.

The alert path never waits on disk or on a notifier: paging runs on a thread pool and
alerts are saved by a background writer.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from hub import alerts as rules
from hub.alerts import Alert, AlertKind, Outcome
from hub.messages import PostInfo, alert_message
from hub.notify import Notifier
from hub.settings import HubSettings, PostSettings
from hub.store import open_tinydb
from kamling.protocol import AlertUpdate, Event, EventKind, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    name: str
    urls: tuple[str, ...]
    language: str = "id"


class RecipientResolver(Protocol):
    def recipients_for(self, post: PostSettings, alert: Alert, now: datetime) -> list[Recipient]: ...


class VillageOfficers:
    """Officers whose villages include the post's (or who cover all); the duty desk otherwise."""

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings

    def recipients_for(self, post: PostSettings, alert: Alert, now: datetime) -> list[Recipient]:
        chosen = [
            Recipient(o.name, tuple(u.get_secret_value() for u in o.urls), o.language)
            for o in self.settings.officers
            if not o.villages or post.village in o.villages
        ]
        if not chosen and self.settings.fallback_urls:
            urls = tuple(u.get_secret_value() for u in self.settings.fallback_urls)
            chosen = [Recipient("Piket Polsek", urls, self.settings.language)]
        return chosen


class AlertRepository:
    """Alerts in one TinyDB file (atomic writes); saved by a background thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.Queue[Alert | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._db = None

    def load(self) -> list[Alert]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = open_tinydb(self.path)
        return [Alert.from_record(dict(r)) for r in self._db.table("alerts").all()]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def save(self, alert: Alert) -> None:
        self._queue.put(alert)

    def _run(self) -> None:
        from tinydb import Query

        assert self._db is not None
        table = self._db.table("alerts")
        while True:
            item = self._queue.get()
            batch = [item]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            latest = {a.id: a for a in batch if a is not None}
            for alert in latest.values():
                try:
                    table.upsert(alert.to_record(), Query().id == alert.id)
                except OSError:
                    log.exception("alert store: could not save alert %s", alert.id)
            if None in batch:
                return


Publisher = Callable[[str, AlertUpdate], None]
Listener = Callable[[Alert], None]


class AlertService:
    def __init__(
        self,
        settings: HubSettings,
        posts: Callable[[str], PostSettings | None],
        notifier: Notifier,
        publish: Publisher,
        repository: AlertRepository,
        resolver: RecipientResolver | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.posts = posts
        self.notifier = notifier
        self.publish = publish
        self.repository = repository
        self.resolver = resolver or VillageOfficers(settings)
        self.clock = clock
        self.listeners: list[Listener] = []
        self._alerts: dict[str, Alert] = {}
        self._open: dict[tuple[str, AlertKind], str] = {}
        self._lock = threading.RLock()
        self._pager: ThreadPoolExecutor | None = None

    def start(self) -> None:
        for alert in self.repository.load():
            self._alerts[alert.id] = alert
            if alert.is_open:
                self._open[(alert.device, alert.kind)] = alert.id
        self.repository.start()
        self._pager = ThreadPoolExecutor(max_workers=16, thread_name_prefix="pager")

    def stop(self) -> None:
        if self._pager is not None:
            self._pager.shutdown(wait=True, cancel_futures=False)
            self._pager = None
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
            self._update(alert)
        self._page(alert)
        return alert

    def post_offline(self, device: str) -> Alert:
        """A post went silent: that is an alarm, not a grey dot."""
        now = self.clock()
        with self._lock:
            current = self.open_for(device, AlertKind.OFFLINE)
            if current is not None:
                return current
            alert = self._update(rules.open_alert(device, AlertKind.OFFLINE, now))
        self._page(alert)
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

    def resolve(self, alert_id: str, actor: str, outcome: Outcome, note: str | None) -> Alert:
        with self._lock:
            return self._update(rules.resolve(self._require(alert_id), actor, outcome, note, self.clock()))

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
        if alert.kind is AlertKind.OFFLINE:
            return  # the post is offline; it will see its other alerts on reconnect
        update = AlertUpdate(
            alert_id=alert.id,
            state=alert.state,
            kind=EventKind(alert.kind.value),
            ts=alert.updated_at,
            by=alert.acknowledged_by,
        )
        try:
            self.publish(alert.device, update)
        except Exception:
            log.exception("could not publish alert %s state to %s", alert.id, alert.device)

    def _page(self, alert: Alert) -> None:
        post = self.posts(alert.device)
        if post is None:
            return
        if alert.test:
            with self._lock:
                self._update(rules.record_note(self._alerts[alert.id], self.clock(), "not_paged", None, "test event"))
            return
        recipients = self.resolver.recipients_for(post, alert, self.clock())
        if not recipients:
            with self._lock:
                self._update(rules.record_note(self._alerts[alert.id], self.clock(), "page_failed", None, "nobody configured"))
            log.error("alert %s: nobody to page for post %s", alert.id, post.device_id)
            return
        assert self._pager is not None, "AlertService.start() was not called"
        for recipient in recipients:
            self._pager.submit(self._send, alert, post, recipient)

    def _send(self, alert: Alert, post: PostSettings, recipient: Recipient) -> None:
        link = f"{self.settings.public_url.rstrip('/')}/alerts/{alert.id}"
        info = PostInfo(post.name, post.village, post.lat, post.lon)
        message = alert_message(alert, info, link, self.settings.timezone, recipient.language)
        try:
            ok = self.notifier.send(list(recipient.urls), message.title, message.body)
        except Exception as exc:  # a broken notifier must not kill the pager
            log.exception("paging %s failed", recipient.name)
            ok, error = False, str(exc)
        else:
            error = "notifier refused"
        with self._lock:
            current = self._alerts[alert.id]
            if ok:
                self._update(rules.mark_notified(current, [recipient.name], self.clock()))
            else:
                self._update(rules.record_note(current, self.clock(), "page_failed", recipient.name, error))
