"""Escalation with an injectable clock (no real waiting), and a hub restart in the middle of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.alerting.escalation import DueTimer, first_step, next_step, rule_for
from hub.alerting.rules import Alert, AlertKind, open_alert
from hub.alerting.service import AlertService
from hub.alerting.store import AlertRepository
from hub.paging.notify import RecordingNotifier
from hub.paging.pager import ThreadPager
from hub.settings import EscalationRule, HubSettings
from kamling.protocol import AlertState, Event, EventKind, new_event_id
from tests.support import wait_for

T0 = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # 22:00 WIB
RULE = EscalationRule(levels=3, after=60.0)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


# -- pure rules ----------------------------------------------------------------------------
def waiting(level: int, due: datetime, state: AlertState = AlertState.NOTIFIED) -> Alert:
    alert = open_alert("pos-a", AlertKind.PANIC, T0)
    from dataclasses import replace

    return replace(alert, state=state, escalation_level=level, next_due=due)


def test_first_step_pages_level_one_and_sets_the_deadline() -> None:
    step = first_step(RULE, 3, T0)
    assert step.level == 1 and step.page == (1,) and step.remind == () and step.next_due == T0 + timedelta(seconds=60)
    assert first_step(RULE, 0, T0) is None  # nobody to page
    assert first_step(EscalationRule(page=False), 3, T0) is None


def test_next_step_climbs_the_chain_with_reminders_then_keeps_reminding_at_the_top() -> None:
    due = T0 + timedelta(seconds=60)
    assert next_step(waiting(1, due), RULE, 3, due - timedelta(seconds=1)) is None  # not yet
    step = next_step(waiting(1, due), RULE, 3, due)
    assert (step.level, step.page, step.remind) == (2, (2,), (1,))
    step = next_step(waiting(2, due), RULE, 3, due)
    assert (step.level, step.page, step.remind) == (3, (3,), (1, 2))
    top = next_step(waiting(3, due), RULE, 3, due)
    assert (top.level, top.page, top.remind) == (3, (), (1, 2, 3)) and top.next_due == due + timedelta(seconds=60)
    # a chain shorter than the rule's levels: reminders from level 2 on
    assert next_step(waiting(2, due), RULE, 2, due).page == ()
    # the rule's levels cap the chain
    assert next_step(waiting(1, due), EscalationRule(levels=1, after=60), 3, due).page == ()


def test_no_step_once_acknowledged_or_for_page_once_rules() -> None:
    due = T0 + timedelta(seconds=60)
    assert next_step(waiting(1, due, AlertState.ACKNOWLEDGED), RULE, 3, due) is None
    assert next_step(waiting(1, due, AlertState.EN_ROUTE), RULE, 3, due) is None
    once = next_step(waiting(1, due), EscalationRule(levels=1, after=60, remind=False), 3, due)
    assert once is not None and not once.sends and once.next_due is None


def test_rules_per_kind_default_and_configured() -> None:
    assert rule_for({}, AlertKind.PANIC).after == 60 and rule_for({}, AlertKind.MOTION).after is None
    custom = {"panic": EscalationRule(levels=2, after=5)}
    assert rule_for(custom, AlertKind.PANIC).levels == 2 and rule_for(custom, AlertKind.TAMPER).levels == 2


# -- the service with a fake clock --------------------------------------------------------
POSTS = [{"device_id": "pos-a", "name": "Pos A", "village": "Sukamaju", "lat": -7.8, "lon": 110.37}]
OFFICERS = [
    {"name": "Bhabin", "urls": ["json://sink/bhabin"], "villages": ["Sukamaju"], "level": 1},
    {"name": "Kanit", "urls": ["json://sink/kanit"], "level": 2, "language": "en"},
    {"name": "Kapolsek", "urls": ["json://sink/kapolsek"], "level": 3},
]


def build(tmp_path, clock: Clock, notifier: RecordingNotifier, **extra) -> tuple[AlertService, list]:
    settings = HubSettings(
        mqtt_password="x",
        data_dir=tmp_path,
        posts=POSTS,
        officers=OFFICERS,
        fallback_urls=["json://sink/piket"],
        **extra,
    )
    posts = {p.device_id: p for p in settings.posts}
    published: list = []
    service = AlertService(
        settings,
        posts.get,
        ThreadPager(notifier),
        lambda device, update: published.append(update),
        AlertRepository(tmp_path / "alerts.json"),
        clock=clock,
        run_timer=False,
    )
    service.start()
    return service, published


def panic(test: bool = False) -> Event:
    return Event(id=new_event_id(), device="pos-a", seq=1, kind=EventKind.PANIC, ts=T0, test=test)


def paged_to(notifier: RecordingNotifier) -> list[str]:
    return [urls[0].rsplit("/", 1)[1] for urls, _title, _body in notifier.sent]


def sent(notifier: RecordingNotifier, count: int) -> list[str]:
    wait_for(lambda: len(notifier.sent) >= count, timeout=5, what=f"{count} pages")
    return paged_to(notifier)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def test_unacknowledged_panic_escalates_level_by_level_until_acknowledged(tmp_path, clock) -> None:
    notifier = RecordingNotifier()
    service, published = build(tmp_path, clock, notifier)
    try:
        alert = service.handle_event(panic())
        assert sent(notifier, 1) == ["bhabin"]
        assert "/ack/" in notifier.sent[0][2]
        clock.advance(59)
        assert service.escalate_due() == []
        clock.advance(1)
        assert [a.escalation_level for a in service.escalate_due()] == [2]
        assert sorted(sent(notifier, 3)[1:]) == ["bhabin", "kanit"]
        assert "ESCALATED" in next(b for u, _t, b in notifier.sent if u[0].endswith("/kanit"))
        clock.advance(60)
        service.escalate_due()
        assert sorted(sent(notifier, 6)[3:]) == ["bhabin", "kanit", "kapolsek"]
        clock.advance(60)
        service.escalate_due()  # the top: reminders to all three, until someone answers
        assert sorted(sent(notifier, 9)[6:]) == ["bhabin", "kanit", "kapolsek"]
        service.acknowledge(alert.id, "Kanit", "link")
        clock.advance(3600)
        assert service.escalate_due() == []
        current = service.get(alert.id)
        assert current.next_due is None and current.escalation_level == 3
        actions = [e.action for e in current.timeline]
        assert actions.count("escalated") == 2 and "reminder" in actions and actions[-1] == "acknowledged"
        assert [u.state for u in published][-1] is AlertState.ACKNOWLEDGED
        assert len(notifier.sent) == 9
    finally:
        service.stop()


def test_test_events_and_unpaged_kinds_page_nobody(tmp_path, clock) -> None:
    notifier = RecordingNotifier()
    service, _ = build(tmp_path, clock, notifier, alert_rules={"tamper": {"page": False}})
    try:
        walk = service.handle_event(panic(test=True))
        tamper = service.handle_event(
            Event(id=new_event_id(), device="pos-a", seq=2, kind=EventKind.TAMPER, ts=T0, data={"state": "open"})
        )
        clock.advance(3600)
        service.escalate_due()
        for alert_id in (walk.id, tamper.id):
            assert service.get(alert_id).timeline[-1].action == "not_paged"
        assert service.get(walk.id).test
        assert notifier.sent == []
    finally:
        service.stop()


def test_a_failed_page_still_escalates(tmp_path, clock) -> None:
    notifier = RecordingNotifier(succeed=False)
    service, _ = build(tmp_path, clock, notifier)
    try:
        alert = service.handle_event(panic())
        sent(notifier, 1)
        wait_for(lambda: service.get(alert.id).timeline[-1].action == "page_failed", timeout=5)
        clock.advance(60)
        assert service.escalate_due()[0].escalation_level == 2
    finally:
        service.stop()


def test_restart_in_the_middle_of_an_escalation_re_arms_from_stored_state(tmp_path, clock) -> None:
    notifier = RecordingNotifier()
    first, _ = build(tmp_path, clock, notifier)
    alert = first.handle_event(panic())
    sent(notifier, 1)
    clock.advance(60)
    first.escalate_due()
    sent(notifier, 3)
    first.stop()  # the hub goes down at level 2, with the next step due in 60 s

    clock.advance(600)  # it stays down for ten minutes
    notifier.sent.clear()
    second, _ = build(tmp_path, clock, notifier)
    try:
        restored = second.get(alert.id)
        assert restored.escalation_level == 2 and restored.next_due == T0 + timedelta(seconds=120)
        assert second.timer.pending() == 1  # re-armed from the stored record
        moved = second.escalate_due()
        assert [a.escalation_level for a in moved] == [3]
        assert sorted(sent(notifier, 3)) == ["bhabin", "kanit", "kapolsek"]
    finally:
        second.stop()


def test_restart_pages_an_alert_that_was_opened_but_never_paged(tmp_path, clock) -> None:
    stored = open_alert("pos-a", AlertKind.PANIC, T0)
    repository = AlertRepository(tmp_path / "alerts.json")
    repository.load()
    repository.start()
    repository.save(stored)
    repository.stop()
    notifier = RecordingNotifier()
    service, _ = build(tmp_path, clock, notifier)
    try:
        assert sent(notifier, 1) == ["bhabin"]
        assert service.get(stored.id).escalation_level == 1
    finally:
        service.stop()


def test_due_timer_fires_for_a_moment_in_the_past_and_at_its_time(clock) -> None:
    calls: list[datetime] = []
    timer = DueTimer(lambda: calls.append(clock()), clock, max_sleep=0.01)
    timer.start()
    try:
        timer.arm(T0 - timedelta(seconds=5))  # overdue after a restart: at once
        wait_for(lambda: len(calls) == 1, timeout=5, what="overdue step")
        timer.arm(T0 + timedelta(seconds=60))
        assert timer.pending() == 1
        clock.advance(60)  # virtual time: the timer reads the injected clock
        wait_for(lambda: len(calls) == 2, timeout=5, what="step at its time")
        assert timer.pending() == 0
    finally:
        timer.stop()
