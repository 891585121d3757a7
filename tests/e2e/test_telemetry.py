"""End to end: a post's health telemetry reaches the hub, which warns on overheating and clears it."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.telemetry import HostProbe
from tests.support import post_entry, wait_for

pytestmark = pytest.mark.e2e


def fake_probe(tmp_path: Path, celsius: float) -> tuple[HostProbe, Path]:
    thermal = tmp_path / "thermal_zone0_temp"
    thermal.write_text(f"{int(celsius * 1000)}\n")
    uptime = tmp_path / "uptime"
    uptime.write_text("1234.5 4000.0\n")
    probe = HostProbe(
        thermal_path=thermal,
        uptime_path=uptime,
        loadavg_path=tmp_path / "no-loadavg",
        throttled_command=None,
        clock_synced=lambda: True,
        version=lambda: "9.9.9-test",
    )
    return probe, thermal


def test_health_is_shown_per_post_and_overheating_raises_then_clears_a_warning(
    make_hub, make_post, sink, tmp_path
) -> None:
    # Disk thresholds off: the test machine's free space must not decide the outcome.
    hub = make_hub([post_entry("pos-tm01", "Pos Kamling RW 07")], health={"disk_free_pct": 0, "disk_free_mb": 0})
    api = hub.client("viewer")
    probe, thermal = fake_probe(tmp_path, 85.0)
    post = make_post("pos-tm01", start=False, health_interval=0.2)
    post.agent.probe = probe
    post.start()
    try:
        health = wait_for(lambda: api.get("/api/posts").json()[0]["health"], what="health telemetry shown for the post")
        assert health["version"] == "9.9.9-test" and health["uptime_s"] == 1234.5
        assert health["clock_synced"] is True and health["outbox"] == {"depth": 0, "drops": 0, "pictures_dropped": 0}
        wait_for(lambda: api.get("/api/posts").json()[0]["health"]["cpu_temp_c"] == 85.0, what="85 C reported")

        def health_alerts() -> list[dict]:
            return [a for a in api.get("/api/alerts").json() if a["kind"] == "health"]

        alerts = wait_for(health_alerts, what="overheating warning alert")
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert["severity"] == "warning" and alert["open"] and alert["device"] == "pos-tm01"
        assert alert["details"]["warnings"] == ["overheating"]
        assert alert["id"] in api.get("/api/posts").json()[0]["open_alerts"]
        # Further reports with the same warning join it: still one alert.
        wait_for(lambda: api.get("/api/posts").json()[0]["health"]["ts"] != health["ts"], what="another report")
        assert len(health_alerts()) == 1

        thermal.write_text("55000\n")  # cooled down
        wait_for(lambda: health_alerts()[0]["state"] == "resolved", what="warning resolved when the post cooled")
        resolved = health_alerts()[0]
        assert resolved["outcome"] == "restored" and not resolved["open"]
        # A warning is for the dashboard: nobody was paged, and the post was not told.
        assert not [r for r in sink.received if r.path == "/officer"]
        assert post.agent.alert_state is None
    finally:
        post.stop()
