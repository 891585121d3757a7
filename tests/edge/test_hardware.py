"""The GPIO adapter on MockFactory pins: presses reach their callbacks; no hold thread unless a hold is asked for."""

from __future__ import annotations

import threading
from pathlib import Path

from gpiozero.mixins import HoldThread
from gpiozero.pins.mock import MockFactory

from edge.config import EdgeConfig
from edge.hardware import PostHardware
from tests.support import wait_for

PANIC, TAMPER, CHECKIN = 17, 27, 5


def config(tmp_path: Path, hold_time: float = 0.0) -> EdgeConfig:
    return EdgeConfig.model_validate(
        {
            "device_id": "pos-hw01",
            "mqtt": {"host": "127.0.0.1", "port": 1883, "password": "x"},
            "panic_button": {"pin": PANIC, "bounce_time": None, "hold_time": hold_time},
            "tamper_switch": {"pin": TAMPER, "bounce_time": None},
            "checkin_button": {"pin": CHECKIN, "bounce_time": None},
            "data_dir": str(tmp_path),
        }
    )


def hold_threads() -> int:
    return sum(isinstance(thread, HoldThread) for thread in threading.enumerate())


def test_buttons_without_hold_to_confirm_start_no_hold_thread_and_still_fire(tmp_path: Path) -> None:
    factory = MockFactory()
    hardware = PostHardware(config(tmp_path), pin_factory=factory)
    seen: list[str] = []
    before = hold_threads()
    hardware.start(
        on_panic=lambda: seen.append("panic"),
        on_tamper=lambda opened: seen.append("open" if opened else "closed"),
        on_checkin=lambda: seen.append("checkin"),
    )
    try:
        assert hold_threads() == before  # each would wake ten times a second for nothing
        factory.pin(PANIC).drive_low()
        wait_for(lambda: seen == ["panic"])
        assert hardware.panic_button is not None and hardware.panic_button.is_pressed
        factory.pin(PANIC).drive_high()
        factory.pin(TAMPER).drive_low()  # the lid closes the normally-closed switch
        factory.pin(TAMPER).drive_high()  # and opens it
        factory.pin(CHECKIN).drive_low()
        wait_for(lambda: seen == ["panic", "closed", "open", "checkin"])
    finally:
        hardware.stop()


def test_hold_to_confirm_keeps_gpiozero_hold_thread_and_fires_on_a_hold(tmp_path: Path) -> None:
    factory = MockFactory()
    hardware = PostHardware(config(tmp_path, hold_time=0.2), pin_factory=factory)
    pressed = threading.Event()
    before = hold_threads()
    hardware.start(on_panic=pressed.set)
    try:
        assert hold_threads() == before + 1  # the panic button only
        factory.pin(PANIC).drive_low()  # held down
        assert pressed.wait(10)
    finally:
        hardware.stop()
