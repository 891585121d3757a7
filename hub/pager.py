"""Pagers: deliver officer pages off the alert path.

The alert path hands a `Page` to a pager and goes on; the pager calls `done(ok, error)` when the
notifier answered. Two implementations:

- `ThreadPager` runs a `Notifier` on a thread pool in the hub's own process (tests' fakes, and the
  `pager_process = false` setting).
- `ProcessPager` runs apprise in a child process (`python -m hub.pager_worker`). The hub's threads
  share one interpreter lock with its bookkeeping (event-log commits, alert saves, dashboard and
  report queries); in a process of its own the HTTP request to the officer's gateway never waits
  for them. Pages travel as JSON lines over the child's stdin and results come back on its stdout.
  If the child dies, it is restarted and the pages it had in hand are sent again (an officer may
  get a page twice; never zero times).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Protocol

from hub.notify import Notifier

log = logging.getLogger(__name__)

Done = Callable[[bool, str | None], None]
"""Called once per page: (delivered, error text when not)."""

STOP_SECONDS = 20
"""How long stop() lets the worker finish its pages (under the hub unit's TimeoutStopSec=30)."""

MAX_ATTEMPTS = 2
"""A page is handed to a (restarted) worker process at most this many times."""


@dataclass(frozen=True)
class Page:
    urls: tuple[str, ...]
    title: str
    body: str


class Pager(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None:
        """Finish the pages in hand, then stop."""
        ...

    def submit(self, page: Page, done: Done) -> None:
        """Queue one page; never blocks on the network."""
        ...


def _settle(done: Done, ok: bool, error: str | None) -> None:
    try:
        done(ok, error)
    except Exception:  # bookkeeping must not kill the pager
        log.exception("pager: recording a page result failed")


class ThreadPager:
    """A `Notifier` on a thread pool in this process."""

    def __init__(self, notifier: Notifier, workers: int = 16) -> None:
        self.notifier = notifier
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="pager")

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
            self._pool = None

    def submit(self, page: Page, done: Done) -> None:
        assert self._pool is not None, "ThreadPager.start() was not called"
        self._pool.submit(self._send, page, done)

    def _send(self, page: Page, done: Done) -> None:
        try:
            ok = self.notifier.send(list(page.urls), page.title, page.body)
        except Exception as exc:  # a broken notifier must not kill the pager
            log.exception("pager: notifier failed")
            _settle(done, False, str(exc) or type(exc).__name__)
            return
        _settle(done, ok, None if ok else "notifier refused")


@dataclass
class _InFlight:
    page: Page
    done: Done
    attempts: int = 0


class ProcessPager:
    """Pages sent by apprise in a child process (`hub/pager_worker.py`), restarted if it dies."""

    def __init__(self, command: list[str] | None = None, workers: int = 16, stop_seconds: float = STOP_SECONDS) -> None:
        self.command = command
        self.workers = workers
        self.stop_seconds = stop_seconds
        self.restarts = 0
        self._ids = itertools.count(1)
        self._in_flight: dict[int, _InFlight] = {}
        self._lock = threading.Lock()  # guards _in_flight, _proc and writes to the child's stdin
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = False

    def start(self) -> None:
        with self._lock:
            self._stopping = False
            self._spawn()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the worker finishes the pages in hand, reports them, and exits
        try:
            proc.wait(timeout=self.stop_seconds)
        except subprocess.TimeoutExpired:
            log.error("pager worker did not finish its pages in %s s; killing it", self.stop_seconds)
            proc.kill()
            proc.wait()
        with self._lock:
            self._proc = None
            left = list(self._in_flight.values())
            self._in_flight.clear()
        for item in left:
            _settle(item.done, False, "hub stopped before the page was sent")

    def submit(self, page: Page, done: Done) -> None:
        with self._lock:
            if self._stopping or self._proc is None:
                refused = "pager is stopped"
            else:
                refused = None
                page_id = next(self._ids)
                self._in_flight[page_id] = item = _InFlight(page, done)
                self._hand_over(page_id, item)
        if refused:
            _settle(done, False, refused)

    def pending(self) -> int:
        with self._lock:
            return len(self._in_flight)

    # -- under self._lock ------------------------------------------------------------------
    def _spawn(self) -> None:
        command = self.command or [
            sys.executable, "-m", "hub.pager_worker", "--workers", str(self.workers),
            "--log-level", logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        ]
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        assert proc.stdin is not None
        os.set_blocking(proc.stdin.fileno(), False)  # a worker that stops reading must never block the alert path
        self._proc = proc
        reader = threading.Thread(target=self._read, args=(proc,), name="pager-results", daemon=True)
        reader.start()

    def _hand_over(self, page_id: int, item: _InFlight) -> None:
        item.attempts += 1
        line = json.dumps({"id": page_id, "urls": list(item.page.urls), "title": item.page.title, "body": item.page.body})
        data = line.encode() + b"\n"
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            written = os.write(proc.stdin.fileno(), data)
        except BlockingIOError:
            written = 0
        except (ValueError, OSError):
            return  # the worker is gone: its reader thread restarts it and hands this page over again
        if written != len(data):  # pipe full: the worker stopped reading (a partial line is lost to it too)
            log.error("pager worker is not taking pages; killing it (it is restarted and the pages sent again)")
            proc.kill()

    # -- reader thread -----------------------------------------------------------------------
    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in _lines(proc.stdout):
            try:
                result = json.loads(raw)
                page_id, ok, error = int(result["id"]), bool(result["ok"]), result.get("error")
            except (ValueError, KeyError, TypeError):
                log.error("pager worker wrote something that is not a result: %r", raw[:200])
                continue
            with self._lock:
                item = self._in_flight.pop(page_id, None)
            if item is not None:
                _settle(item.done, ok, None if ok else str(error or "notifier refused"))
        code = proc.wait()
        self._worker_ended(proc, code)

    def _worker_ended(self, proc: subprocess.Popen[bytes], code: int) -> None:
        failed: list[_InFlight] = []
        with self._lock:
            if self._proc is not proc or self._stopping:
                return
            log.error("pager worker exited with code %s; restarting it", code)
            self.restarts += 1
            self._spawn()
            for page_id, item in list(self._in_flight.items()):
                if item.attempts >= MAX_ATTEMPTS:
                    failed.append(self._in_flight.pop(page_id))
                else:
                    self._hand_over(page_id, item)
        for item in failed:
            _settle(item.done, False, f"pager worker died {MAX_ATTEMPTS} times while sending")


def _lines(stream: IO[bytes]):  # type: ignore[no-untyped-def]
    """Lines from an unbuffered pipe until EOF."""
    buffered = b""
    while chunk := stream.read(65536):
        buffered += chunk
        *complete, buffered = buffered.split(b"\n")
        yield from (line for line in complete if line.strip())
