"""A tiny sd_notify(3) client: tell systemd we are ready, alive, busy or stopping.

Standard library only. Each message is one AF_UNIX datagram to $NOTIFY_SOCKET, the way
libsystemd sends it; an address that starts with '@' is in the abstract namespace. When
NOTIFY_SOCKET is unset (tests, a shell, Docker) every call is a no-op that returns False,
so the agent calls these unconditionally.

Typical use in the agent:

    notifier = SdNotifier.from_env()
    notifier.ready()                     # after GPIO, outbox and MQTT client are set up
    interval = watchdog_interval()       # None unless the unit sets WatchdogSec=
    ... in the main loop, every interval / 2 seconds: notifier.watchdog()
    notifier.stopping()                  # on SIGTERM, before closing things down
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"


def _socket_address(raw: str | None) -> str | None:
    """The bindable form of $NOTIFY_SOCKET, or None when unset or of an unsupported kind."""
    if not raw:
        return None
    if raw.startswith("@"):
        return "\0" + raw[1:]  # abstract namespace
    if raw.startswith("/"):
        return raw
    return None  # e.g. "vsock:..." (systemd 254+ in VMs): not supported here


def _one_line(text: str) -> str:
    """A field value may not contain a newline: each line of a datagram is one assignment."""
    return " ".join(text.splitlines())


class SdNotifier:
    """Sends sd_notify datagrams to one address; `address=None` makes every call a no-op."""

    def __init__(self, address: str | None) -> None:
        self.address = address

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SdNotifier:
        env = os.environ if environ is None else environ
        return cls(_socket_address(env.get(NOTIFY_SOCKET_ENV)))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *assignments: str) -> bool:
        """Send `KEY=VALUE` lines as one datagram. True when sent; never raises."""
        if self.address is None or not assignments:
            return False
        message = "\n".join(assignments).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self.address)
        except OSError:
            return False  # systemd gone or socket unreachable: nothing useful to do about it
        return True

    def ready(self, status: str | None = None) -> bool:
        """READY=1: start-up is complete (Type=notify units stay 'activating' until then)."""
        fields = ["READY=1"]
        if status is not None:
            fields.append(f"STATUS={_one_line(status)}")
        return self.notify(*fields)

    def watchdog(self) -> bool:
        """WATCHDOG=1: the main loop is alive; send at least every watchdog_interval() / 2."""
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """STATUS=...: one line shown by `systemctl status`."""
        return self.notify(f"STATUS={_one_line(text)}")

    def stopping(self) -> bool:
        """STOPPING=1: shutdown has begun."""
        return self.notify("STOPPING=1")


def watchdog_interval(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """The unit's WatchdogSec= in seconds when it applies to this process, else None.

    systemd sets WATCHDOG_USEC (and WATCHDOG_PID, the process it expects pings from). As
    sd_watchdog_enabled(3) advises, ping at about half this interval.
    """
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get(WATCHDOG_USEC_ENV, ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    expected_pid = env.get(WATCHDOG_PID_ENV)
    if expected_pid:
        try:
            if int(expected_pid) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    return usec / 1_000_000


# Module-level shortcuts that read $NOTIFY_SOCKET at each call.


def ready(status: str | None = None) -> bool:
    return SdNotifier.from_env().ready(status)


def watchdog() -> bool:
    return SdNotifier.from_env().watchdog()


def status(text: str) -> bool:
    return SdNotifier.from_env().status(text)


def stopping() -> bool:
    return SdNotifier.from_env().stopping()
