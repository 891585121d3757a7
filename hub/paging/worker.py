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
from collections import deque
from typing import IO, Any

from hub.paging.notify import AppriseNotifier, Notifier
from hub.paging.pager import Page, deliver
from hub.paging.webhook import WebhookNotifier

log = logging.getLogger("hub.paging.worker")


class PageWorker:
    """Reads pages and sends up to `workers` at once, writing one result line per page.

    Leader and followers on `workers + 1` threads: the thread that reads a page sends it itself
    while an idle thread takes over reading. A page thus never waits for another thread to wake up
    (a hand-off to a pool cost about 0.2 ms per page on this machine). When no thread is idle (all
    `workers` others are sending) the reader queues the page and reads on, so the pipe from the
    hub is always drained (the hub kills a worker that stops reading); a thread that finishes a
    page takes queued pages first, oldest first. Nothing is queued while a thread waits to read
    (the reader sees it waiting), so a thread that takes over reading finds the queue empty.
    """

    def __init__(self, notifier: Notifier, pages: IO[bytes], results: IO[bytes], workers: int) -> None:
        self.notifier = notifier
        self.pages = pages
        self.results = results
        self.workers = workers
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()  # held by the one thread reading (the leader)
        self._state = threading.Lock()  # guards the two below
        self._queued: deque[tuple[int, Page]] = deque()
        self._ready = 0  # threads waiting to read: one can take over from the leader

    def run(self) -> None:
        threads = [
            threading.Thread(target=self._serve, name=f"page-{n}", daemon=True) for n in range(max(1, self.workers) + 1)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _serve(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return  # end of input and nothing queued: the pages in hand finish on their threads
            try:
                self._send(*item)
            except Exception:  # e.g. the hub closed our stdout: this thread must still serve the queue
                log.exception("pager worker: reporting page %s failed", item[0])

    def _next(self) -> tuple[int, Page] | None:
        """The next page for this thread: a queued one, else one it reads; None at the end of input."""
        with self._state:
            if self._queued:
                return self._queued.popleft()
            self._ready += 1
        with self._read_lock:
            with self._state:
                self._ready -= 1
                if self._queued:  # not expected (see above); never leave a page behind for a read
                    return self._queued.popleft()
            while True:
                raw = self.pages.readline()
                if not raw:  # the end (every other thread's readline() sees it too): the queue, then stop
                    with self._state:
                        return self._queued.popleft() if self._queued else None
                item = _parse(raw)
                if item is None:
                    continue
                with self._state:
                    if self._ready:
                        return item  # another thread reads on (this lock's release wakes it)
                    self._queued.append(item)  # every thread is busy: queue it, keep the pipe drained

    def _send(self, page_id: int, page: Page) -> None:
        ok, error = deliver(self.notifier, page)  # never raises: the hub waits for a result line
        self._report({"id": page_id, "ok": ok, "error": error})

    def _report(self, result: dict[str, Any]) -> None:
        line = json.dumps(result).encode() + b"\n"
        with self._write_lock:
            self.results.write(line)
            self.results.flush()


def _parse(raw: bytes) -> tuple[int, Page] | None:
    if not raw.strip():
        return None
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
        return None
    return page_id, page


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
