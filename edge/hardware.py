"""GPIO adapter: panic button, tamper switch, "Lapor ronda" check-in button, status LED and buzzer through gpiozero.

The only module that imports gpiozero. Tests and the simulator pass a `MockFactory`
(each simulated post its own) and drive the button pin.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gpiozero import LED, Button, Buzzer, Device, DigitalInputDevice

from edge.config import ButtonConfig, EdgeConfig
from edge.core import LedMode, LedPattern

log = logging.getLogger(__name__)

RECEIPT_SECONDS = 0.7
"""After the receipt's three blinks (0.6 s) the status LED shows its pattern again."""


class Switch(DigitalInputDevice):
    """A button or switch that is never held on purpose: gpiozero's `Button` without its hold thread.

    Every gpiozero Button starts a thread that wakes ten times a second to watch for a hold: about
    1 ms of CPU a second on a busy core, most of an idle post's own CPU (bench/bench_lean_post.py,
    issue 17 item 5). Only a panic button with hold-to-confirm needs one; the rest are these, with
    Button's names for the same things.
    """

    is_pressed = DigitalInputDevice.is_active
    when_pressed = DigitalInputDevice.when_activated
    when_released = DigitalInputDevice.when_deactivated
    wait_for_press = DigitalInputDevice.wait_for_active
    wait_for_release = DigitalInputDevice.wait_for_inactive


class PostHardware:
    """The post's inputs and outputs; callbacks run on gpiozero's threads and must be quick."""

    def __init__(self, config: EdgeConfig, pin_factory: Any | None = None) -> None:
        self.config = config
        self.pin_factory = pin_factory
        self.panic_button: Button | Switch | None = None
        self.tamper_switch: Switch | None = None
        self.checkin_button: Switch | None = None
        self.led: LED | None = None
        self.buzzer: Buzzer | None = None
        self.led_pattern: LedPattern | None = None
        self._lock = threading.Lock()
        self._receipt_timer: threading.Timer | None = None
        self._alarm_until = 0.0  # time.monotonic() when a panic's siren ends by itself

    def _button(self, cfg: ButtonConfig) -> Button | Switch:
        if cfg.hold_time > 0:
            return Button(
                cfg.pin,
                pull_up=cfg.pull_up,
                bounce_time=cfg.bounce_time or None,
                hold_time=cfg.hold_time,
                pin_factory=self.pin_factory,
            )
        return Switch(cfg.pin, pull_up=cfg.pull_up, bounce_time=cfg.bounce_time or None, pin_factory=self.pin_factory)

    def start(
        self,
        on_panic: Callable[[], None],
        on_tamper: Callable[[bool], None] | None = None,
        on_checkin: Callable[[], None] | None = None,
    ) -> None:
        cfg = self.config
        self.panic_button = self._button(cfg.panic_button)
        if cfg.panic_button.hold_time > 0:
            self.panic_button.when_held = on_panic  # hold-to-confirm
        else:
            self.panic_button.when_pressed = on_panic
        if cfg.tamper_switch and on_tamper:
            # Normally closed to ground: "pressed" is the closed, untampered state.
            tamper = cfg.tamper_switch
            self.tamper_switch = Switch(
                tamper.pin, pull_up=tamper.pull_up, bounce_time=tamper.bounce_time or None, pin_factory=self.pin_factory
            )
            self.tamper_switch.when_released = lambda: on_tamper(True)
            self.tamper_switch.when_pressed = lambda: on_tamper(False)
        if cfg.checkin_button:
            checkin = cfg.checkin_button
            self.checkin_button = Switch(
                checkin.pin,
                pull_up=checkin.pull_up,
                bounce_time=checkin.bounce_time or None,
                pin_factory=self.pin_factory,
            )
            if on_checkin is not None:
                self.checkin_button.when_pressed = on_checkin  # once per press: holding it changes nothing
        if cfg.status_led:
            self.led = LED(cfg.status_led.pin, active_high=cfg.status_led.active_high, pin_factory=self.pin_factory)
        if cfg.buzzer:
            self.buzzer = Buzzer(cfg.buzzer.pin, active_high=cfg.buzzer.active_high, pin_factory=self.pin_factory)

    def stop(self) -> None:
        if self._receipt_timer is not None:
            self._receipt_timer.cancel()
        for device in (self.panic_button, self.tamper_switch, self.checkin_button, self.led, self.buzzer):
            if device is not None:
                device.close()
        self.panic_button = self.tamper_switch = self.checkin_button = self.led = self.buzzer = None

    def show(self, pattern: LedPattern) -> None:
        """Set the status LED to a pattern (idempotent)."""
        with self._lock:
            if pattern == self.led_pattern:
                return
            self.led_pattern = pattern
            self._apply(pattern)

    def _apply(self, pattern: LedPattern) -> None:
        """Drive the LED to `pattern` (caller holds the lock)."""
        if self.led is None:
            return
        if pattern.mode is LedMode.SOLID:
            self.led.on()
        elif pattern.mode is LedMode.OFF:
            self.led.off()
        else:
            self.led.blink(on_time=pattern.on_time, off_time=pattern.off_time, background=True)

    def sound_alarm(self) -> None:
        """Local siren on a panic press, unless configured silent."""
        cfg = self.config.buzzer
        if self.buzzer is None or cfg is None or cfg.silent_panic or cfg.alarm_seconds <= 0:
            return
        half = 0.25
        self.buzzer.beep(on_time=half, off_time=half, n=max(1, int(cfg.alarm_seconds / (2 * half))), background=True)
        self._alarm_until = time.monotonic() + cfg.alarm_seconds

    def receipt(self) -> None:
        """The check-in receipt: one short chirp and three quick blinks, then the LED's own pattern again."""
        if self.buzzer is not None:
            self.buzzer.beep(on_time=0.05, off_time=0.05, n=1, background=True)
        with self._lock:
            if self.led is None:
                return
            if self._receipt_timer is not None:
                self._receipt_timer.cancel()
            self.led.blink(on_time=0.1, off_time=0.1, n=3, background=True)
            self._receipt_timer = threading.Timer(RECEIPT_SECONDS, self._after_receipt)
            self._receipt_timer.daemon = True
            self._receipt_timer.start()

    def _after_receipt(self) -> None:
        with self._lock:
            if self.led_pattern is not None:
                self._apply(self.led_pattern)

    def alarm_sounding(self) -> bool:
        """A panic's siren is sounding now (and was not silenced): a siren test must not cut it short."""
        return self.buzzer is not None and time.monotonic() < self._alarm_until

    def test_siren(self, seconds: float) -> bool:
        """The hub's siren test (edge/commands.py): beeps for `seconds`; False without a buzzer."""
        if self.buzzer is None:
            return False
        half = 0.25
        self.buzzer.beep(on_time=half, off_time=half, n=max(1, round(seconds / (2 * half))), background=True)
        return True

    def silence(self) -> bool:
        """Stop the siren, whatever sounds it (a test, a panic): the sound only, never the alert; False without one."""
        if self.buzzer is None:
            return False
        self.buzzer.off()  # also ends a background beep()
        self._alarm_until = 0.0
        return True

    def chirp(self, count: int) -> None:
        """Short beeps that tell the guard about an alert update."""
        if self.buzzer is None or count <= 0:
            return
        self.buzzer.beep(on_time=0.08, off_time=0.12, n=count, background=True)


def default_pin_factory_name() -> str:
    """Which pin factory gpiozero would use (e.g. 'MockFactory' with GPIOZERO_PIN_FACTORY=mock)."""
    return type(Device._default_pin_factory()).__name__
