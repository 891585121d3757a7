"""sd_notify client against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kamling import sdnotify
from kamling.sdnotify import SdNotifier, watchdog_interval

RECV_TIMEOUT = 5.0


class FakeSystemd:
    """The receiving end of NOTIFY_SOCKET: a bound datagram socket."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.sock = sock
        self.env_value = env_value

    def receive(self) -> bytes:
        return self.sock.recv(65536)  # blocks until a datagram arrives or RECV_TIMEOUT passes

    def assert_nothing_pending(self) -> None:
        self.sock.setblocking(False)
        try:
            with pytest.raises(BlockingIOError):
                self.sock.recv(65536)
        finally:
            self.sock.settimeout(RECV_TIMEOUT)


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[FakeSystemd]:
    # sun_path holds 108 bytes; a deep pytest tmp dir may not fit, so fall back to a short one.
    with tempfile.TemporaryDirectory(prefix="sdn-") as short_dir:
        path = tmp_path / "notify"
        if len(str(path)) >= 100:
            path = Path(short_dir) / "notify"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.settimeout(RECV_TIMEOUT)
        try:
            yield FakeSystemd(sock, str(path))
        finally:
            sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[FakeSystemd]:
    name = f"poskamling-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(RECV_TIMEOUT)
    try:
        yield FakeSystemd(sock, "@" + name)
    finally:
        sock.close()


def test_ready_sends_exact_datagram(path_socket: FakeSystemd) -> None:
    notifier = SdNotifier.from_env({"NOTIFY_SOCKET": path_socket.env_value})
    assert notifier.enabled
    assert notifier.ready() is True
    assert path_socket.receive() == b"READY=1"


def test_ready_with_status_is_one_datagram(path_socket: FakeSystemd) -> None:
    notifier = SdNotifier.from_env({"NOTIFY_SOCKET": path_socket.env_value})
    notifier.ready("connected to hub")
    assert path_socket.receive() == b"READY=1\nSTATUS=connected to hub"
    path_socket.assert_nothing_pending()


def test_each_call_sends_its_own_datagram(path_socket: FakeSystemd) -> None:
    notifier = SdNotifier.from_env({"NOTIFY_SOCKET": path_socket.env_value})
    assert notifier.watchdog()
    assert notifier.status("outbox 3 events, camera gate 4.9 fps")
    assert notifier.stopping()
    assert path_socket.receive() == b"WATCHDOG=1"
    assert path_socket.receive() == b"STATUS=outbox 3 events, camera gate 4.9 fps"
    assert path_socket.receive() == b"STOPPING=1"
    path_socket.assert_nothing_pending()


def test_status_newlines_cannot_inject_assignments(path_socket: FakeSystemd) -> None:
    notifier = SdNotifier.from_env({"NOTIFY_SOCKET": path_socket.env_value})
    notifier.status("broker down\nREADY=1")
    assert path_socket.receive() == b"STATUS=broker down READY=1"


def test_status_is_utf8(path_socket: FakeSystemd) -> None:
    SdNotifier.from_env({"NOTIFY_SOCKET": path_socket.env_value}).status("Pos Kamling RW 05 — siaga")
    assert path_socket.receive() == "STATUS=Pos Kamling RW 05 — siaga".encode()


def test_abstract_namespace_address(abstract_socket: FakeSystemd) -> None:
    notifier = SdNotifier.from_env({"NOTIFY_SOCKET": abstract_socket.env_value})
    assert notifier.address == "\0" + abstract_socket.env_value[1:]
    assert notifier.ready()
    assert abstract_socket.receive() == b"READY=1"


def test_module_functions_read_environment(path_socket: FakeSystemd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", path_socket.env_value)
    assert sdnotify.ready()
    assert sdnotify.watchdog()
    assert sdnotify.status("ok")
    assert sdnotify.stopping()
    received = [path_socket.receive() for _ in range(4)]
    assert received == [b"READY=1", b"WATCHDOG=1", b"STATUS=ok", b"STOPPING=1"]


def test_noop_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = SdNotifier.from_env()
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert sdnotify.ready() is False
    assert sdnotify.status("x") is False
    assert sdnotify.stopping() is False


@pytest.mark.parametrize("value", ["", "vsock:2:1234", "relative/path"])
def test_unsupported_addresses_are_noops(value: str) -> None:
    assert SdNotifier.from_env({"NOTIFY_SOCKET": value}).ready() is False


def test_unreachable_socket_returns_false(tmp_path: Path) -> None:
    notifier = SdNotifier(str(tmp_path / "nobody-listens"))
    assert notifier.enabled
    assert notifier.watchdog() is False


class TestWatchdogInterval:
    def test_unset(self) -> None:
        assert watchdog_interval({}) is None

    def test_usec_to_seconds(self) -> None:
        assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0

    def test_pid_matches_this_process(self) -> None:
        env = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
        assert watchdog_interval(env) == 30.0

    def test_pid_for_another_process(self) -> None:
        env = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}
        assert watchdog_interval(env, pid=4242) is None

    def test_explicit_pid(self) -> None:
        env = {"WATCHDOG_USEC": "1500000", "WATCHDOG_PID": "4242"}
        assert watchdog_interval(env, pid=4242) == 1.5

    @pytest.mark.parametrize("usec", ["0", "-5", "abc", ""])
    def test_invalid_usec(self, usec: str) -> None:
        assert watchdog_interval({"WATCHDOG_USEC": usec}) is None

    def test_invalid_pid(self) -> None:
        assert watchdog_interval({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "x"}) is None

    def test_reads_os_environ(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("WATCHDOG_USEC", "20000000")
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        assert watchdog_interval() == 20.0
