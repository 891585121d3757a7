"""Simulated posts: real edge agents on gpiozero MockFactory pins, driven from a control socket."""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from edge.hardware import PostHardware
from edge.outbox import Outbox

log = logging.getLogger(__name__)

PANIC_PIN = 17
LED_PIN = 27
BUZZER_PIN = 22


def sim_edge_config(device_id: str, host: str, port: int, password: str, data_dir: Path) -> EdgeConfig:
    return EdgeConfig.model_validate(
        {
            "device_id": device_id,
            "mqtt": {"host": host, "port": port, "password": password},
            "panic_button": {"pin": PANIC_PIN, "bounce_time": None},
            "status_led": {"pin": LED_PIN},
            "buzzer": {"pin": BUZZER_PIN, "alarm_seconds": 1.0},
            "data_dir": str(data_dir),
            "ack_timeout": 5.0,
        }
    )


class SimulatedPost:
    """One edge agent with its own MockFactory, so several posts can share a process."""

    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.factory = MockFactory()
        self.hardware = PostHardware(config, pin_factory=self.factory)
        self.agent = EdgeAgent(config, self.hardware, Outbox(config.data_dir / "outbox.sqlite", config.device_id))

    @property
    def device_id(self) -> str:
        return self.config.device_id

    def start(self) -> None:
        self.agent.start()

    def stop(self) -> None:
        self.agent.stop()

    def press(self, hold: float = 0.0) -> float:
        """Press and release the panic button pin, as a guard's finger would; returns the press's time.monotonic()."""
        pin = self.factory.pin(self.config.panic_button.pin)
        pressed_at = time.monotonic()
        pin.drive_low()
        if hold:
            time.sleep(hold)  # a human holding the button (hold-to-confirm)
        pin.drive_high()
        return pressed_at

    def led_state(self) -> str:
        pattern = self.hardware.led_pattern
        return pattern.name if pattern else "unknown"


TAP_SECONDS = 0.1
"""How long a `press <device> timed` holds the button: a quick human press (the plain `press` releases at once)."""


class SimControl:
    """A UNIX-socket control server: `press <device> [timed]` and `leds` lines (`poskamling sim press`)."""

    def __init__(self, path: Path, posts: dict[str, SimulatedPost]) -> None:
        self.path = path
        self.posts = posts
        self._server: socketserver.ThreadingUnixStreamServer | None = None

    def start(self) -> None:
        posts = self.posts

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                words = self.rfile.readline(1024).decode(errors="replace").split()
                reply = _dispatch(posts, words)
                self.wfile.write((reply + "\n").encode())

        self.path.unlink(missing_ok=True)
        self._server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        self.path.chmod(0o600)
        threading.Thread(target=self._server.serve_forever, name="sim-control", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self.path.unlink(missing_ok=True)


def _dispatch(posts: dict[str, SimulatedPost], words: list[str]) -> str:
    if words[:1] == ["press"] and (len(words) == 2 or words[2:] == ["timed"]):
        post = posts.get(words[1])
        if post is None:
            return f"error: no simulated post {words[1]!r}; posts: {', '.join(sorted(posts))}"
        if (
            len(words) == 3
        ):  # benchmarks: a finger's short press; replies the pin's edge on the system-wide monotonic clock
            return f"ok: {post.press(hold=TAP_SECONDS):.6f}"
        post.press()
        return f"ok: panic button of {words[1]} pressed"
    if words == ["leds"]:
        return "\n".join(f"{d}: {p.led_state()}" for d, p in sorted(posts.items()))
    return "error: commands are `press <device> [timed]` and `leds`"


def send_control(path: Path, line: str, timeout: float = 5.0) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(line.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode().strip()
