"""The alarm channel: a panic's second copy (for the hub's alarm session) is the same event, only
panic and tamper may use it, and it has a rate-limit budget of its own."""

from __future__ import annotations

import json

from hub.ingest.ratelimit import ALARM, PANIC, DeviceRateLimiter, message_kind
from hub.settings import RateLimitSettings
from kamling.protocol import ALARM_KINDS, EventKind
from tests.hub.ingest.test_pipeline import MemoryStore, Settled, event_payload, inbound, make_ingest

EVENT, ALARM_TOPIC = "kamling/v1/pos-rw01/event", "kamling/v1/pos-rw01/alarm"


def test_both_copies_of_a_panic_are_one_event_stored_alerted_and_acked_once_each_copy_settled() -> None:
    store = MemoryStore()
    ingest, published, alerts = make_ingest(store)
    payload = event_payload()
    fast, slow = Settled(), Settled()
    ingest.handle(inbound(ALARM_TOPIC, payload, fast))  # the alarm session's copy arrives first
    ingest.handle(inbound(EVENT, payload, slow))
    event_id = json.loads(payload)["id"]
    assert list(store.records) == [event_id]
    assert alerts.events == [event_id]
    assert fast.count == 1 and slow.count == 1
    assert ingest.accepted == 1 and ingest.duplicates == 1
    assert all(topic == "kamling/v1/pos-rw01/ack" for topic, _ in published) and published


def test_only_panic_and_tamper_may_take_the_alarm_channel() -> None:
    store = MemoryStore()
    ingest, _, alerts = make_ingest(store)
    settled = Settled()
    ingest.handle(inbound(ALARM_TOPIC, event_payload(kind="motion"), settled))
    assert ingest.rejected["not_an_alarm"] == 1 and settled.count == 1
    assert store.records == {} and alerts.events == []
    ingest.handle(inbound(ALARM_TOPIC, event_payload(kind="tamper", data={"state": "open"})))
    assert len(store.records) == 1
    assert ALARM_KINDS == {EventKind.PANIC, EventKind.TAMPER}


def test_the_alarm_channel_has_a_budget_of_its_own() -> None:
    limiter = DeviceRateLimiter(RateLimitSettings(rate=1, burst=1, panic_rate=0.001, panic_burst=2))
    assert message_kind("alarm", b"{}") == ALARM
    assert [limiter.allow("pos-rw01", ALARM) for _ in range(3)] == [True, True, False]
    assert limiter.allow("pos-rw01", PANIC)  # a flood of alarm copies leaves the event channel's panics alone


def test_admit_puts_alarm_copies_in_the_alarm_bucket() -> None:
    ingest, _, _ = make_ingest(MemoryStore())
    ingest.limiter = DeviceRateLimiter(RateLimitSettings(rate=1, burst=1, panic_rate=0.001, panic_burst=1))
    payload = event_payload()
    assert ingest.admit(ALARM_TOPIC, payload)
    assert not ingest.admit(ALARM_TOPIC, payload)
    assert ingest.admit(EVENT, payload)  # the event copy still has its panic budget
    assert ingest.rejected["rate_limited"] == 1


def test_an_alarm_copy_pages_from_the_alarm_sessions_thread_once() -> None:
    """early_alarm (paho's alarm thread, issue 17) runs the alert path; the ingest thread then stores,
    acks and settles both copies as before, without a second alert."""
    store = MemoryStore()
    ingest, published, alerts = make_ingest(store)
    payload = event_payload()
    event_id = json.loads(payload)["id"]
    ingest.early_alarm(ALARM_TOPIC, payload)
    assert alerts.events == [event_id] and store.records == {}  # paged before anything is stored
    fast, slow = Settled(), Settled()
    ingest.handle(inbound(ALARM_TOPIC, payload, fast))
    ingest.handle(inbound(EVENT, payload, slow))
    ingest.early_alarm(ALARM_TOPIC, payload)  # a resend of a stored event: no alert path
    assert alerts.events == [event_id]
    assert list(store.records) == [event_id]
    assert fast.count == 1 and slow.count == 1 and ingest.accepted == 1
    assert published


def test_the_early_path_lets_through_only_what_ingest_would() -> None:
    store = MemoryStore()
    ingest, _, alerts = make_ingest(store)
    for topic, payload in (
        (ALARM_TOPIC, event_payload(kind="motion")),  # not an alarm
        (ALARM_TOPIC, b"{not json"),
        (ALARM_TOPIC, event_payload(device="pos-rw02")),  # claims another post
        ("kamling/v1/pos-zz99/alarm", event_payload(device="pos-zz99")),  # unknown post
        (EVENT, event_payload()),  # the event channel waits for the ingest thread
    ):
        ingest.early_alarm(topic, payload)
    assert alerts.events == []
    assert ingest.rejected == {}  # rejections are counted once, by the ingest thread


def test_a_failed_early_alert_path_is_tried_again_by_the_ingest_thread() -> None:
    store = MemoryStore()
    ingest, _, alerts = make_ingest(store)
    payload = event_payload()
    calls: list[str] = []

    def flaky(event):  # type: ignore[no-untyped-def]
        calls.append(event.id)
        if len(calls) == 1:
            raise RuntimeError("roster unreadable for a moment")
        alerts.events.append(event.id)

    ingest.alerts.handle_event = flaky  # type: ignore[method-assign]
    ingest.early_alarm(ALARM_TOPIC, payload)  # logged, never raised into paho's loop
    settled = Settled()
    ingest.handle(inbound(ALARM_TOPIC, payload, settled))
    assert alerts.events == [json.loads(payload)["id"]] and len(calls) == 2
    assert settled.count == 1 and len(store.records) == 1
