"""The picture at the press travels with the page (issue 15): a bounded wait, then apprise attaches it."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import cv2
import numpy as np

from hub.paging.notify import RecordingNotifier
from hub.paging.pager import Page, ProcessPager, ThreadPager
from hub.paging.picture_wait import PictureWait
from poskamling.httpsink import NotificationSink
from tests.hub.paging.test_pager import Results
from tests.support import wait_for

PAGE = Page(("json://example.invalid/o",), "PANIK", "Pos A")


def picture(tmp_path: Path) -> Path:
    frame = np.full((120, 160, 3), 90, np.uint8)
    cv2.putText(frame, "0 s", (20, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
    ok, data = cv2.imencode(".jpg", frame)
    assert ok
    path = tmp_path / "01JD2X3Y4Z5A6B7C8D9E0F1G2H.jpg"
    path.write_bytes(data.tobytes())
    return path


class Slot:
    """A picture lookup the test fills in: None until `put`."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> str | None:
        with self._lock:
            self.calls += 1
            return self.path

    def put(self, path: Path) -> None:
        with self._lock:
            self.path = str(path)


def started(wait_s: float) -> tuple[PictureWait, RecordingNotifier, ThreadPager]:
    notifier = RecordingNotifier()
    pager = ThreadPager(notifier)
    pager.start()
    waiter = PictureWait(pager, wait_s)
    waiter.start()
    return waiter, notifier, pager


def test_a_page_waits_for_its_picture_and_carries_it(tmp_path: Path) -> None:
    waiter, notifier, pager = started(wait_s=5.0)
    slot, results = Slot(), Results()
    try:
        waiter.submit(PAGE, results, slot)
        assert waiter.pending() == 1 and notifier.sent == []  # held: no picture yet
        wait_for(lambda: slot.calls >= 3, what="the lookup asked again while waiting")
        slot.put(picture(tmp_path))
        wait_for(lambda: results.items, what="the page handed over once the picture is there")
    finally:
        waiter.stop()
        pager.stop()
    assert results.items == [(True, None)]
    assert notifier.attachments == [str(tmp_path / "01JD2X3Y4Z5A6B7C8D9E0F1G2H.jpg")]
    assert (waiter.with_picture, waiter.without_picture) == (1, 0)


def test_without_its_picture_the_page_goes_when_the_wait_is_over() -> None:
    waiter, notifier, pager = started(wait_s=0.3)
    slot, results = Slot(), Results()
    try:
        waiter.submit(PAGE, results, slot)
        wait_for(lambda: results.items, what="the page handed over at the end of the wait")
    finally:
        waiter.stop()
        pager.stop()
    assert notifier.attachments == [None] and (waiter.with_picture, waiter.without_picture) == (0, 1)
    assert slot.calls >= 2  # looked once at submit, again while waiting


def test_a_picture_already_there_or_no_wait_sends_at_once(tmp_path: Path) -> None:
    path = picture(tmp_path)
    waiter, notifier, pager = started(wait_s=0.0)
    ready, results = Slot(), Results()
    ready.put(path)
    try:
        waiter.submit(PAGE, results, Slot())  # wait_s 0: never held
        assert waiter.pending() == 0
        waiter.wait_s = 5.0
        waiter.submit(PAGE, results, ready)  # the picture is there: not held either
        assert waiter.pending() == 0
    finally:
        waiter.stop()
        pager.stop()
    assert sorted(notifier.attachments, key=str) == sorted([None, str(path)], key=str)


def test_a_failing_lookup_and_a_stop_never_lose_a_page() -> None:
    waiter, notifier, pager = started(wait_s=5.0)
    results = Results()

    def broken() -> str | None:
        raise OSError("disk gone")

    waiter.submit(PAGE, results, broken)
    waiter.submit(PAGE, results, Slot())
    assert waiter.pending() == 2
    waiter.stop()  # hands both over now, without pictures
    pager.stop()
    assert results.items == [(True, None)] * 2 and notifier.attachments == [None, None]


def test_apprise_in_the_pager_process_sends_the_picture_as_an_attachment(
    sink: NotificationSink, tmp_path: Path
) -> None:
    path = picture(tmp_path)
    pager = ProcessPager()
    pager.start()
    results = Results()
    try:
        pager.submit(Page((sink.url("officer"),), "PANIK", "Pos A", attachment=str(path)), results)
        pager.submit(Page((sink.url("plain"),), "PANIK", "Pos A"), results)
        wait_for(lambda: len(results.items) == 2, timeout=30)
    finally:
        pager.stop()
    assert results.items == [(True, None)] * 2
    with_picture = next(item for item in sink.received if item.path == "/officer")
    (attached,) = with_picture.body["attachments"]
    assert attached["mimetype"] == "image/jpeg"
    assert base64.b64decode(attached["base64"]) == path.read_bytes()
    plain = next(item for item in sink.received if item.path == "/plain")
    assert not plain.body.get("attachments")
