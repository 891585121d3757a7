"""What the guard sees and hears: received, acknowledged and en route are distinct."""

from __future__ import annotations

import pytest

from edge.core import PostView, feedback_chirps, led_pattern
from kamling.protocol import AlertState


@pytest.mark.parametrize(
    ("state", "name"),
    [
        (AlertState.NEW, "alert_open"),
        (AlertState.NOTIFIED, "alert_open"),
        (AlertState.ACKNOWLEDGED, "alert_acknowledged"),
        (AlertState.EN_ROUTE, "alert_en_route"),
    ],
)
def test_alert_state_beats_connection_state(state: AlertState, name: str) -> None:
    assert led_pattern(PostView(connected=False, alert_state=state)).name == name
    assert led_pattern(PostView(connected=True, alert_state=state, panic_unconfirmed=True)).name == name


def test_received_acknowledged_and_en_route_look_different() -> None:
    patterns = {
        led_pattern(PostView(True, s)) for s in (AlertState.NOTIFIED, AlertState.ACKNOWLEDGED, AlertState.EN_ROUTE)
    }
    assert len({(p.on_time, p.off_time) for p in patterns}) == 3


def test_without_an_alert_the_led_shows_the_link() -> None:
    assert led_pattern(PostView(connected=True)).name == "connected"
    assert led_pattern(PostView(connected=True, hub_online=False)).name == "no_hub"
    assert led_pattern(PostView(connected=False, hub_online=False)).name == "disconnected"
    assert led_pattern(PostView(connected=False)).name == "disconnected"
    assert led_pattern(PostView(connected=False, panic_unconfirmed=True)).name == "panic_pending"
    assert led_pattern(PostView(connected=True, alert_state=AlertState.RESOLVED)).name == "connected"


def test_chirps_count_up_with_the_good_news_and_never_repeat() -> None:
    assert [feedback_chirps(None, s) for s in (AlertState.NEW, AlertState.NOTIFIED)] == [0, 1]
    assert feedback_chirps(AlertState.NOTIFIED, AlertState.ACKNOWLEDGED) == 2
    assert feedback_chirps(AlertState.ACKNOWLEDGED, AlertState.EN_ROUTE) == 3
    assert feedback_chirps(AlertState.EN_ROUTE, AlertState.EN_ROUTE) == 0
    assert feedback_chirps(AlertState.EN_ROUTE, AlertState.RESOLVED) == 0
