"""Notifiers: a one-method interface, the apprise adapter and a recording fake for tests."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from kamling.redact import redact_url

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def send(self, urls: list[str], title: str, body: str) -> bool:
        """Deliver to every URL; True when all accepted it."""
        ...


class AppriseNotifier:
    """Any apprise service: Telegram, WhatsApp, SMS gateways, e-mail, JSON webhooks, ...

    One apprise object per recipient's URL list is built once and reused (parsing the URLs
    and loading the plugins cost about 1 ms a page). A lock per recipient keeps that
    recipient's pages in order and the shared plugin objects single-threaded.
    """

    def __init__(self) -> None:
        self._senders: dict[tuple[str, ...], tuple[Any, threading.Lock]] = {}
        self._lock = threading.Lock()

    def _sender(self, urls: tuple[str, ...]) -> tuple[Any, threading.Lock] | None:
        with self._lock:
            cached = self._senders.get(urls)
            if cached is None:
                import apprise

                # Synchronous: the hub already pages from its own thread pool.
                sender = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
                for url in urls:
                    if not sender.add(url):
                        log.error("notifier: apprise does not understand %s", redact_url(url))
                cached = (sender, threading.Lock())
                self._senders[urls] = cached
        return cached if len(cached[0]) else None

    def send(self, urls: list[str], title: str, body: str) -> bool:
        found = self._sender(tuple(urls))
        if found is None:
            return False
        sender, lock = found
        with lock:
            return bool(sender.notify(title=title, body=body))


@dataclass
class RecordingNotifier:
    """Test fake: remembers what would have been sent."""

    sent: list[tuple[list[str], str, str]] = field(default_factory=list)
    succeed: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, urls: list[str], title: str, body: str) -> bool:
        with self._lock:
            self.sent.append((list(urls), title, body))
        return self.succeed
