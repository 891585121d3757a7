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
  get a page twice; never zero times). A child that cannot run at all hands the paging back to
  apprise inside the hub until it can.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from hub.paging.notify import Notifier, send_page
from kamling.backoff import Backoff

log = logging.getLogger(__name__)

Done = Callable[[bool, str | None], None]
"""Called once per page: (delivered, error text when not)."""

STOP_SECONDS = 20
"""How long stop() lets the worker finish its pages (under the hub unit's TimeoutStopSec=30)."""

MAX_ATTEMPTS = 2
"""A page is handed to a (restarted) worker process at most this many times."""

QUICK_DEATH_SECONDS = 5.0
MAX_QUICK_DEATHS = 3
"""A worker that dies this soon after starting, this many times in a row, cannot run: use the fallback."""

RESPAWN_FIRST_SECONDS = 5.0
RESPAWN_MAX_SECONDS = 300.0

ANSWER_SECONDS = 60.0
"""Longest a worker may hold a page without answering it. A page takes at most its channels' timeouts
(4 s to connect and 4 s to read for each URL, hub/paging/webhook.py and apprise); a worker past this is
hung (alive, reading, never answering) and is killed: restarted, and its pages handed over again."""


@dataclass(frozen=True)
class Page:
    urls: tuple[str, ...]
    title: str
    body: str
    attachment: str | None = None  # a file on the hub (the picture at the press), for channels that take one


class Pager(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None:
        """Finish the pages in hand, then stop."""
        ...

    def submit(self, page: Page, done: Done) -> None:
        """Queue one page; never blocks on the network."""
        ...


def deliver(notifier: Notifier, page: Page) -> tuple[bool, str | None]:
    """Send one page: (delivered, why not). A notifier that raises must not kill its caller."""
    try:
        ok = send_page(notifier, list(page.urls), page.title, page.body, page.attachment)
    except Exception as exc:
        log.exception("pager: notifier failed")
        return False, str(exc) or type(exc).__name__
    return ok, None if ok else "notifier refused"


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
        _settle(done, *deliver(self.notifier, page))


@dataclass
class _InFlight:
    page: Page
    done: Done
    attempts: int = 0
    handed_at: float = 0.0  # monotonic time of the last hand-over to a worker


class ProcessPager:
    """Pages sent by apprise in a child process (`hub/paging/worker.py`), restarted if it dies.

    A worker that cannot run at all (it dies within QUICK_DEATH_SECONDS of starting, MAX_QUICK_DEATHS
    times in a row, or cannot be started) must not silence the pages: they go to `fallback` (apprise
    inside the hub) while the worker is retried with a growing pause.
    """

    def __init__(
        self,
        command: list[str] | None = None,
        workers: int = 16,
        stop_seconds: float = STOP_SECONDS,
        fallback: Pager | None = None,
        first_pause: float = RESPAWN_FIRST_SECONDS,
        answer_seconds: float = ANSWER_SECONDS,
    ) -> None:
        self.command = command
        self.workers = workers
        self.stop_seconds = stop_seconds
        self.answer_seconds = answer_seconds
        self.hung = 0  # workers killed for holding a page unanswered past answer_seconds
        self.fallback = fallback
        self.restarts = 0
        self.respawn_in: float | None = None  # seconds to the next worker attempt while the fallback pages
        self._ids = itertools.count(1)
        self._in_flight: dict[int, _InFlight] = {}
        self._lock = threading.Lock()  # guards the state below and writes to the child's stdin
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._quick_deaths = 0
        self.first_pause = first_pause
        self._backoff = Backoff(first_pause, max(first_pause, RESPAWN_MAX_SECONDS))
        self._respawn: threading.Timer | None = None
        self._fallback_running = False
        self._stopping = False
        self._watch_stop = threading.Event()
        self._watch: threading.Thread | None = None
        self._killed_hung: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._lock:
            self._stopping = False
            if not self._spawn():
                self._give_worker_a_rest()
        self._watch_stop.clear()
        self._watch = threading.Thread(target=self._watch_answers, name="pager-answers", daemon=True)
        self._watch.start()

    def stop(self) -> None:
        self._watch_stop.set()
        if self._watch is not None:
            self._watch.join(timeout=5)
            self._watch = None
        with self._lock:
            self._stopping = True
            proc, respawn = self._proc, self._respawn
        if respawn is not None:
            respawn.cancel()
        if proc is not None:
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
            fallback_running, self._fallback_running = self._fallback_running, False
        for item in left:
            _settle(item.done, False, "hub stopped before the page was sent")
        if fallback_running and self.fallback is not None:
            self.fallback.stop()

    def submit(self, page: Page, done: Done) -> None:
        with self._lock:
            route = "refuse" if self._stopping else "fallback" if self._proc is None else "worker"
            if route == "worker":
                page_id = next(self._ids)
                self._in_flight[page_id] = item = _InFlight(page, done)
                self._hand_over(page_id, item)
        if route == "refuse":
            _settle(done, False, "pager is stopped")
        elif route == "fallback":
            self._send_in_hub(page, done)

    def pending(self) -> int:
        with self._lock:
            return len(self._in_flight)

    # -- under self._lock ------------------------------------------------------------------
    def _spawn(self) -> bool:
        command = self.command or [
            sys.executable,
            "-m",
            "hub.paging.worker",
            "--workers",
            str(self.workers),
            "--log-level",
            logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        ]
        try:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError:
            log.exception("pager worker could not be started")
            return False
        assert proc.stdin is not None
        os.set_blocking(proc.stdin.fileno(), False)  # a worker that stops reading must never block the alert path
        self._proc = proc
        self._started_at = time.monotonic()
        reader = threading.Thread(target=self._read, args=(proc,), name="pager-results", daemon=True)
        reader.start()
        return True

    def _give_worker_a_rest(self) -> None:
        """No worker for now: pages go to the fallback; try the worker again after a growing pause."""
        self._proc = None
        pause = self._backoff.next()
        self.respawn_in = pause
        log.error("pager worker cannot run; the hub sends pages itself and retries the worker in %.0f s", pause)
        self._respawn = threading.Timer(pause, self._try_worker_again)
        self._respawn.daemon = True
        self._respawn.start()

    def _hand_over(self, page_id: int, item: _InFlight) -> None:
        item.attempts += 1
        item.handed_at = time.monotonic()
        fields = {"id": page_id, "urls": list(item.page.urls), "title": item.page.title, "body": item.page.body}
        if item.page.attachment is not None:
            fields["attachment"] = item.page.attachment
        line = json.dumps(fields)
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

    # -- other threads -----------------------------------------------------------------------
    def _watch_answers(self) -> None:
        """A worker that takes pages but never answers (hung on a lock, a stuck library) is found here:
        a full pipe finds only one that stops reading, and only once it has been sent enough."""
        while not self._watch_stop.wait(min(1.0, self.answer_seconds / 4)):
            now = time.monotonic()
            with self._lock:
                proc = self._proc
                late = [i for i in self._in_flight.values() if now - i.handed_at > self.answer_seconds]
                if proc is None or not late or self._stopping or proc is self._killed_hung:
                    continue
                self._killed_hung = proc
                self.hung += 1
            log.error(
                "pager worker has held %d page(s) unanswered for over %.0f s; killing it (it is restarted and "
                "the pages sent again)",
                len(late),
                self.answer_seconds,
            )
            proc.kill()  # its reader thread sees the end and restarts it (_worker_ended)

    def _try_worker_again(self) -> None:
        with self._lock:
            self._respawn = None
            if self._stopping or self._proc is not None:
                return
            self.respawn_in = None
            self._quick_deaths = MAX_QUICK_DEATHS - 1  # one more quick death: back to the fallback, longer pause
            if not self._spawn():
                self._give_worker_a_rest()

    def _send_in_hub(self, page: Page, done: Done) -> None:
        if self.fallback is None:
            _settle(done, False, "pager worker cannot run")
            return
        with self._lock:
            starting, self._fallback_running = not self._fallback_running, True
        if starting:
            self.fallback.start()
        self.fallback.submit(page, done)

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:  # buffered: each line as soon as it is complete
            if not raw.strip():
                continue
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
        rehome: list[_InFlight] = []
        with self._lock:
            if self._proc is not proc or self._stopping:
                return
            self.restarts += 1
            quick = time.monotonic() - self._started_at < QUICK_DEATH_SECONDS
            self._quick_deaths = self._quick_deaths + 1 if quick else 0
            if not quick:
                self._backoff.reset()
            if self._quick_deaths < MAX_QUICK_DEATHS:
                log.error("pager worker exited with code %s; restarting it", code)
            if self._quick_deaths >= MAX_QUICK_DEATHS or not self._spawn():
                self._give_worker_a_rest()
                rehome = list(self._in_flight.values())
                self._in_flight.clear()
            else:
                for page_id, item in list(self._in_flight.items()):
                    if item.attempts >= MAX_ATTEMPTS:
                        failed.append(self._in_flight.pop(page_id))
                    else:
                        self._hand_over(page_id, item)
        for item in failed:  # it may be the page that kills the worker: not inside the hub, then
            _settle(item.done, False, f"pager worker died {MAX_ATTEMPTS} times while sending")
        for item in rehome:
            self._send_in_hub(item.page, item.done)
