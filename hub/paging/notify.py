"""Notifiers: a one-method interface, the apprise adapter and a recording fake for tests."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kamling.redact import redact_url

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def send(self, urls: list[str], title: str, body: str, attachment: str | None = None) -> bool:
        """Deliver to every URL; True when all accepted it. `attachment`: a file (the camera picture at a
        press, issue 15) for the channels that take one; the others get the text alone."""
        ...


def send_page(notifier: Notifier, urls: list[str], title: str, body: str, attachment: str | None = None) -> bool:
    """A page without an attachment calls `send(urls, title, body)` exactly as before issue 15."""
    if attachment is None:
        return notifier.send(urls, title, body)
    return notifier.send(urls, title, body, attachment=attachment)


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

    def send(self, urls: list[str], title: str, body: str, attachment: str | None = None) -> bool:
        """`attachment`: a file path. Channels that take files (Telegram, e-mail, JSON, ...) get it;
        apprise sends the others the text alone. A file gone meanwhile (evicted): the text alone."""
        found = self._sender(tuple(urls))
        if found is None:
            return False
        sender, lock = found
        attach = attachment if attachment is not None and Path(attachment).is_file() else None
        with lock:
            return bool(sender.notify(title=title, body=body, attach=attach))


@dataclass
class RecordingNotifier:
    """Test fake: remembers what would have been sent."""

    sent: list[tuple[list[str], str, str]] = field(default_factory=list)
    attachments: list[str | None] = field(default_factory=list)  # one per page sent, None: no attachment
    succeed: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, urls: list[str], title: str, body: str, attachment: str | None = None) -> bool:
        with self._lock:
            self.sent.append((list(urls), title, body))
            self.attachments.append(attachment)
        return self.succeed
