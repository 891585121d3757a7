"""The event log writer over a real TinyEventStore: group commit, callback after commit, drain, retry."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.storage.eventlog import EventLogWriter
from hub.storage.events import Record, TinyEventStore
from kamling.protocol import new_event_id
from tests.support import wait_for


def record(seq: int, device: str = "pos-rw01") -> Record:
    return {
        "id": new_event_id(),
        "device": device,
        "seq": seq,
        "kind": "panic",
        "ts": "2026-11-22T15:00:00+00:00",
        "data": {},
        "test": False,
        "received_at": "2026-11-22T15:00:01+00:00",
    }


def open_store(tmp_path: Path) -> TinyEventStore:
    store = TinyEventStore(tmp_path / "events")
    store.open()
    return store


class Commits:
    """on_committed: records each call and what the store held at that moment."""

    def __init__(self, store: TinyEventStore) -> None:
        self.store = store
        self.calls: list[tuple[list[str], list[str]]] = []
        self.stored_before_callback: list[bool] = []
        self.lock = threading.Lock()

    def __call__(self, batch: list[Record], added: list[Record]) -> None:
        with self.lock:
            self.stored_before_callback.append(all(self.store.contains(r["id"]) for r in batch))
            self.calls.append(([r["id"] for r in batch], [r["id"] for r in added]))

    def ids(self) -> list[str]:
        with self.lock:
            return [i for batch, _ in self.calls for i in batch]


class FlakyStore:
    """A real store whose first `failures` appends fail with a disk error (EIO), before writing anything."""

    def __init__(self, inner: TinyEventStore, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.attempts = 0

    def append(self, records: Sequence[Record]) -> list[Record]:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise OSError(5, "Input/output error")
        return self.inner.append(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_batches_up_to_max_batch_and_callback_after_append(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    commits = Commits(store)
    writer = EventLogWriter(store, commits, max_batch=3)
    records = [record(n) for n in range(1, 11)]
    for r in records:  # queued before the writer starts: the batches are deterministic
        writer.submit(r)
    assert writer.backlog() == 10
    writer.start()
    try:
        wait_for(lambda: len(commits.ids()) == 10, what="all ten committed")
    finally:
        writer.stop()
    ids = [r["id"] for r in records]
    assert [batch for batch, _ in commits.calls] == [ids[0:3], ids[3:6], ids[6:9], ids[9:10]]
    assert [added for _, added in commits.calls] == [batch for batch, _ in commits.calls]
    assert commits.stored_before_callback == [True] * 4  # acks may only follow a durable commit
    assert writer.commits == 4 and writer.committed_events == 10 and writer.failures == 0
    assert [r["id"] for r in store.scan()] == ids


def test_callback_gets_the_whole_batch_and_only_new_records_as_added(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    already = record(1)
    store.append([already])
    commits = Commits(store)
    writer = EventLogWriter(store, commits, max_batch=10)
    fresh = record(2)
    writer.submit(dict(already))  # a resend of a stored event still needs its ack
    writer.submit(fresh)
    writer.start()
    try:
        wait_for(lambda: commits.calls, what="one commit")
    finally:
        writer.stop()
    assert commits.calls == [([already["id"], fresh["id"]], [fresh["id"]])]
    assert writer.committed_events == 1


def test_stop_drains_what_is_queued(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    commits = Commits(store)
    writer = EventLogWriter(store, commits, max_batch=7)
    writer.start()
    records = [record(n) for n in range(1, 101)]
    for r in records:
        writer.submit(r)
    writer.stop()  # returns after the last queued record is committed
    assert commits.ids() == [r["id"] for r in records]
    assert writer.backlog() == 0
    store.close()
    reopened = open_store(tmp_path)
    assert [r["seq"] for r in reopened.scan()] == list(range(1, 101))


def test_callback_error_does_not_stop_the_writer(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    seen: list[int] = []

    def on_committed(batch: list[Record], _added: list[Record]) -> None:
        seen.append(len(batch))
        if len(seen) == 1:
            raise RuntimeError("publish failed")

    writer = EventLogWriter(store, on_committed, max_batch=1)
    writer.start()
    writer.submit(record(1))
    wait_for(lambda: seen, what="first callback")
    writer.submit(record(2))
    writer.stop()
    assert seen == [1, 1]
    assert [r["seq"] for r in store.scan()] == [1, 2]


def test_disk_errors_are_retried_nothing_lost_and_order_kept(tmp_path: Path) -> None:
    inner = open_store(tmp_path)
    store = FlakyStore(inner, failures=2)
    commits = Commits(inner)
    writer = EventLogWriter(store, commits, max_batch=4, retry_delay=0.01)  # type: ignore[arg-type]
    records = [record(n) for n in range(1, 11)]
    for r in records:
        writer.submit(r)
    writer.start()
    try:
        wait_for(lambda: len(commits.ids()) == 10, what="all ten committed despite the disk errors")
    finally:
        writer.stop()
    ids = [r["id"] for r in records]
    assert writer.failures == 2
    assert store.attempts == 3 + 2  # three batches, the first tried three times
    assert [batch for batch, _ in commits.calls] == [ids[0:4], ids[4:8], ids[8:10]]  # no ack before its commit
    assert commits.stored_before_callback == [True] * 3
    inner.close()
    reopened = open_store(tmp_path)
    assert [r["id"] for r in reopened.scan()] == ids  # nothing lost, nothing twice, in order


def test_real_disk_error_is_retried_until_the_disk_takes_it(tmp_path: Path) -> None:
    """A real OSError from the filesystem (the temp file cannot be created) is retried, not dropped."""
    store = open_store(tmp_path)
    store.append([record(1)])  # creates the partition of this hour
    blocker = tmp_path / "events" / ".events-2026-11-22T15.000.json.tmp"
    blocker.mkdir()
    commits = Commits(store)
    writer = EventLogWriter(store, commits, max_batch=10, retry_delay=0.01)
    writer.start()
    try:
        pending = [record(2), record(3)]
        for r in pending:
            writer.submit(r)
        wait_for(lambda: writer.failures >= 2, what="two failed commits")
        assert commits.calls == []  # nothing acked while the disk refuses
        blocker.rmdir()
        wait_for(lambda: commits.calls, what="commit after the disk recovered")
    finally:
        writer.stop()
    assert commits.calls == [([r["id"] for r in pending], [r["id"] for r in pending])]
    assert [r["seq"] for r in store.scan()] == [1, 2, 3]
