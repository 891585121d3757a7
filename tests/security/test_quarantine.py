"""Flood quarantine with a real broker: a device that keeps flooding is alerted on, blocked at the
broker (disconnected and refused) until an admin unblocks it, and another post's panic still
reaches the officer."""

from __future__ import annotations

import pytest

from tests.security.test_broker_access import Probe
from tests.security.test_flood import Flooder
from tests.support import add_device, post_entry, wait_for

pytestmark = pytest.mark.e2e


def _flood_alerts(api):  # type: ignore[no-untyped-def]
    return [a for a in api.get("/api/alerts").json() if a["kind"] == "flood" and a["device"] == "pos-flood"]


def _accepted(broker, password: str) -> bool:  # type: ignore[no-untyped-def]
    probe = Probe(broker, "pos-flood", password, "pos-flood")
    try:
        return probe.connected()
    finally:
        probe.close()


def test_flooding_post_is_quarantined_at_the_broker_and_unblocked_by_an_admin(
    make_hub, make_post, broker, sink, tmp_path
) -> None:
    flood_password = add_device(broker, "pos-flood")
    guard = make_post("pos-rw07")
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(str(broker.pid))
    hub = make_hub(
        [post_entry("pos-flood", "Pos Banjir"), post_entry("pos-rw07", "Pos Kamling RW 07")],
        rate_limit={
            "rate": 20,
            "burst": 50,
            "panic_rate": 5,
            "panic_burst": 20,
            "quarantine_after": 1.0,
            "quarantine_min_rejected": 500,
        },
        provisioning={"broker_dir": str(broker.workdir), "pid_file": str(pid_file)},
    )
    assert hub.service is not None
    ingest = hub.service.ingest
    viewer = hub.client("viewer")
    wait_for(
        lambda: any(p["device_id"] == "pos-rw07" and p["online"] for p in viewer.get("/api/posts").json()),
        what="honest post online",
    )

    flooder = Flooder(broker.host, broker.port, "pos-flood", flood_password, tmp_path)
    flooder.start()
    try:
        alerts = wait_for(
            lambda: [a for a in _flood_alerts(viewer) if a["details"].get("blocked")],
            timeout=30,
            what="flood alert with the device blocked",
        )
        assert alerts[0]["severity"] == "major" and alerts[0]["state"] != "resolved"
        assert "pos-flood" in (broker.workdir / "blocked").read_text()
        assert "pos-flood:" not in (broker.workdir / "passwd").read_text()
        # Disconnected and refused: the flooder's loop keeps reconnecting and the broker says no.
        wait_for(
            lambda: "not authorised" in broker.log_path.read_text(errors="replace"),
            timeout=15,
            what="the flooder's reconnect refused by the broker",
        )
        probe = Probe(broker, "pos-flood", flood_password, "pos-flood")
        assert probe.connected() is False, "a blocked device could connect"
        probe.close()

        guard.press()
        page = sink.wait_for(lambda r: "PANIK" in r.body.get("title", "") and "RW 07" in r.body["title"], timeout=30)
        assert page is not None, "the honest post's panic did not reach the officer"
        wait_for(lambda: guard.agent.outbox.depth() == 0, timeout=20, what="the panic acked to the honest post")
        assert sink.wait_for(
            lambda r: "pos-flood" in r.body.get("title", "") or "Banjir" in r.body.get("title", ""), timeout=10
        ), "the flood alert was not paged"
    finally:
        flooder.stop()
    print(f"\nquarantine: {ingest.rejected['rate_limited']} flood messages dropped before the block")

    admin = hub.client("admin")
    assert hub.client("technician").post("/api/admin/devices/pos-flood/unblock").status_code == 403
    response = admin.post("/api/admin/devices/pos-flood/unblock")
    assert response.status_code == 200, response.text
    wait_for(lambda: _accepted(broker, flood_password), what="unblocked device accepted with its own password")
    assert all(a["state"] == "resolved" for a in _flood_alerts(viewer))
    actions = [e["action"] for e in admin.get("/api/admin/audit", params={"action": "device."}).json()]
    assert actions[:2] == ["device.unblock", "device.block"]
    assert admin.post("/api/admin/devices/pos-flood/unblock").status_code == 404  # not blocked any more
