"""The event log writer: one thread, group commit, ack after the commit is durable."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from hub.storage.events import EventStore, Record

log = logging.getLogger(__name__)

_STOP = object()


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
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.commits = 0
        self.committed_events = 0
        self.failures = 0

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
            added = self._commit(batch)
            try:
                self.on_committed(batch, added)
            except Exception:
                log.exception("event log: on_committed failed")

    def _commit(self, batch: list[Record]) -> list[Record]:
        """Retry until the disk takes it: an event is never dropped for a transient I/O error."""
        while True:
            try:
                added = self.store.append(batch)
            except OSError as exc:
                self.failures += 1
                log.error("event log: commit of %d events failed (%s); retrying", len(batch), exc)
                time.sleep(self.retry_delay)
                continue
            self.commits += 1
            self.committed_events += len(added)
            return added
