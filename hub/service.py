"""HubService: builds the hub's parts from settings and runs them (start/stop)."""

from __future__ import annotations

import gc
import logging
import queue
from datetime import timedelta
from typing import Any

from hub.accounts.auth import LoginGuard, LoginThrottle
from hub.accounts.sessions import SessionManager
from hub.accounts.users import UserStore
from hub.alerting.evidence import AlertEvidence
from hub.alerting.health_watch import HealthWatch
from hub.alerting.offline_hold import OfflineHold
from hub.alerting.rules import HUB_DEVICE, AlertKind
from hub.alerting.sector_watch import SectorWatch
from hub.alerting.service import AlertService, RecipientResolver
from hub.alerting.sql_store import SqlAlertRepository, migrate_alert_files
from hub.community.service import CommunityService
from hub.ingest.brokers import BrokerLossHold, BrokerSet
from hub.ingest.mqtt_session import Inbound
from hub.ingest.pipeline import Ingest
from hub.ingest.poison import PoisonWatch
from hub.ingest.quarantine import Quarantine
from hub.ingest.ratelimit import DeviceRateLimiter
from hub.ingest.watchdog import IngestWatchdog
from hub.integrations.homeassistant import HomeAssistantBridge
from hub.integrations.metrics import HubMetrics
from hub.paging.ack_links import load_or_create_secret
from hub.paging.notify import AppriseNotifier, Notifier
from hub.paging.pager import Pager, ProcessPager, ThreadPager
from hub.posts.commands import CommandService
from hub.posts.registry import PostRegistry
from hub.provisioning.devices import DeviceStore, DeviceSync
from hub.ronda.store import RondaStore
from hub.ronda.watch import RondaWatch
from hub.settings import HubSettings, PostSettings
from hub.storage.audit import AlertAuditor
from hub.storage.deadletters import DeadLetterStore
from hub.storage.eventlog import EventLogWriter
from hub.storage.events import EventQuery, EventStore, TinyEventStore
from hub.storage.snapshots import SnapshotStore
from hub.storage.sql.audit import migrate_audit_file, open_audit_log
from hub.storage.sql.database import Database, StoreUnavailable
from hub.storage.sql.events import SqlEventStore
from hub.storage.sql.retention import RetentionWorker
from hub.storage.sql.transfer import migrate_tinydb
from kamling.protocol import AlertUpdate, Channel, Event, EventKind, topic, utc_now
from kamling.version import software_version

log = logging.getLogger(__name__)

MISSED_ALERT_WINDOW = timedelta(hours=24)
MISSED_ALERT_SCAN = 10_000  # per kind: the newest events of the window
KNOWN_ADDRESS_HISTORY = 5_000  # successful logins read back at start for known addresses
MB = 1024 * 1024
ALERTING_KINDS = (EventKind.PANIC, EventKind.TAMPER, EventKind.CAMERA, EventKind.MOTION)
# model_construct: "_hub" is deliberately not a valid device id, so no post can ever be it
HUB_POST = PostSettings.model_construct(device_id=HUB_DEVICE, name="Hub Polsek", village="", lat=None, lon=None)


def tune_process_for_latency() -> None:
    """For a process whose main job is the hub (the `hub` command, benchmarks): what start-up built
    lives as long as the process, so full garbage collections stop rescanning it (gc.freeze);
    a full collection of a grown hub otherwise pauses every thread, a panic's included."""
    gc.collect()
    gc.freeze()


def make_pager(settings: HubSettings, notifier: Notifier | None) -> Pager:
    """A given notifier (tests, embedding) runs in-process; apprise runs in its own process unless disabled."""
    if notifier is not None:
        return ThreadPager(notifier)
    in_hub = ThreadPager(AppriseNotifier())
    return ProcessPager(fallback=in_hub) if settings.pager_process else in_hub


class HubService:
    """Everything of the hub except the web server."""

    def __init__(
        self,
        settings: HubSettings,
        notifier: Notifier | None = None,
        store: EventStore | None = None,
        resolver: RecipientResolver | None = None,
    ) -> None:
        self.settings = settings
        self.inbox: queue.Queue[Inbound] = queue.Queue()
        self.registry = PostRegistry(settings.posts)
        self.devices = DeviceSync(DeviceStore(settings.data_dir / "devices.json"), self.registry)  # `device add`
        self.store: EventStore = store or SqlEventStore(Database(settings.store_url))
        # old rows (motion after 90 days by default) go to monthly archives, then out of the database
        self.retention = (
            RetentionWorker(
                self.store.database, settings.retention, settings.retention.archive_dir or settings.data_dir / "archive"
            )
            if isinstance(self.store, SqlEventStore)
            else None
        )
        self.legacy_log_damaged: list[str] = []  # damaged partitions of a TinyDB log being adopted
        self.snapshots = SnapshotStore(  # quotas per post, global backstop, alert evidence held (issue 18)
            settings.data_dir / "snapshots",
            settings.snapshot_max_files,
            int(settings.snapshot_max_mb * MB),
            post_max_files=settings.snapshot_post_max_files,
            post_max_bytes=int(settings.snapshot_post_max_mb * MB),
            database=Database(settings.store_url),  # the index: one row per file, never a folder scan at start
        )
        self.mqtt = BrokerSet(settings, self.inbox, self.registry, version=software_version())  # every broker
        self.alerts = AlertService(
            settings,
            posts=self._post_or_hub,
            pager=make_pager(settings, notifier),
            publish=self._publish_alert,
            repository=SqlAlertRepository(
                Database(settings.store_url)
            ),  # its own connections: never waits on the event log
            resolver=resolver,
        )
        self.ingest = Ingest(
            self.inbox,
            self.registry,
            self.store,
            EventLogWriter,
            self.alerts,
            publish=lambda t, p: self.mqtt.publish(t, p, qos=1),
            snapshots=self.snapshots,
            limiter=DeviceRateLimiter(settings.rate_limit),
            max_batch=settings.max_batch,
            dead_letters=DeadLetterStore(settings.data_dir / "deadletters.sqlite", max_rows=settings.dead_letter_max),
        )
        self.ingest.snapshot_gate.configure(  # snapshots that arrive before their event wait here (issue 18)
            window=settings.snapshot_pending_seconds,
            per_post=settings.snapshot_pending_per_post,
            max_bytes=int(settings.snapshot_pending_max_mb * MB),
        )
        # storage sits below alerting: the snapshot store asks this callable which pictures are evidence
        self.evidence = AlertEvidence(self.alerts, timedelta(days=settings.snapshot_alert_keep_days))
        self.alerts.listeners.append(self.evidence.observe)
        self.snapshots.protection = self.evidence.hold
        self.alerts.find_snapshot = self.snapshots.find  # the picture at a press goes with its page (issue 15)
        self.alerts.has_camera = lambda device: bool((self.registry.state(device).health or {}).get("cameras"))
        self.snapshots.on_saved = self.alerts.picture_stored
        self.dead_letters = self.ingest.dead_letters  # what failed in the hub, kept for admins (issue 18)
        self.poison = PoisonWatch(self.alerts, settings.poison_alert_count, settings.poison_alert_window)
        self.ingest.on_dead_letter = self.poison.observe
        self.watchdog = IngestWatchdog(
            self.ingest, self.alerts, settings.ingest_stuck_after, queue_depth=self.inbox.qsize
        )
        self.mqtt.admit = self.ingest.admit  # rate limit before queueing (flooding devices)
        self.mqtt.early_alarm = self.ingest.early_alarm  # a panic's alarm copy pages from paho's thread (issue 17)
        # A broker lost: its posts get a grace to show up on another broker before their offline alert (issue 13)
        self.broker_loss = BrokerLossHold(
            self.registry,
            self.alerts.post_offline,
            settings.broker_loss_grace,
            every_broker_up=lambda: all(self.mqtt.brokers.values()),
            any_broker_up=lambda: self.mqtt.connected,
        )
        self.mqtt.on_lost = self.broker_loss.lost
        # A broker of the sector out of reach, or a peer hub offline, for a while: one page to the duty desk
        self.sector_watch = SectorWatch(
            self.alerts,
            brokers=lambda: self.mqtt.brokers,
            hubs=lambda: {hub_id: p.state for hub_id, p in self.mqtt.hubs.items()},
            own_hub=settings.hub_id,
            after=settings.sector_lost_after,
        )
        self.ingest.defer_offline = self.broker_loss.defer
        self.quarantine = Quarantine(settings, self.alerts)  # a device that keeps flooding: alert, block
        self.ingest.on_rate_limited = self.quarantine.rejected
        self.users = UserStore(settings.data_dir / "users.json")
        self.sessions = SessionManager(idle_seconds=settings.session_idle_minutes * 60)
        self.audit = open_audit_log(settings)
        self.commands = CommandService(  # operators' commands to posts: siren, snapshot, ping (issue 15)
            self.registry,
            lambda t, p, expiry: self.mqtt.publish(t, p, qos=1, expiry=expiry),
            self.audit,
            settings.command_ttl,
        )
        self.ingest.on_reply = self.commands.handle_reply
        self.ingest.on_status = self._status_seen
        # No false "offline" storm when the broker or the hub restarts (hub/alerting/offline_hold.py)
        self.offline_hold = OfflineHold(
            settings.offline_grace,
            settings.offline_hold_after_connect,
            link=lambda: (self.mqtt.connected, self.mqtt.connects),
            still_offline=lambda device: self.registry.state(device).online is False,
            raise_offline=self.alerts.post_offline,
        )
        self.ingest.post_offline = self.offline_hold.offline
        self.alerts.listeners.append(AlertAuditor(self.audit))
        self.login_guard = LoginGuard(  # the one login check (API and dashboard): throttling, known sources, audit
            self.users, LoginThrottle(settings.login), self.audit
        )
        self.version = software_version()
        self.health_watch = HealthWatch(settings.health, self.alerts)
        self.ingest.on_health = self.health_watch.observe
        self.metrics = HubMetrics(self)
        self.ingest.on_commit = self._committed
        self.ronda = RondaWatch(  # ronda malam: check-ins and "Pos kosong" (hub/ronda/); one page, never the chain
            RondaStore(settings.data_dir / "ronda.json"),
            self.registry.all,
            settings.timezone,
            on_unstaffed=lambda device, details: self.alerts.raise_condition(device, AlertKind.UNSTAFFED, details),
            on_staffed=lambda device, detail: self.alerts.clear_condition(device, AlertKind.UNSTAFFED, detail),
            history=lambda since: (
                self.store.query(EventQuery(kind=EventKind.CHECKIN.value, since=since, limit=5000)).items
            ),
        )
        self.community = CommunityService(  # sambang visits and residents' reports from the post's QR poster
            settings, self.registry, self.alerts, self.alerts.officers, self.audit, Database(settings.store_url)
        )
        self.home_assistant = HomeAssistantBridge(
            settings,
            self.registry.all,
            lambda t, p, q, r: self.mqtt.publish(t, p, qos=q, retain=r),
            version=self.version,
            subscribe=self.devices.on_change,  # follows `device add/revoke` while the hub runs
        )

    def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store.open()  # a damaged SQLite file stops the start here, naming the file (restore a backup)
        self._adopt_tinydb_log()
        self.audit.open()
        self._adopt_legacy_files()
        self.dead_letters.open()
        self.users.open()
        # Known-browser cookies outlive restarts (key in data_dir, 0600), and so do known addresses
        # (rebuilt from the audit log's successful logins): a restart must not strand operators.
        self.login_guard.set_secret(load_or_create_secret(self.settings.data_dir / "login_cookie.key"))
        self.login_guard.learn_from_audit(reversed(self.audit.read(limit=KNOWN_ADDRESS_HISTORY, action="login.ok")))
        self.devices.start()
        self.alerts.officers.check()  # a damaged roster shows at start, not at the first page
        self.alerts.start()
        self.evidence.load()  # the alerts read back from disk; later changes arrive through the listener
        self._raise_missed_alerts()
        self.quarantine.start()
        self.commands.start()
        self.ingest.start()
        if self.retention is not None:
            self.retention.start()
        self.watchdog.start()
        self.sector_watch.start()
        self.offline_hold.start()
        self.mqtt.start()
        self.home_assistant.start()
        self.ronda.start()
        self.community.start()
        self._audit_damage()
        log.info("hub started: %d posts, data in %s", len(self.settings.posts), self.settings.data_dir)

    def damaged_files(self) -> list[str]:
        """What every file-based store found damaged and set aside in this run (/api/health `store_damaged`).

        Damage to these files does not stop the hub: each store goes on without the file (renamed,
        never deleted), which keeps posts reporting and officers paged while a person looks at it.
        """
        stores = (self.store, self.alerts.repository, self.users, self.devices.store, self.alerts.officers)
        found = [
            message for store in (*stores, self.alerts.procedures) for message in list(getattr(store, "damaged", ()))
        ]
        return self.legacy_log_damaged + found

    def _audit_damage(self) -> None:
        """One audit record per damaged file found at start, for the admin (the log has them too)."""
        for message in self.damaged_files():
            self.audit.record("hub", "storage.damaged", message.split(":", 1)[0], ok=False, problem=message)

    def stop(self) -> None:
        self.broker_loss.stop()
        self.ronda.stop()
        self.community.stop()
        self.home_assistant.stop()
        self.mqtt.stop()
        self.offline_hold.stop()
        self.watchdog.stop()
        self.sector_watch.stop()
        self.ingest.stop()
        self.commands.stop()
        self.dead_letters.close()
        self.quarantine.stop()
        self.alerts.stop()
        if self.retention is not None:
            self.retention.stop()
        self.store.close()
        self.snapshots.database.close()
        self.audit.close()  # last: the steps above may still audit
        self.users.close()
        self.devices.stop()

    def _adopt_tinydb_log(self) -> None:
        """A hub upgraded from the TinyDB release copies its event log into the SQL store once, at start
        (idempotent, verified; the old files stay until an admin removes them; `poskamling hub migrate`
        does the same by hand)."""
        folder = self.settings.data_dir / "events"
        marker = folder / "MIGRATED-TO-SQL"
        if not isinstance(self.store, SqlEventStore) or marker.exists() or not any(folder.glob("events-*.json")):
            return
        old = TinyEventStore(folder)
        old.open()
        self.legacy_log_damaged = list(old.damaged)  # set aside by open(): shown in /api/health too
        try:
            records = old.scan()
            report = migrate_tinydb(self.store, iter(records))
        except StoreUnavailable as exc:
            log.error("event log: cannot copy the TinyDB log into the SQL store now (%s); will try at next start", exc)
            return
        finally:
            old.close()
        missing = [r["id"] for r in records if not self.store.contains(str(r["id"]))]
        if missing or report.bad:
            log.error(
                "event log: %d TinyDB events not copied (%d bad); run `poskamling hub migrate`",
                len(missing),
                report.bad,
            )
            return
        marker.write_text(f"{len(records)} events copied into {self.store.database.url.redacted()}\n")
        log.warning("event log: copied %d events from the TinyDB log into the SQL store", len(records))

    def _adopt_legacy_files(self) -> None:
        """Alerts and audit lines of the file-based release go into SQL once, at start (idempotent, old files kept)."""
        marker = self.settings.data_dir / "MIGRATED-ALERTS-AUDIT-TO-SQL"
        legacy_audit = self.settings.audit_file or self.settings.data_dir / "audit.jsonl"
        hot = self.settings.data_dir / "alerts.json"
        if marker.exists() or not (legacy_audit.exists() or hot.exists()):
            return
        repository = self.alerts.repository
        try:
            alerts = migrate_alert_files(hot, repository) if isinstance(repository, SqlAlertRepository) else None
            self.legacy_log_damaged += alerts.damaged if alerts is not None else []  # in /api/health too
            audit = migrate_audit_file(legacy_audit, self.audit)
        except StoreUnavailable as exc:
            log.error("cannot copy the alert and audit files into the SQL store now (%s); will try at next start", exc)
            return
        summary = {"alerts": alerts.summary() if alerts else None, "audit": audit.summary()}
        if alerts is not None and alerts.summary().get("missing_after"):
            log.error("alert files not fully copied into the SQL store: %s; run `poskamling hub migrate`", summary)
            return
        marker.write_text(f"{summary}\n")
        log.warning("copied the alert and audit files into the SQL store: %s", summary)

    def _raise_missed_alerts(self) -> None:
        """A crash between an event's commit (acked to the post, never sent again) and its alert's save
        would lose the alert: look through the last day's alerting events for ones without one."""
        since = utc_now() - MISSED_ALERT_WINDOW
        events: list[Event] = []
        for kind in ALERTING_KINDS:
            try:
                page = self.store.query(EventQuery(kind=kind.value, since=since, limit=MISSED_ALERT_SCAN))
            except StoreUnavailable as exc:
                log.error("event log unavailable at start (%s): missed alerts not checked", exc)
                return
            for record in page.items:
                try:
                    events.append(Event.model_validate({k: v for k, v in record.items() if k in Event.model_fields}))
                except ValueError:
                    log.error("event log: stored event %s is not a valid event", record.get("id"))
        self.alerts.raise_missed(events)

    def _committed(self, batch: list[dict[str, Any]]) -> None:
        """Ingest's commit hook: metrics, and the check-ins for the ronda watch (each event commits once)."""
        self.metrics.observe_commit(batch)
        self.ronda.observe_records(batch)
        self.commands.observe_records(batch)

    def _status_seen(self, device: str, online: bool) -> None:
        """Ingest saw a post's status: one that (re)connected gets its pending commands again."""
        if online:
            self.offline_hold.online(device)
            self.commands.post_online(device)

    def _post_or_hub(self, device: str) -> PostSettings | None:
        """A post, or the pseudo-post of alerts about the hub itself (paged to the duty desk)."""
        if device == HUB_DEVICE:
            return HUB_POST
        return self.registry.get(device)

    def _publish_alert(self, device: str, update: AlertUpdate) -> None:
        self.mqtt.publish(topic(device, Channel.ALERT), update.model_dump_json().encode(), qos=1)
