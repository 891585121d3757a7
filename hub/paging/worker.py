"""The pager's child process: sends pages outside the hub's interpreter lock.

Webhook-style channels (JSON webhooks, ntfy, Telegram) go through one pooled keep-alive HTTP
client (hub/paging/webhook.py), every other channel through apprise.

Protocol (hub/paging/pager.py is the other end), one JSON object per line:
  stdin   {"id": 7, "urls": ["tgram://..."], "title": "...", "body": "...", "attachment": "/path.jpg"}
          ("attachment" is optional: the camera picture at the press, issue 15)
  stdout  {"id": 7, "ok": true, "error": null}
End of stdin: finish the pages in hand, report them, exit 0. Logs go to stderr (the hub's journal).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from hub.paging.notify import AppriseNotifier, Notifier
from hub.paging.pager import Page, deliver
from hub.paging.webhook import WebhookNotifier

log = logging.getLogger("hub.paging.worker")


class PageWorker:
    """Reads pages, sends each on a thread pool, writes one result line per page."""

    def __init__(self, notifier: Notifier, pages: IO[bytes], results: IO[bytes], workers: int) -> None:
        self.notifier = notifier
        self.pages = pages
        self.results = results
        self.workers = workers
        self._write_lock = threading.Lock()

    def run(self) -> None:
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="page") as pool:
            for raw in self.pages:
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                    page_id = int(line["id"])
                    attachment = line.get("attachment")
                    page = Page(
                        tuple(str(url) for url in line["urls"]),
                        str(line["title"]),
                        str(line["body"]),
                        str(attachment) if attachment else None,
                    )
                except (ValueError, KeyError, TypeError):
                    log.error("pager worker: ignoring a line that is not a page: %r", raw[:200])
                    continue
                pool.submit(self._send, page_id, page)

    def _send(self, page_id: int, page: Page) -> None:
        ok, error = deliver(self.notifier, page)  # never raises: the hub waits for a result line
        self._report({"id": page_id, "ok": ok, "error": error})

    def _report(self, result: dict[str, Any]) -> None:
        line = json.dumps(result).encode() + b"\n"
        with self._write_lock:
            self.results.write(line)
            self.results.flush()


def _load_apprise() -> None:
    """Import apprise and its plugins now, not on the first panic (a page meanwhile waits on the import lock)."""
    import apprise

    apprise.Apprise.instantiate("json://localhost")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=16, help="pages sent at the same time")
    parser.add_argument("--log-level", default="INFO", help="the hub's log level")
    args = parser.parse_args(argv)
    # The hub ends this process by closing its stdin (pages in hand are finished first). A Ctrl-C
    # in the terminal or systemd's SIGTERM to the whole unit must not kill it mid-page.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s pager-worker %(name)s: %(message)s")
    logging.getLogger("apprise").setLevel(max(logging.WARNING, logging.getLogger().level))  # the hub logs each page
    threading.Thread(target=_load_apprise, name="warm-up", daemon=True).start()  # while we already read pages

    PageWorker(WebhookNotifier(AppriseNotifier()), sys.stdin.buffer, sys.stdout.buffer, args.workers).run()


if __name__ == "__main__":
    main()
