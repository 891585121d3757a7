"""Pure edge logic: what the post shows for a connection and alert state. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kamling.protocol import AlertState


class LedMode(StrEnum):
    OFF = "off"
    SOLID = "solid"
    BLINK = "blink"


@dataclass(frozen=True)
class LedPattern:
    """How the status LED behaves; blink times in seconds."""

    name: str
    mode: LedMode
    on_time: float = 0.0
    off_time: float = 0.0


LED_DISCONNECTED = LedPattern("disconnected", LedMode.BLINK, 0.2, 1.8)  # short flash: no link to hub
LED_CONNECTED = LedPattern("connected", LedMode.SOLID)  # steady: all well
LED_ALERT_OPEN = LedPattern("alert_open", LedMode.BLINK, 0.1, 0.1)  # fast: alarm sent, waiting
LED_ALERT_ACKNOWLEDGED = LedPattern("alert_acknowledged", LedMode.BLINK, 0.8, 0.2)  # slow: help is coming
LED_PANIC_PENDING = LedPattern("panic_pending", LedMode.BLINK, 0.05, 0.05)  # pressed, hub not reached yet

OPEN_STATES = frozenset({AlertState.NEW, AlertState.NOTIFIED})
HELP_COMING_STATES = frozenset({AlertState.ACKNOWLEDGED, AlertState.EN_ROUTE})


@dataclass(frozen=True)
class PostView:
    """Everything the status LED depends on."""

    connected: bool
    alert_state: AlertState | None = None
    panic_unconfirmed: bool = False  # a panic is in the outbox, not yet acked by the hub


def led_pattern(view: PostView) -> LedPattern:
    """The LED pattern a guard sees for this state; alert feedback beats connection state."""
    if view.alert_state in HELP_COMING_STATES:
        return LED_ALERT_ACKNOWLEDGED
    if view.alert_state in OPEN_STATES:
        return LED_ALERT_OPEN
    if view.panic_unconfirmed:
        return LED_PANIC_PENDING
    return LED_CONNECTED if view.connected else LED_DISCONNECTED


def feedback_chirps(previous: AlertState | None, current: AlertState) -> int:
    """Buzzer chirps announcing an alert update to the guard (0 = stay quiet)."""
    if current == previous:
        return 0
    return {
        AlertState.NEW: 0,
        AlertState.NOTIFIED: 1,  # the hub has it and is paging the officer
        AlertState.ACKNOWLEDGED: 2,  # an officer answered
        AlertState.EN_ROUTE: 3,  # the officer is on the way
        AlertState.RESOLVED: 0,
    }[current]
