"""Pagers: the in-process thread pager, the child-process pager (real worker, real HTTP sink), and
what happens when the worker dies, talks nonsense, or the hub stops with pages in hand."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from pathlib import Path

import pytest

from hub.paging.notify import RecordingNotifier
from hub.paging.pager import MAX_ATTEMPTS, MAX_QUICK_DEATHS, Page, ProcessPager, ThreadPager
from hub.paging.worker import PageWorker
from poskamling.httpsink import NotificationSink
from tests.support import wait_for


class Results:
    """Collects done(ok, error) calls from any thread."""

    def __init__(self) -> None:
        self.items: list[tuple[bool, str | None]] = []
        self._lock = threading.Lock()

    def __call__(self, ok: bool, error: str | None) -> None:
        with self._lock:
            self.items.append((ok, error))


def send_one(pager: ProcessPager, page: Page) -> list[tuple[bool, str | None]]:
    """Start the pager, send one page, wait for its result, stop the pager; the results."""
    pager.start()
    results = Results()
    try:
        pager.submit(page, results)
        wait_for(lambda: results.items, timeout=30)
    finally:
        pager.stop()
    return results.items


@pytest.fixture
def sink():  # type: ignore[no-untyped-def]
    server = NotificationSink()
    server.start()
    yield server
    server.stop()


def test_thread_pager_reports_delivery_refusal_and_errors() -> None:
    class Exploding:
        def send(self, urls: list[str], title: str, body: str) -> bool:
            raise RuntimeError("gateway exploded")

    ok, refused, broken = Results(), Results(), Results()
    pagers = [ThreadPager(RecordingNotifier()), ThreadPager(RecordingNotifier(succeed=False)), ThreadPager(Exploding())]
    for pager in pagers:
        pager.start()
    page = Page(("json://example.invalid/o",), "PANIK", "Pos A")
    pagers[0].submit(page, ok)
    pagers[1].submit(page, refused)
    pagers[2].submit(page, broken)
    for pager in pagers:
        pager.stop()  # finishes the pages in hand
    assert ok.items == [(True, None)]
    assert refused.items == [(False, "notifier refused")]
    assert broken.items == [(False, "gateway exploded")]
    assert pagers[0].notifier.sent == [(["json://example.invalid/o"], "PANIK", "Pos A")]  # type: ignore[attr-defined]


def test_process_pager_delivers_through_apprise_in_a_child_process(sink: NotificationSink) -> None:
    pager = ProcessPager()
    pager.start()
    results = Results()
    try:
        for n in range(3):
            pager.submit(Page((sink.url(f"officer{n}"),), f"PANIK {n}", "Pos A, desa B"), results)
        wait_for(lambda: len(results.items) == 3, timeout=30)
    finally:
        pager.stop()
    assert results.items == [(True, None)] * 3
    assert sorted(item.body["title"] for item in sink.received) == ["PANIK 0", "PANIK 1", "PANIK 2"]
    assert pager.pending() == 0


def test_process_pager_reports_an_unreachable_gateway_as_failed() -> None:
    pager = ProcessPager()
    pager.start()
    results = Results()
    try:
        pager.submit(Page(("json://127.0.0.1:9/nobody",), "PANIK", "Pos A"), results)  # port 9: refused
        pager.submit(Page(("notascheme://x",), "PANIK", "Pos A"), results)
        wait_for(lambda: len(results.items) == 2, timeout=30)
    finally:
        pager.stop()
    assert [ok for ok, _ in results.items] == [False, False]
    assert all(error for _, error in results.items)


def flaky_worker(marker: Path, deaths: int) -> list[str]:
    """A worker command that dies on its first page `deaths` times, then runs the real worker."""
    script = (
        "import pathlib, sys\n"
        f"marker = pathlib.Path({str(marker)!r})\n"
        "count = int(marker.read_text()) if marker.exists() else 0\n"
        f"if count < {deaths}:\n"
        "    sys.stdin.buffer.readline()\n"
        "    marker.write_text(str(count + 1))\n"
        "    sys.exit(3)\n"
        "from hub.paging.worker import main\n"
        "main([])\n"
    )
    return [sys.executable, "-c", script]


def test_a_worker_that_dies_is_restarted_and_the_page_sent_again(sink: NotificationSink, tmp_path: Path) -> None:
    pager = ProcessPager(command=flaky_worker(tmp_path / "deaths", deaths=1))
    assert send_one(pager, Page((sink.url("officer"),), "PANIK", "Pos A")) == [(True, None)]
    assert pager.restarts == 1
    assert [item.body["title"] for item in sink.received] == ["PANIK"]


def test_a_page_that_keeps_killing_the_worker_fails_after_the_last_attempt(tmp_path: Path) -> None:
    pager = ProcessPager(command=flaky_worker(tmp_path / "deaths", deaths=100))
    pager.start()
    results = Results()
    try:
        pager.submit(Page(("json://127.0.0.1:9/x",), "PANIK", "Pos A"), results)
        wait_for(lambda: results.items, timeout=30)
        assert results.items == [(False, f"pager worker died {MAX_ATTEMPTS} times while sending")]
        # the pager keeps a worker running for the next page
        wait_for(lambda: pager.restarts == MAX_ATTEMPTS, timeout=10)
    finally:
        pager.stop()


def test_nonsense_from_the_worker_is_ignored(sink: NotificationSink, caplog: pytest.LogCaptureFixture) -> None:
    script = "import sys\nprint('hello, not json', flush=True)\nfrom hub.paging.worker import main\nmain([])\n"
    pager = ProcessPager(command=[sys.executable, "-c", script])
    assert send_one(pager, Page((sink.url("officer"),), "PANIK", "Pos A")) == [(True, None)]
    assert "not a result" in caplog.text


def test_stop_finishes_the_pages_in_hand_and_refuses_new_ones(sink: NotificationSink) -> None:
    pager = ProcessPager()
    pager.start()
    results = Results()
    for n in range(5):
        pager.submit(Page((sink.url(f"o{n}"),), "PANIK", "Pos A"), results)
    pager.stop()
    assert results.items == [(True, None)] * 5
    late = Results()
    pager.submit(Page((sink.url("late"),), "PANIK", "Pos A"), late)
    assert late.items == [(False, "pager is stopped")]


def test_page_worker_answers_every_page_and_skips_malformed_lines() -> None:
    lines = [
        json.dumps({"id": 1, "urls": ["json://a/o"], "title": "T1", "body": "B1"}),
        "{not json",
        json.dumps({"id": 2, "title": "no urls"}),
        json.dumps({"id": 3, "urls": ["json://b/o"], "title": "T3", "body": "B3"}),
    ]
    results = io.BytesIO()
    notifier = RecordingNotifier()
    PageWorker(notifier, io.BytesIO(("\n".join(lines) + "\n").encode()), results, workers=2).run()
    answered = sorted((json.loads(line) for line in results.getvalue().splitlines()), key=lambda r: r["id"])
    assert answered == [{"id": 1, "ok": True, "error": None}, {"id": 3, "ok": True, "error": None}]
    assert sorted(title for _, title, _ in notifier.sent) == ["T1", "T3"]


def test_a_worker_that_stops_reading_never_blocks_the_alert_path() -> None:
    stuck = [sys.executable, "-c", "import time\ntime.sleep(120)"]  # alive, never reads a page
    # answer_seconds: under load the last pages of the burst can fit a restarted worker's pipe, so only
    # the answer deadline finds that worker (fresh-clone CI: 200 pages never all answered in 60 s).
    pager = ProcessPager(command=stuck, stop_seconds=1, answer_seconds=3)
    pager.start()
    results = Results()
    page = Page(("json://127.0.0.1:9/x",), "PANIK", "x" * 2000)
    submitted = threading.Event()

    def submit_many() -> None:
        for _ in range(200):  # about 400 kB: far more than a pipe holds
            pager.submit(page, results)
        submitted.set()

    threading.Thread(target=submit_many, daemon=True).start()
    try:
        assert submitted.wait(30), "submit() blocked on a worker that does not read"
        wait_for(lambda: pager.restarts >= 1, timeout=30)
        wait_for(lambda: len(results.items) == 200, timeout=60)  # every page answered: failed, not lost in silence
        assert {ok for ok, _ in results.items} == {False}
    finally:
        pager.stop()


def test_a_worker_that_reads_pages_but_never_answers_is_killed_and_its_pages_answered() -> None:
    hung = [sys.executable, "-c", "import sys, time\nfor line in sys.stdin:\n    pass\ntime.sleep(120)"]
    pager = ProcessPager(command=hung, stop_seconds=1, answer_seconds=1)
    pager.start()
    results = Results()
    try:
        for _ in range(3):  # a few pages: the pipe never fills, only the answer deadline can tell
            pager.submit(Page(("json://127.0.0.1:9/x",), "PANIK", "Pos A"), results)
        wait_for(lambda: len(results.items) == 3, timeout=30, what="every page answered")
        assert {ok for ok, _ in results.items} == {False}  # failed after MAX_ATTEMPTS workers: said, not lost
        assert pager.hung >= 2 and pager.restarts >= 2
    finally:
        pager.stop()


def test_a_worker_that_cannot_run_hands_paging_back_to_the_hub() -> None:
    fallback = RecordingNotifier()
    broken = [sys.executable, "-c", "import sys; sys.exit(7)"]  # e.g. a broken install of the worker
    pager = ProcessPager(command=broken, fallback=ThreadPager(fallback))
    pager.start()
    results = Results()
    try:
        wait_for(lambda: pager.respawn_in is not None, timeout=30, what="worker given up for now")
        assert pager.restarts == MAX_QUICK_DEATHS  # no restart storm: it waits before trying again
        pager.submit(Page(("json://example.invalid/o",), "PANIK", "Pos A"), results)
        wait_for(lambda: results.items, timeout=10)
    finally:
        pager.stop()
    assert results.items == [(True, None)]
    assert fallback.sent == [(["json://example.invalid/o"], "PANIK", "Pos A")]


def test_a_worker_that_cannot_be_started_at_all_also_falls_back() -> None:
    fallback = RecordingNotifier()
    pager = ProcessPager(command=["/nonexistent/python"], fallback=ThreadPager(fallback))
    assert send_one(pager, Page(("json://example.invalid/o",), "PANIK", "Pos A")) == [(True, None)]
    assert pager.respawn_in is not None
    assert len(fallback.sent) == 1


def test_paging_returns_to_the_worker_once_it_can_run_again(sink: NotificationSink, tmp_path: Path) -> None:
    marker = tmp_path / "starts"
    script = (
        "import pathlib, sys\n"
        f"marker = pathlib.Path({str(marker)!r})\n"
        "count = int(marker.read_text()) if marker.exists() else 0\n"
        "marker.write_text(str(count + 1))\n"
        f"if count < {MAX_QUICK_DEATHS}:\n"
        "    sys.exit(5)\n"
        "from hub.paging.worker import main\n"
        "main([])\n"
    )
    fallback = RecordingNotifier()
    pager = ProcessPager(command=[sys.executable, "-c", script], fallback=ThreadPager(fallback), first_pause=0.2)
    pager.start()
    results = Results()
    try:
        wait_for(lambda: pager.respawn_in is not None, timeout=30, what="worker given up for now")
        wait_for(
            lambda: (
                pager.respawn_in is None and pager.pending() == 0 and marker.read_text() == str(MAX_QUICK_DEATHS + 1)
            ),
            timeout=30,
            what="worker tried again",
        )
        pager.submit(Page((sink.url("officer"),), "PANIK", "Pos A"), results)
        wait_for(lambda: results.items, timeout=30)
    finally:
        pager.stop()
    assert results.items == [(True, None)]
    assert [item.body["title"] for item in sink.received] == ["PANIK"]  # through the worker's apprise
    assert fallback.sent == []


def test_page_worker_drains_the_pipe_while_every_thread_is_sending() -> None:
    """Busy threads never stop the reading: later pages queue (the hub kills a worker whose pipe fills)."""
    release = threading.Event()
    sent: list[str] = []

    class Stuck:
        def send(self, urls: list[str], title: str, body: str, attachment: str | None = None) -> bool:
            if title == "T1":
                release.wait(30)  # a gateway that takes its time
            sent.append(title)
            return True

    read_end, write_end = os.pipe()
    results = io.BytesIO()
    worker = PageWorker(Stuck(), os.fdopen(read_end, "rb"), results, workers=1)
    runner = threading.Thread(target=worker.run, daemon=True)
    runner.start()
    with os.fdopen(write_end, "wb", buffering=0) as pages:
        for n in range(1, 6):
            pages.write(json.dumps({"id": n, "urls": ["json://a/o"], "title": f"T{n}", "body": "B"}).encode() + b"\n")
        wait_for(lambda: len(worker._queued) == 4, what="pages 2-5 read and queued behind the busy thread")
        release.set()
        wait_for(lambda: len(sent) == 5, what="every page sent")
    runner.join(30)
    assert not runner.is_alive()
    assert sent == ["T1", "T2", "T3", "T4", "T5"]
    assert sorted(json.loads(line)["id"] for line in results.getvalue().splitlines()) == [1, 2, 3, 4, 5]
