"""The first page of a panic waits a short, bounded time for the camera picture at the press (issue 15).

The post sends the panic first and its pictures after it, so the page must not wait for them on
the alert path. `PictureWait.submit` returns at once; a page is held (on this class's own
thread) until `find()` gives the picture's file (looked up every `poll_s`, and at once on `kick()`,
which the hub calls when a snapshot is stored), or `wait_s` has passed, whichever is first, and
then handed to the pager: with the picture as its attachment, or without it (the page's links
lead to the alert and its pictures). A page is never held longer than `wait_s` plus one
`poll_s` (0.1 s); `wait_s` 0 hands every page over at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from hub.paging.pager import Done, Page, Pager

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1

Find = Callable[[], str | None]
"""The picture's file path when it is stored, else None; called on the wait thread."""


@dataclass(frozen=True, eq=False)
class _Held:
    page: Page
    done: Done
    find: Find
    deadline: float


class PictureWait:
    """Holds pages for their picture at most `wait_s` seconds, then hands them to `pager`."""

    def __init__(
        self, pager: Pager, wait_s: float, poll_s: float = POLL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.pager = pager
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.clock = clock
        self.with_picture = 0  # pages handed over with their picture
        self.without_picture = 0  # pages whose picture did not come in time
        self._held: list[_Held] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._cond:
            self._stopping = False
        self._thread = threading.Thread(target=self._run, name="page-picture-wait", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Hand over every held page now (with its picture if it is there): none is lost at shutdown."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)
        self._flush(everything=True)

    def submit(self, page: Page, done: Done, find: Find) -> None:
        """Quick: a page whose picture is already stored, or any page while not running, goes at once."""
        path = self._find(find)
        with self._cond:
            hold = path is None and self.wait_s > 0 and self._thread is not None and not self._stopping
            if hold:
                self._held.append(_Held(page, done, find, self.clock() + self.wait_s))
                self._cond.notify_all()
        if not hold:
            self._hand_over(page, done, path)

    def kick(self) -> None:
        """A picture was stored: look again now rather than at the next poll."""
        with self._cond:
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._held)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._held and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                self._cond.wait(self.poll_s)  # a kick (picture stored) ends it early
            self._flush(everything=False)

    def _flush(self, everything: bool) -> None:
        with self._cond:
            held = list(self._held)
        now = self.clock()
        for item in held:
            path = self._find(item.find)
            if path is None and not everything and now < item.deadline:
                continue
            with self._cond:
                index = next((i for i, other in enumerate(self._held) if other is item), None)
                if index is None:
                    continue  # handed over meanwhile (stop)
                del self._held[index]
            self._hand_over(item.page, item.done, path)

    def _hand_over(self, page: Page, done: Done, path: str | None) -> None:
        if path is not None:
            self.with_picture += 1
            page = replace(page, attachment=path)
        else:
            self.without_picture += 1
        self.pager.submit(page, done)

    @staticmethod
    def _find(find: Find) -> str | None:
        try:
            return find()
        except Exception:  # a lookup that fails must not hold or lose the page
            log.exception("page picture: lookup failed; paging without it")
            return None
