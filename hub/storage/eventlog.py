"""The event log writer: one thread, group commit, ack after the commit is durable.

A disk error (OSError) is retried until the disk takes the batch: events are never dropped for a
transient I/O error. Any other error is a bad record, not a bad disk: the batch is split in halves
until the record(s) that fail alone are found; those go to `on_failed` (ingest dead-letters them),
the rest of the batch is committed, so one poisoned record never fails other posts' events.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from hub.storage.events import EventStore, Record

log = logging.getLogger(__name__)

_STOP = object()
REMIND_EVERY = 300.0
"""Seconds between reminders while commits keep failing: the first failure and the recovery are logged
at once, the retries (one a second) are not, so an outage of hours is a few lines, not a flood."""


class EventLogWriter:
    """Batches submitted records into store.append calls; calls on_committed after each."""

    def __init__(
        self,
        store: EventStore,
        on_committed: Callable[[list[Record], list[Record]], None],
        max_batch: int = 500,
        retry_delay: float = 1.0,
    ) -> None:
        self.store = store
        self.on_committed = on_committed  # (submitted batch, records newly added)
        self.max_batch = max_batch
        self.retry_delay = retry_delay
        # SimpleQueue: a C queue without the Condition objects of queue.Queue (one put per event)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.on_failed: Callable[[Record, Exception], None] | None = None  # a record the store refused (not OSError)
        self._failing = False  # commits fail now (disk or database away): said once, not at every retry
        self.commits = 0
        self.committed_events = 0
        self.failures = 0
        self.poisoned = 0  # records refused alone by the store (handed to on_failed)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="eventlog-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, record: Record) -> None:
        self._queue.put(record)

    def backlog(self) -> int:
        return self._queue.qsize()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[Record] = [first]  # type: ignore[list-item]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            added, refused = self._commit(batch)
            if refused:
                failed_ids = {id(record) for record, _ in refused}
                batch = [record for record in batch if id(record) not in failed_ids]
                self._refuse(refused)
            if batch:
                try:
                    self.on_committed(batch, added)
                except Exception:
                    log.exception("event log: on_committed failed")

    def _refuse(self, refused: list[tuple[Record, Exception]]) -> None:
        for record, exc in refused:
            self.poisoned += 1
            log.error(
                "event log: the store refused event %r (%s: %s)",
                str(record.get("id"))[:40],
                type(exc).__name__,
                str(exc)[:200],
            )
            if self.on_failed is not None:
                try:
                    self.on_failed(record, exc)
                except Exception:
                    log.exception("event log: on_failed failed")

    def _commit(self, batch: list[Record]) -> tuple[list[Record], list[tuple[Record, Exception]]]:
        """(added, refused): retry disk errors until the disk takes the batch; split it on any other error."""
        failing_since: float | None = None
        reminded = 0.0
        while True:
            try:
                added = self.store.append(batch)
            except OSError as exc:
                self.failures += 1
                now = time.monotonic()
                if failing_since is None and not self._failing:
                    log.error(
                        "event log: commit of %d events failed (%s); retrying every %.1f s, acking nothing "
                        "meanwhile (the posts keep their events)",
                        len(batch),
                        exc,
                        self.retry_delay,
                    )
                elif now - reminded >= REMIND_EVERY:
                    waiting = len(batch) + self.backlog()
                    log.error("event log: commits still failing (%s); %d events waiting", exc, waiting)
                else:
                    log.debug("event log: commit failed again: %s", exc)
                if failing_since is None:
                    failing_since = now
                if now - reminded >= REMIND_EVERY:
                    reminded = now
                self._failing = True
                time.sleep(self.retry_delay)
                continue
            except Exception as exc:  # a record the store cannot take: find it, commit the others
                if len(batch) == 1:
                    return [], [(batch[0], exc)]
                middle = len(batch) // 2
                first_added, first_refused = self._commit(batch[:middle])
                second_added, second_refused = self._commit(batch[middle:])
                return first_added + second_added, first_refused + second_refused
            if self._failing:
                self._failing = False
                log.warning("event log: commits succeed again; %d events stored from the batch that waited", len(added))
            self.commits += 1
            self.committed_events += len(added)
            return added, []
