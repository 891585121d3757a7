"""Ronda end to end: a real broker, the real hub and an edge agent on mock pins, the hub's ronda clock faked.

The green button's check-in reaches the hub (with a receipt chirp on the post's buzzer pin) and
shows on the Ronda page; a missed round raises "Pos kosong" to the village's officer only, once;
the next check-in, a card read through a fake input device, clears it and names the guard; an
unknown card shows as "kartu tidak dikenal".
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from edge.config import CheckinButtonConfig, RfidConfig
from edge.rfid import CardReader
from hub.alerting.rules import AlertKind
from kamling.protocol import AlertState
from tests.edge.test_checkin import FakeInputDevice
from tests.support import post_entry, wait_for

pytestmark = pytest.mark.e2e

WIB = ZoneInfo("Asia/Jakarta")
MONDAY = date(2026, 11, 23)


class FakeNow:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def local(hh: int, mm: int, day: date = MONDAY) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=WIB)


def login(hub, username: str, role: str) -> httpx.Client:
    password = "Pw-" + secrets.token_urlsafe(16)
    hub.service.users.create(username, password, role)
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    assert client.post("/login", data={"username": username, "password": password, "next": "/"}).status_code == 303
    return client


def test_checkin_missed_round_and_card(make_hub, make_post, sink, tmp_path: Path) -> None:
    hub = make_hub(
        [
            post_entry("pos-rw01", "Pos Kamling RW 01", village="Sukamaju"),
            post_entry("pos-rw02", "Pos Kamling RW 02", village="Mekarsari"),
        ],
        officers=[
            {"name": "Bripka Agus", "villages": ["Sukamaju"], "urls": [sink.url("agus")]},
            {"name": "Aipda Sari", "villages": ["Mekarsari"], "urls": [sink.url("sari")]},
        ],
    )
    watch = hub.service.ronda
    clock = FakeNow(local(22, 5))
    watch.clock = clock
    admin = hub.client("admin")
    body = {"name": "Budi", "device": "pos-rw01", "card_id": "0012345678", "nights": list(range(7))}
    assert admin.put("/api/ronda/guards/budi", json=body).status_code == 200

    device = FakeInputDevice()
    post = make_post(
        "pos-rw01",
        start=False,
        checkin_button=CheckinButtonConfig(pin=5),
        rfid=RfidConfig(device=tmp_path / "event-kbd"),
    )
    post.agent.card_reader = CardReader(post.config.rfid.device, post.agent.present_card, opener=lambda _p: device)
    post.start()
    try:
        wait_for(lambda: post.agent.connected, what="post connected")
        buzzer = post.factory.pin(post.config.buzzer.pin)
        buzzer.clear_states()

        # The guard presses the green button, and holds it: one check-in, a chirp at once.
        button = post.factory.pin(5)
        button.drive_low()
        wait_for(lambda: any(s.state for s in buzzer.states), what="receipt chirp on the buzzer pin")
        tonight = lambda: {v.device: v for v in watch.tonight()}  # noqa: E731
        wait_for(lambda: tonight()["pos-rw01"].last_checkin, what="check-in at the hub")
        button.drive_high()
        assert len(tonight()["pos-rw01"].checkins) == 1
        assert tonight()["pos-rw01"].last_checkin.counted

        viewer = login(hub, "viewer1", "viewer")
        page = viewer.get("/ronda")
        assert page.status_code == 200 and "Pos Kamling RW 01" in page.text and "Budi" in page.text
        assert 'data-testid="unstaffed"' not in page.text

        # Nobody checks in for the next round: 22:05 + 60 min + 10 min grace.
        clock.moment = local(23, 14)
        watch.tick()
        assert hub.service.alerts.open_for("pos-rw01", AlertKind.UNSTAFFED) is None
        clock.moment = local(23, 16)
        watch.tick()
        alert = hub.service.alerts.open_for("pos-rw01", AlertKind.UNSTAFFED)
        assert alert is not None and alert.details["missed_rounds"] == 1
        page_to_agus = sink.wait_for(lambda r: r.path == "/agus", timeout=15)
        assert page_to_agus is not None and "POS KOSONG" in str(page_to_agus.body)
        assert not any(r.path == "/sari" for r in sink.received)  # the other village's officer is not paged
        assert hub.service.alerts.open_for("pos-rw02", AlertKind.UNSTAFFED) is None  # no guards there: nothing expected
        watch.tick()
        assert sum(r.path == "/agus" for r in sink.received) == 1  # persisting is not a second page
        assert 'data-testid="unstaffed"' in viewer.get("/ronda").text

        # The next check-in is Budi's card on the reader: it clears the alert and names him.
        clock.moment = local(23, 20)
        device.type_card("0012345678")
        wait_for(lambda: hub.service.alerts.get(alert.id).state is AlertState.RESOLVED, what="Pos kosong cleared")
        assert tonight()["pos-rw01"].last_checkin.guard_name == "Budi"

        # A card nobody holds: logged and shown as "kartu tidak dikenal".
        device.type_card("9999999999")
        wait_for(lambda: tonight()["pos-rw01"].last_checkin.unknown_card, what="unknown card at the hub")
        page = viewer.get("/ronda")
        assert "kartu tidak dikenal" in page.text and "9999999999" in page.text
        assert tonight()["pos-rw01"].missed == 1
    finally:
        post.stop()
