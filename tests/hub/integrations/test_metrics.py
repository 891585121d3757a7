"""/metrics: Prometheus text from a per-app registry, behind a viewer role or the metrics token."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub.accounts.auth import new_token
from hub.integrations.metrics import latency_seconds
from tests.support import post_entry, wait_for


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


def test_latency_from_received_at() -> None:
    now = datetime(2026, 11, 22, 22, 10, 1, 500000, tzinfo=UTC)
    assert latency_seconds({"received_at": "2026-11-22T22:10:00+00:00"}, now) == 1.5
    assert latency_seconds({}, now) is None and latency_seconds({"received_at": "yesterday"}, now) is None


@pytest.mark.e2e
def test_metrics_count_events_alerts_posts_and_latency(make_hub, make_post) -> None:
    token, digest = new_token()
    hub = make_hub([post_entry("pos-mx01"), post_entry("pos-mx02")], metrics_token_sha256=digest)
    viewer = hub.client("viewer")
    post = make_post("pos-mx01")
    wait_for(lambda: value(viewer.get("/metrics").text, "poskamling_posts_online") == 1, what="one post online")
    text = viewer.get("/metrics").text
    assert value(text, "poskamling_posts_total") == 2
    assert value(text, "poskamling_events_in_total", kind="panic") == 0
    assert value(text, "poskamling_alerts_open", kind="panic") == 0

    post.press()
    wait_for(
        lambda: value(viewer.get("/metrics").text, "poskamling_events_in_total", kind="panic") == 1,
        what="panic counted at commit",
    )
    text = viewer.get("/metrics").text
    assert value(text, "poskamling_alerts_open", kind="panic") == 1
    assert value(text, "poskamling_ingest_latency_seconds_count") == 1
    assert value(text, "poskamling_mqtt_connected") == 1

    # The dedicated token opens /metrics and nothing else.
    with hub.client(None) as anonymous:
        assert anonymous.get("/metrics").status_code == 401
        scraper = {"Authorization": f"Bearer {token}"}
        response = anonymous.get("/metrics", headers=scraper)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        assert anonymous.get("/api/posts", headers=scraper).status_code == 401
        assert anonymous.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_each_hub_has_its_own_registry(make_hub) -> None:
    first = make_hub([post_entry("pos-mx03")])
    assert first.service is not None
    from hub.integrations.metrics import HubMetrics

    second = HubMetrics(first.service)  # a second registry: no "Duplicated timeseries" error
    assert second.registry is not first.service.metrics.registry
    assert b"poskamling_events_in_total" in second.render()
