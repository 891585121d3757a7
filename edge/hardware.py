"""GPIO adapter: panic button, tamper switch, status LED and buzzer through gpiozero.

The only module that imports gpiozero. Tests and the simulator pass a `MockFactory`
(each simulated post its own) and drive the button pin.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from gpiozero import LED, Button, Buzzer, Device

from edge.config import ButtonConfig, EdgeConfig
from edge.core import LedMode, LedPattern

log = logging.getLogger(__name__)


class PostHardware:
    """The post's inputs and outputs; callbacks run on gpiozero's threads and must be quick."""

    def __init__(self, config: EdgeConfig, pin_factory: Any | None = None) -> None:
        self.config = config
        self.pin_factory = pin_factory
        self.panic_button: Button | None = None
        self.tamper_switch: Button | None = None
        self.led: LED | None = None
        self.buzzer: Buzzer | None = None
        self.led_pattern: LedPattern | None = None
        self._lock = threading.Lock()

    def _button(self, cfg: ButtonConfig) -> Button:
        return Button(
            cfg.pin,
            pull_up=cfg.pull_up,
            bounce_time=cfg.bounce_time or None,
            hold_time=cfg.hold_time or 1.0,
            pin_factory=self.pin_factory,
        )

    def start(self, on_panic: Callable[[], None], on_tamper: Callable[[bool], None] | None = None) -> None:
        cfg = self.config
        self.panic_button = self._button(cfg.panic_button)
        if cfg.panic_button.hold_time > 0:
            self.panic_button.when_held = on_panic  # hold-to-confirm
        else:
            self.panic_button.when_pressed = on_panic
        if cfg.tamper_switch and on_tamper:
            # Normally closed to ground: "pressed" is the closed, untampered state.
            self.tamper_switch = self._button(cfg.tamper_switch)
            self.tamper_switch.when_released = lambda: on_tamper(True)
            self.tamper_switch.when_pressed = lambda: on_tamper(False)
        if cfg.status_led:
            self.led = LED(cfg.status_led.pin, active_high=cfg.status_led.active_high, pin_factory=self.pin_factory)
        if cfg.buzzer:
            self.buzzer = Buzzer(cfg.buzzer.pin, active_high=cfg.buzzer.active_high, pin_factory=self.pin_factory)

    def stop(self) -> None:
        for device in (self.panic_button, self.tamper_switch, self.led, self.buzzer):
            if device is not None:
                device.close()
        self.panic_button = self.tamper_switch = self.led = self.buzzer = None

    def show(self, pattern: LedPattern) -> None:
        """Set the status LED to a pattern (idempotent)."""
        with self._lock:
            if pattern == self.led_pattern:
                return
            self.led_pattern = pattern
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

    def chirp(self, count: int) -> None:
        """Short beeps that tell the guard about an alert update."""
        if self.buzzer is None or count <= 0:
            return
        self.buzzer.beep(on_time=0.08, off_time=0.12, n=count, background=True)


def default_pin_factory_name() -> str:
    """Which pin factory gpiozero would use (e.g. 'MockFactory' with GPIOZERO_PIN_FACTORY=mock)."""
    return type(Device._default_pin_factory()).__name__
