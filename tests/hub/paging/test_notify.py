"""The apprise notifier delivers every page, reuses its senders, and refuses unknown schemes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from hub.paging.notify import AppriseNotifier
from poskamling.httpsink import NotificationSink


def test_pages_to_the_same_officer_all_arrive_in_order() -> None:
    sink = NotificationSink()
    sink.start()
    try:
        notifier = AppriseNotifier()
        for n in range(3):
            assert notifier.send([sink.url("agus")], f"PANIK {n}", "isi")
        assert [r.body["title"] for r in sink.received] == ["PANIK 0", "PANIK 1", "PANIK 2"]
        assert len(notifier._senders) == 1
    finally:
        sink.stop()


def test_concurrent_pages_to_several_officers_are_all_delivered() -> None:
    sink = NotificationSink()
    sink.start()
    try:
        notifier = AppriseNotifier()
        jobs = [(sink.url(f"officer{n % 3}"), f"page {n}") for n in range(12)]
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda job: notifier.send([job[0]], job[1], "isi"), jobs))
        assert all(results)
        assert sorted(r.body["title"] for r in sink.received) == sorted(title for _, title in jobs)
    finally:
        sink.stop()


def test_unknown_scheme_is_refused_not_silently_dropped() -> None:
    assert AppriseNotifier().send(["nosuchscheme://x"], "t", "b") is False
