"""Small network helpers shared by the demo, the tests and the benchmarks."""

from __future__ import annotations

import random
import socket
import threading
import time
from pathlib import Path

_handed: set[int] = set()  # ports this process handed out: never twice, even before their owner binds
_lock = threading.Lock()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago, chosen **below the kernel's ephemeral range**.

    A port the kernel hands out for `bind(0)` comes from the same range as the local ports of
    outgoing connections; between choosing it and the server binding it, any new connection (a
    hub's MQTT sessions start before its web server) may take it. Ports below the range are never
    given to outgoing connections, so only another server could take one."""
    low, _high = _ephemeral_range()
    candidates = range(10000, max(10001, low))
    with _lock:
        for _ in range(200):
            port = random.choice(candidates)
            if port in _handed:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((host, port))
                except OSError:
                    continue
            _handed.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a crowded machine: the kernel's pick
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """True once something accepts TCP connections on host:port, False after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
