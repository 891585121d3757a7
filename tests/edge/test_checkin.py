"""The check-in input on its own: the gate, the card reader's decoder and adapter, the receipt on mock pins."""

from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from pydantic import ValidationError

from edge.checkin import CheckinGate
from edge.config import EdgeConfig
from edge.hardware import PostHardware
from edge.rfid import CardReader, KeystrokeDecoder
from tests.support import VirtualClock, wait_for

DIGIT_CODES = {"1": 2, "2": 3, "3": 4, "4": 5, "5": 6, "6": 7, "7": 8, "8": 9, "9": 10, "0": 11}
ENTER = 28


@dataclass(frozen=True)
class KeyEvent:
    type: int
    code: int
    value: int


def keystrokes(card: str) -> list[KeyEvent]:
    """What a 125 kHz reader sends: each digit down and up, then Enter."""
    events = []
    for char in card:
        events += [KeyEvent(1, DIGIT_CODES[char], 1), KeyEvent(0, 0, 0), KeyEvent(1, DIGIT_CODES[char], 0)]
    return [*events, KeyEvent(1, ENTER, 1), KeyEvent(1, ENTER, 0)]


class FakeInputDevice:
    """Stands in for evdev.InputDevice: `read_loop` blocks until a test types or the device closes."""

    def __init__(self) -> None:
        self.events: queue.Queue[KeyEvent | None] = queue.Queue()
        self.grabbed = False
        self.closed = False

    def type_card(self, card: str) -> None:
        for event in keystrokes(card):
            self.events.put(event)

    def grab(self) -> None:
        self.grabbed = True

    def read_loop(self) -> Any:
        while True:
            event = self.events.get()
            if event is None:
                raise OSError("device closed")
            yield event

    def close(self) -> None:
        self.closed = True
        self.events.put(None)


def config(**extra: Any) -> EdgeConfig:
    return EdgeConfig.model_validate(
        {
            "device_id": "pos-a",
            "mqtt": {"host": "localhost", "password": "x"},
            "panic_button": {"pin": 17},
            "status_led": {"pin": 27},
            "buzzer": {"pin": 22},
            "checkin_button": {"pin": 5},
            **extra,
        }
    )


def test_gate_gives_one_checkin_per_interval_and_source() -> None:
    clock = VirtualClock()
    gate = CheckinGate(30.0, clock)
    assert gate.allow("button")
    clock.sleep(0.01)
    assert not gate.allow("button")  # bounce, or held and pressed again
    assert gate.allow("card:0012345678")  # a card is its own source
    clock.sleep(30.0)
    assert gate.allow("button")


def test_decoder_reads_a_card_and_drops_garbage() -> None:
    decoder = KeystrokeDecoder()
    cards = [c for e in keystrokes("0012345678") if (c := decoder.feed(e.type, e.code, e.value))]
    assert cards == ["0012345678"]
    assert [decoder.feed(1, code, 1) for code in (2, 3, ENTER)] == [None, None, None]  # too short
    for code in (2, 3, 57, 4, 5, 6, 7):  # a space in the middle: not what a reader types
        decoder.feed(1, code, 1)
    assert decoder.feed(1, ENTER, 1) is None  # the whole number is dropped, not its tail
    for _ in range(40):
        decoder.feed(1, 2, 1)
    assert decoder.feed(1, ENTER, 1) is None  # longer than any card
    again = [decoder.feed(e.type, e.code, e.value) for e in keystrokes("4321")]
    assert [c for c in again if c] == ["4321"]  # then it reads again


def test_card_reader_reads_from_a_fake_device_and_stops() -> None:
    device = FakeInputDevice()
    cards: list[str] = []
    reader = CardReader(Path("/dev/input/fake"), cards.append, opener=lambda _path: device, retry_seconds=0.05)
    reader.start()
    try:
        device.type_card("0012345678")
        wait_for(lambda: cards == ["0012345678"], what="card read")
        assert device.grabbed
    finally:
        reader.stop()
    assert device.closed


def test_config_checks_pins_and_describes_fields() -> None:
    with pytest.raises(ValidationError, match="already used by panic_button"):
        config(checkin_button={"pin": "GPIO17"})
    assert EdgeConfig.model_fields["checkin_button"].description
    assert config(rfid={"device": "/dev/input/event3"}).rfid is not None


def test_receipt_chirps_and_blinks_then_the_led_pattern_returns() -> None:
    factory = MockFactory()
    hardware = PostHardware(config(), pin_factory=factory)
    pressed: list[int] = []
    hardware.start(on_panic=lambda: None, on_checkin=lambda: pressed.append(1))
    try:
        from edge.core import LED_CONNECTED

        hardware.show(LED_CONNECTED)
        buzzer, led, button = factory.pin(22), factory.pin(27), factory.pin(5)
        buzzer.clear_states()
        button.drive_low()  # the guard presses and holds the green button
        wait_for(lambda: pressed, what="check-in press")
        hardware.receipt()
        wait_for(lambda: any(s.state for s in buzzer.states), what="receipt chirp on the buzzer pin")
        wait_for(
            lambda: led.state and hardware._receipt_timer is not None and not hardware._receipt_timer.is_alive(),
            what="LED back to its pattern",
        )
        button.drive_high()
        assert pressed == [1]  # held: one press
    finally:
        hardware.stop()
