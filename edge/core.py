"""Pure edge logic: what the post shows for a connection and alert state. No I/O here.

The guard must tell three answers from the hub apart at a glance and by ear:
"received" (the hub has the alarm and is paging), "acknowledged" (a named officer answered)
and "en route" (the officer is on the way).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from kamling.protocol import AlertState, EventKind


class RaiseEvent(Protocol):
    """How cameras and commands hand an event to the agent (EdgeAgent.raise_event): queued, never blocking."""

    def __call__(
        self,
        kind: EventKind,
        data: dict[str, Any] | None = None,
        *,
        test: bool = False,
        attachment: bytes | None = None,
    ) -> None: ...


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
LED_NO_HUB = LedPattern("no_hub", LedMode.BLINK, 1.0, 1.0)  # slow and even: broker reached, no hub serving it
LED_ALERT_OPEN = LedPattern("alert_open", LedMode.BLINK, 0.1, 0.1)  # fast: received, officer being paged
LED_ALERT_ACKNOWLEDGED = LedPattern("alert_acknowledged", LedMode.BLINK, 0.8, 0.2)  # slow: an officer answered
LED_ALERT_EN_ROUTE = LedPattern("alert_en_route", LedMode.BLINK, 1.8, 0.2)  # near-steady: officer on the way
LED_PANIC_PENDING = LedPattern("panic_pending", LedMode.BLINK, 0.05, 0.05)  # pressed, hub not reached yet

OPEN_STATES = frozenset({AlertState.NEW, AlertState.NOTIFIED})
HELP_COMING_STATES = frozenset({AlertState.ACKNOWLEDGED, AlertState.EN_ROUTE})

ALERT_LED = {
    AlertState.NEW: LED_ALERT_OPEN,
    AlertState.NOTIFIED: LED_ALERT_OPEN,
    AlertState.ACKNOWLEDGED: LED_ALERT_ACKNOWLEDGED,
    AlertState.EN_ROUTE: LED_ALERT_EN_ROUTE,
}

CHIRPS = {
    AlertState.NEW: 0,  # the local siren already sounded at the press
    AlertState.NOTIFIED: 1,  # received: the hub has it and paged an officer
    AlertState.ACKNOWLEDGED: 2,  # an officer answered
    AlertState.EN_ROUTE: 3,  # the officer is on the way
    AlertState.RESOLVED: 0,
}


@dataclass(frozen=True)
class PostView:
    """Everything the status LED depends on."""

    connected: bool
    alert_state: AlertState | None = None
    panic_unconfirmed: bool = False  # a panic is in the outbox, not yet acked by the hub
    hub_online: bool = True  # a hub announces itself on the broker (False: events wait in the outbox)


def led_pattern(view: PostView) -> LedPattern:
    """The LED pattern a guard sees for this state; alert feedback beats connection state."""
    if view.alert_state is not None and view.alert_state in ALERT_LED:
        return ALERT_LED[view.alert_state]
    if view.panic_unconfirmed:
        return LED_PANIC_PENDING
    if not view.connected:
        return LED_DISCONNECTED
    return LED_CONNECTED if view.hub_online else LED_NO_HUB


def feedback_chirps(previous: AlertState | None, current: AlertState) -> int:
    """Buzzer chirps announcing an alert update to the guard (0 = stay quiet)."""
    if current == previous:
        return 0
    return CHIRPS[current]
