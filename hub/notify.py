"""Notifiers: a one-method interface, the apprise adapter and a recording fake for tests."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def send(self, urls: list[str], title: str, body: str) -> bool:
        """Deliver to every URL; True when all accepted it."""
        ...


class AppriseNotifier:
    """Any apprise service: Telegram, WhatsApp, SMS gateways, e-mail, JSON webhooks, ..."""

    def send(self, urls: list[str], title: str, body: str) -> bool:
        import apprise

        sender = apprise.Apprise()
        for url in urls:
            if not sender.add(url):
                log.error("notifier: apprise does not understand URL scheme of %s", url.split("://")[0])
        if len(sender) == 0:
            return False
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
