"""Prometheus metrics of the hub at /metrics, on a per-app CollectorRegistry (never the global one).

Counted as things happen (ingest calls `observe_commit` after each event-log commit):
  poskamling_events_in_total{kind}                 events committed to the event log
  poskamling_ingest_latency_seconds                received by the hub -> committed (histogram)
Read from the hub's state at each scrape:
  poskamling_rejected_total{reason}                messages ingest dropped (schema, unknown_device, ...)
  poskamling_alerts_open{kind}                     open alerts (test alerts excluded)
  poskamling_posts_online / poskamling_posts_total
  poskamling_mqtt_connected                        1 while the hub's MQTT session is up
  poskamling_log_backlog                           events waiting for the event-log commit

/metrics needs a role (viewer or above) like every route but /api/health, or the dedicated
bearer token whose SHA-256 is the setting `metrics_token_sha256` (it opens nothing else).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.alerting.rules import AlertKind
from hub.alerting.service import AlertService
from hub.ingest.brokers import BrokerSet
from hub.ingest.pipeline import Ingest
from hub.posts.registry import PostRegistry
from kamling.protocol import EventKind, utc_now


class HubState(Protocol):
    """What a scrape reads: the hub's ingest counters, alerts, posts and MQTT session."""

    ingest: Ingest
    alerts: AlertService
    registry: PostRegistry
    mqtt: BrokerSet


log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def latency_seconds(record: dict[str, Any], now: datetime) -> float | None:
    """received_at -> now in seconds (pure); None when the record has no usable received_at."""
    try:
        received = datetime.fromisoformat(record["received_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (now - received).total_seconds())


class _StateCollector(Collector):
    """Gauges and counters read from the hub at scrape time."""

    def __init__(self, hub: HubState) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Any]:
        hub = self.hub
        rejected = CounterMetricFamily("poskamling_rejected", "Inbound messages rejected by ingest", labels=["reason"])
        for reason, count in sorted(dict(hub.ingest.rejected).items()):
            rejected.add_metric([reason], count)
        yield rejected

        open_by_kind = dict.fromkeys((k.value for k in AlertKind), 0)
        for alert in hub.alerts.all():
            if alert.is_open and not alert.test:
                open_by_kind[alert.kind.value] = open_by_kind.get(alert.kind.value, 0) + 1
        alerts = GaugeMetricFamily("poskamling_alerts_open", "Open alerts (walk tests excluded)", labels=["kind"])
        for kind, count in open_by_kind.items():
            alerts.add_metric([kind], count)
        yield alerts

        posts = hub.registry.all()
        online = sum(1 for post in posts if hub.registry.state(post.device_id).online)
        yield GaugeMetricFamily("poskamling_posts_online", "Posts whose retained status is online", value=online)
        yield GaugeMetricFamily("poskamling_posts_total", "Posts the hub serves", value=len(posts))
        yield GaugeMetricFamily(
            "poskamling_mqtt_connected",
            "1 while the hub is connected to the broker",
            value=1 if hub.mqtt.connected else 0,
        )
        yield GaugeMetricFamily(
            "poskamling_log_backlog", "Events waiting for the event-log commit", value=hub.ingest.writer.backlog()
        )


class HubMetrics:
    """The hub's metrics; build once per HubService (each has its own registry)."""

    def __init__(self, hub: HubState, clock: Any = utc_now) -> None:
        self.hub = hub
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        self.events_in = Counter(
            "poskamling_events_in", "Events committed to the event log", ["kind"], registry=self.registry
        )
        for kind in EventKind:
            self.events_in.labels(kind.value)  # export zeros, so rate() works from the first event
        self.latency = Histogram(
            "poskamling_ingest_latency_seconds",
            "Time from the hub receiving an event to its event-log commit",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StateCollector(hub))

    def observe_commit(self, batch: Iterable[dict[str, Any]]) -> None:
        """Ingest's commit hook: never raises (metrics must not disturb the ack path)."""
        try:
            now = self.clock()
            kinds: dict[str, int] = {}
            for record in batch:
                kind = str(record.get("kind", "unknown"))
                kinds[kind] = kinds.get(kind, 0) + 1
                seconds = latency_seconds(record, now)
                if seconds is not None:
                    self.latency.observe(seconds)
            for kind, count in kinds.items():  # one counter update per kind and commit, not per event
                self.events_in.labels(kind).inc(count)
        except Exception:
            log.exception("metrics: could not record a commit")

    def render(self) -> bytes:
        return generate_latest(self.registry)
