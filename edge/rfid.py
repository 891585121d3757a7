"""USB 125 kHz card reader adapter: the reader types the card number like a keyboard, then Enter.

The only module that touches python-evdev (the `rfid` extra), and only when a reader is
configured: `open_evdev` imports it. Reading the input device directly (not a terminal) works
without a login session, and `grab()` keeps the digits off the Pi's console. Tests pass an
`opener` that returns a fake device (anything with `read_loop()` yielding events with `type`,
`code`, `value`, plus `grab()` and `close()`).

`KeystrokeDecoder` is pure: key events in, a card number out. Anything a reader should never
type (other keys, more than MAX_CARD_CHARS characters) drops the partial number, so a keyboard
plugged in by mistake cannot forge long or odd ids.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EV_KEY = 1
KEY_DOWN = 1
# Linux input key codes (linux/input-event-codes.h), so this module and its tests need no evdev.
KEY_CHARS = {
    2: "1",
    3: "2",
    4: "3",
    5: "4",
    6: "5",
    7: "6",
    8: "7",
    9: "8",
    10: "9",
    11: "0",
    79: "1",
    80: "2",
    81: "3",
    75: "4",
    76: "5",
    77: "6",
    71: "7",
    72: "8",
    73: "9",
    82: "0",  # keypad
    30: "A",
    48: "B",
    46: "C",
    32: "D",
    18: "E",
    33: "F",  # readers that type hex
}
KEY_ENTERS = frozenset({28, 96})  # Enter, keypad Enter
SHIFTS = frozenset({42, 54})  # some readers press shift for hex letters: harmless
MIN_CARD_CHARS = 4
MAX_CARD_CHARS = 32


class KeystrokeDecoder:
    def __init__(self) -> None:
        self._chars: list[str] = []
        self._spoiled = False  # something a reader never types came in: ignore up to the next Enter

    def feed(self, kind: int, code: int, value: int) -> str | None:
        """One input event; returns a card number when Enter ends a plausible one."""
        if kind != EV_KEY or value != KEY_DOWN or code in SHIFTS:
            return None
        if code in KEY_ENTERS:
            card, spoiled = "".join(self._chars), self._spoiled
            self._chars, self._spoiled = [], False
            return card if len(card) >= MIN_CARD_CHARS and not spoiled else None
        char = KEY_CHARS.get(code)
        if char is None or len(self._chars) >= MAX_CARD_CHARS:
            self._chars, self._spoiled = [], True
            return None
        if not self._spoiled:
            self._chars.append(char)
        return None


def open_evdev(path: Path) -> Any:
    import evdev  # type: ignore[import-not-found]  # optional dependency (the `rfid` extra): only a post with a reader needs it

    return evdev.InputDevice(str(path))


class CardReader:
    """Reads cards on its own thread and calls `on_card(number)`; reopens the device if it goes away."""

    def __init__(
        self,
        device: Path,
        on_card: Callable[[str], None],
        grab: bool = True,
        opener: Callable[[Path], Any] = open_evdev,
        retry_seconds: float = 5.0,
    ) -> None:
        self.device = device
        self.on_card = on_card
        self.grab = grab
        self.opener = opener
        self.retry_seconds = retry_seconds
        self.cards_read = 0
        self._stop = threading.Event()
        self._open: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rfid", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        device = self._open
        if device is not None:
            with contextlib.suppress(OSError):
                device.close()  # ends a blocked read_loop
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._read_until_gone()
            except Exception as exc:  # unplugged, no permission, evdev missing: say so, try again later
                if not self._stop.is_set():
                    log.warning("card reader %s: %s (retrying in %.0f s)", self.device, exc, self.retry_seconds)
            self._stop.wait(self.retry_seconds)

    def _read_until_gone(self) -> None:
        device = self.opener(self.device)
        self._open = device
        decoder = KeystrokeDecoder()
        try:
            if self.grab:
                device.grab()
            for event in device.read_loop():
                if self._stop.is_set():
                    return
                card = decoder.feed(event.type, event.code, event.value)
                if card is not None:
                    self.cards_read += 1
                    self.on_card(card)
        finally:
            self._open = None
            with contextlib.suppress(OSError):
                device.close()
