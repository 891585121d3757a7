"""Every broker of the sector (issue 13): one hub session per broker, one inbox, routed replies.

A sector may run two Mosquittos; each post uses the first it can reach (edge/link.py `failover`).
The hub connects to every one of them (`mqtt_host` plus `mqtt_other_brokers`), so a post is heard
whichever broker it is on. Messages from all sessions go to the same ingest queue, each labelled
with its broker (`Inbound.broker`); a post's status is merged across brokers by the post registry
(online while it is online on any broker). What the hub sends to a post (acks, alert updates,
commands) goes through the broker(s) the post is online on, or through every connected broker when
the hub does not know where it is: every such message is idempotent at the post (acks remove ids,
alert updates carry the state, commands run once per id).

With one broker this is a thin wrapper around one HubMqtt, behaving exactly as before.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime

from hub.ingest.mqtt_session import AlarmSession, HubMqtt, HubPresence, Inbound
from hub.posts.registry import PostRegistry
from hub.settings import HubSettings
from kamling.protocol import ProtocolError, parse_topic, utc_now

log = logging.getLogger(__name__)


class BrokerSet:
    """HubMqtt's interface (start/stop/publish/connected/hubs/admit) over every broker of the sector."""

    def __init__(
        self,
        settings: HubSettings,
        inbox: queue.Queue[Inbound],
        registry: PostRegistry,
        version: str | None = None,
    ) -> None:
        endpoints = [(settings.mqtt_host, settings.mqtt_port)] + [(b.host, b.port) for b in settings.mqtt_other_brokers]
        self.sessions = [HubMqtt(settings, inbox, version=version, endpoint=e) for e in endpoints]
        self.registry = registry
        self.on_lost: Callable[[str], None] | None = None  # a broker's session dropped (Ingest.broker_lost)
        for session in self.sessions:
            session.on_lost = self._lost

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        for session in self.sessions:
            session.start()

    def stop(self) -> None:
        for session in self.sessions:
            session.stop()

    # -- state -----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while at least one broker's session is up (every broker: see `brokers`)."""
        return any(session.connected for session in self.sessions)

    @property
    def brokers(self) -> dict[str, bool]:
        """Each broker's label and whether the hub's session to it is up."""
        return {session.broker: session.connected for session in self.sessions}

    @property
    def connects(self) -> int:
        return sum(session.connects for session in self.sessions)

    @property
    def failed(self) -> int:
        return sum(session.failed for session in self.sessions)

    @property
    def alarm(self) -> AlarmSession:
        """The first broker's alarm session (tests and benchmarks count what it carried)."""
        return self.sessions[0].alarm

    @property
    def hubs(self) -> dict[str, HubPresence]:
        """Every hub seen on any broker; a hub online on one broker is online."""
        merged: dict[str, HubPresence] = {}
        for session in self.sessions:
            for hub_id, presence in dict(session.hubs).items():
                known = merged.get(hub_id)
                if known is None or (presence.state == "online" and known.state != "online"):
                    merged[hub_id] = presence
        return merged

    @property
    def admit(self) -> Callable[[str, bytes], bool] | None:
        return self.sessions[0].admit

    @admit.setter
    def admit(self, check: Callable[[str, bytes], bool] | None) -> None:
        for session in self.sessions:
            session.admit = check

    @property
    def early_alarm(self) -> Callable[[str, bytes], None] | None:
        return self.sessions[0].early_alarm

    @early_alarm.setter
    def early_alarm(self, handler: Callable[[str, bytes], None] | None) -> None:
        for session in self.sessions:
            session.early_alarm = handler

    # -- sending ---------------------------------------------------------------------------
    def publish(
        self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False, expiry: int | None = None
    ) -> None:
        """To a post: through the broker(s) it is online on, else every connected one; anything else: all."""
        for session in self.route(topic):
            session.publish(topic, payload, qos=qos, retain=retain, expiry=expiry)

    def route(self, topic: str) -> list[HubMqtt]:
        if len(self.sessions) == 1:
            return self.sessions
        try:
            device = parse_topic(topic).device
        except ProtocolError:
            return self.sessions  # not a post's topic (Home Assistant discovery, ...): every broker
        where = self.registry.state(device).brokers
        chosen = [s for s in self.sessions if s.broker in where and s.connected]
        return chosen or [s for s in self.sessions if s.connected] or self.sessions

    def _lost(self, broker: str) -> None:
        if self.on_lost is not None:
            self.on_lost(broker)


class BrokerLossHold:
    """The hub lost its session to a broker: the posts that were online there alone are offline for
    the hub, but most are moving to another broker (edge/link.py fails over within seconds). Each gets
    `grace` seconds to show up elsewhere before its offline alert; one still away then is an alarm.
    A post's own Last Will (it vanished while its broker stayed up) alerts at once, as always; but
    while the hub's session to some broker is down, any post that goes offline may be on that broker
    (a post moving back to a broker the hub has not reconnected to yet): its alert waits too (`defer`)."""

    def __init__(
        self,
        registry: PostRegistry,
        raise_offline: Callable[[str], object],
        grace: float,
        clock: Callable[[], datetime] = utc_now,
        every_broker_up: Callable[[], bool] = lambda: True,
        any_broker_up: Callable[[], bool] = lambda: True,
    ) -> None:
        self.every_broker_up = every_broker_up
        self.any_broker_up = any_broker_up
        self.registry = registry
        self.raise_offline = raise_offline
        self.grace = grace
        self.clock = clock
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def lost(self, broker: str) -> None:
        """Any thread (paho's, on disconnect)."""
        gone = self.registry.forget_broker(broker, self.clock())
        if not gone:
            return
        log.warning(
            "lost broker %s: %d post(s) were on it alone; their offline alerts wait %.0f s for them to move",
            broker,
            len(gone),
            self.grace,
        )
        self._later(gone)

    def defer(self, device: str) -> bool:
        """Called when a post goes offline: True (its alert is checked again after the grace) while the
        hub's session to some broker is down; False: alert now."""
        if self.grace <= 0 or self.every_broker_up():
            return False
        log.warning(
            "post %s went offline while a broker is out of the hub's sight: alert in %.0f s", device, self.grace
        )
        self._later([device])
        return True

    def _later(self, gone: list[str]) -> None:
        timer = threading.Timer(self.grace, self._check, args=(gone,))
        timer.daemon = True
        with self._lock:
            if self._stopped:
                return
            self._timers.add(timer)
        timer.start()

    def _check(self, devices: list[str]) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive() and t is not threading.current_thread()}
            if self._stopped:
                return
        if not self.any_broker_up():
            # The hub hears no broker at all: every post would look gone. That is the hub's outage, not
            # theirs (/api/health says mqtt_connected false); ask again later rather than page them all.
            self._later(devices)
            return
        for device in devices:
            if self.registry.get(device) is not None and self.registry.state(device).online is False:
                log.warning("post %s did not show up on another broker: OFFLINE", device)
                self.raise_offline(device)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
