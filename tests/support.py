"""Helpers shared by the tests: waiting on conditions, never on bare sleeps."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from hub.accounts.auth import new_token
from hub.provisioning.broker_files import new_secret
from hub.service import HubService
from hub.settings import HubSettings
from hub.web.app import create_app
from hub.web.server import WebServer
from kamling.sdnotify import SdNotifier
from poskamling.broker import MosquittoBroker
from poskamling.httpsink import NotificationSink
from poskamling.net import free_port

HUB_USER = "poskamling-hub"

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> T:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}: last value {last!r}")
        time.sleep(interval)
        last = condition()
    return last


@dataclass
class HubHarness:
    """The real hub (service + web server) wired to a test broker."""

    broker: MosquittoBroker
    sink: NotificationSink
    data_dir: Path
    posts: list[dict[str, Any]]
    officers: list[dict[str, Any]]
    tokens: dict[str, str] = field(default_factory=dict)
    service: HubService | None = None
    web: WebServer | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> HubSettings:
        api_tokens = []
        for role in ("viewer", "operator", "technician", "admin"):
            token, digest = new_token()
            self.tokens[role] = token
            api_tokens.append({"name": f"test-{role}", "role": role, "sha256": digest})
        values: dict[str, Any] = {
            "mqtt_host": self.broker.host,
            "mqtt_port": self.broker.port,
            "mqtt_password": self.broker.accounts[HUB_USER],
            "data_dir": self.data_dir,
            "http_port": free_port(),
            "posts": self.posts,
            "officers": self.officers,
            "api_tokens": api_tokens,
        }
        return HubSettings(**(values | self.extra))  # a test may override any of these (a second hub's user)

    def start(self) -> None:
        settings = self.settings()
        self.service = HubService(settings)
        self.service.start()
        self.web = WebServer(create_app(self.service), "127.0.0.1", settings.http_port)
        self.web.start()

    def stop(self) -> None:
        if self.web:
            self.web.stop()
        if self.service:
            self.service.stop()
        self.web = self.service = None

    def client(self, role: str | None = "operator") -> httpx.Client:
        assert self.web is not None
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.web.url, headers=headers, timeout=10)


class VirtualClock:
    """Time that moves only when the code under test sleeps; records the sleeps. One thread."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)


def add_device(broker: MosquittoBroker, device_id: str) -> str:
    """Give a device a fresh broker credential and reload the broker."""
    password = new_secret()
    broker.accounts[device_id] = password
    broker.reload()
    return password


MONITOR_USER = "monitor"


def add_monitor(broker: MosquittoBroker) -> tuple[str, str]:
    """A read-only broker account that sees every poskamling topic (the hub user cannot read acks)."""
    password = broker.accounts.get(MONITOR_USER) or new_secret()
    broker.accounts[MONITOR_USER] = password
    if MONITOR_USER not in broker.monitor_users:
        broker.monitor_users.append(MONITOR_USER)
    broker.reload()
    return MONITOR_USER, password


def post_entry(device_id: str, name: str | None = None, village: str = "Sukamaju") -> dict[str, Any]:
    return {"device_id": device_id, "name": name or f"Pos {device_id}", "village": village, "lat": -7.8, "lon": 110.37}


SYSTEMD_RECV_TIMEOUT = 10.0


class FakeSystemd:
    """The receiving end of NOTIFY_SOCKET (abstract namespace, so no path length limits)."""

    def __init__(self) -> None:
        self.name = f"poskamling-rt-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.sock.settimeout(SYSTEMD_RECV_TIMEOUT)

    @property
    def env_value(self) -> str:
        return "@" + self.name

    def notifier(self) -> SdNotifier:
        return SdNotifier.from_env({"NOTIFY_SOCKET": self.env_value})

    def receive(self, timeout: float = SYSTEMD_RECV_TIMEOUT) -> str | None:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536).decode()
        except TimeoutError:
            return None

    def drain(self) -> list[str]:
        self.sock.setblocking(False)
        out = []
        try:
            while True:
                out.append(self.sock.recv(65536).decode())
        except BlockingIOError:
            return out
        finally:
            self.sock.settimeout(SYSTEMD_RECV_TIMEOUT)

    def wait_for_message(self, prefix: str) -> list[str]:
        """Every datagram received up to and including the first that starts with `prefix`."""
        seen = []
        while True:
            message = self.receive()
            assert message is not None, f"no {prefix} within {SYSTEMD_RECV_TIMEOUT}s; got {seen}"
            seen.append(message)
            if message.startswith(prefix):
                return seen

    def close(self) -> None:
        self.sock.close()
