"""Escalation: pure rules (who is paged next, when) and a small timer adapter.

An alert that nobody acknowledges climbs the duty chain (village officer, then Kanit
Binmas, then Kapolsek), one step each `after` seconds, reminding those already paged,
and keeps reminding at the top until someone acknowledges. The state that drives it
(`escalation_level`, `next_due`) lives in the alert record, so a restarted hub re-arms
its timers from what it stored.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.alerting.rules import Alert, AlertKind
from hub.settings import EscalationRule
from kamling.protocol import utc_now

log = logging.getLogger(__name__)


DEFAULT_RULES: dict[AlertKind, EscalationRule] = {
    AlertKind.PANIC: EscalationRule(levels=3, after=60.0),
    AlertKind.TAMPER: EscalationRule(levels=2, after=300.0),
    AlertKind.OFFLINE: EscalationRule(levels=2, after=300.0),
    AlertKind.CAMERA: EscalationRule(levels=1, after=None),
    AlertKind.MOTION: EscalationRule(levels=1, after=None),
    AlertKind.HEALTH: EscalationRule(page=False, levels=1, after=None),  # dashboard only unless configured
    AlertKind.FLOOD: EscalationRule(levels=1, after=None),  # one page: a blocked post cannot raise a panic
    AlertKind.POISON: EscalationRule(levels=1, after=None),  # one page: a post whose messages keep failing
    AlertKind.INGEST_STUCK: EscalationRule(levels=1, after=None),  # one page per episode, to the duty desk
    AlertKind.BROKER_LOST: EscalationRule(levels=1, after=None),  # one page per episode, to the duty desk
    AlertKind.PEER_HUB_LOST: EscalationRule(levels=1, after=None),  # one page per episode, to the duty desk
    AlertKind.UNSTAFFED: EscalationRule(
        levels=1, after=None, remind=False
    ),  # one page, the village officer; never the chain
    AlertKind.REPORT: EscalationRule(page=False, levels=1, after=None),  # residents' reports: the operators' queue only
    AlertKind.INCIDENT: EscalationRule(levels=3, after=60.0),  # an escalated report climbs the chain like a panic
    AlertKind.MANUAL: EscalationRule(levels=3, after=60.0),  # reported by phone or in person: like an incident
}


def rule_for(rules: Mapping[Any, EscalationRule], kind: AlertKind) -> EscalationRule:
    """The configured rule for a kind (keyed by AlertKind or its value, as settings give it), else the default."""
    configured = rules.get(kind)
    if configured is None:
        configured = rules.get(kind.value)
    return configured or DEFAULT_RULES[kind]


@dataclass(frozen=True)
class Step:
    """What to do now for one alert."""

    level: int  # escalation level after this step (chain positions paged so far)
    page: tuple[int, ...]  # chain positions (1-based) to page for the first time
    remind: tuple[int, ...]  # chain positions to remind
    next_due: datetime | None  # when to look again; None: stop

    @property
    def sends(self) -> bool:
        return bool(self.page or self.remind)


def _due(rule: EscalationRule, now: datetime) -> datetime | None:
    return now + timedelta(seconds=rule.after) if rule.after else None


def first_step(rule: EscalationRule, chain_length: int, now: datetime) -> Step | None:
    """Paging when an alert opens; None when nobody is to be paged."""
    if not rule.page or chain_length == 0:
        return None
    return Step(1, (1,), (), _due(rule, now))


def next_step(alert: Alert, rule: EscalationRule, chain_length: int, now: datetime) -> Step | None:
    """The escalation step due at `now`, or None when nothing is due (acknowledged, not yet, done)."""
    if not alert.awaiting_ack or alert.next_due is None or now < alert.next_due or alert.test:
        return None
    level = alert.escalation_level
    top = min(rule.levels, chain_length)
    if level < top:
        new = level + 1
        return Step(new, (new,), tuple(range(1, new)) if rule.remind else (), _due(rule, now))
    if rule.remind and level > 0:
        return Step(level, (), tuple(range(1, level + 1)), _due(rule, now))
    return Step(level, (), (), None)


def due_alerts(alerts: Iterable[Alert], now: datetime) -> list[Alert]:
    """Alerts whose escalation step is due, earliest first."""
    due = [a for a in alerts if a.awaiting_ack and a.next_due is not None and a.next_due <= now]
    return sorted(due, key=lambda a: a.next_due)  # type: ignore[arg-type, return-value]


class DueTimer:
    """Calls `on_due()` on its own thread at (or just after) each armed moment.

    The alert service arms it with each alert's `next_due`; `on_due` then looks at every
    alert and does what is due. A moment armed in the past fires at once (restart).
    """

    def __init__(
        self, on_due: Callable[[], object], clock: Callable[[], datetime] = utc_now, max_sleep: float = 1.0
    ) -> None:
        self.on_due = on_due
        self.clock = clock
        self.max_sleep = max_sleep  # bounded sleeps keep it right across wall-clock jumps
        self._heap: list[datetime] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="escalation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def arm(self, when: datetime) -> None:
        with self._cond:
            heapq.heappush(self._heap, when)
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = self.clock()
                if not self._heap or self._heap[0] > now:
                    wait = self.max_sleep
                    if self._heap:
                        wait = min(wait, (self._heap[0] - now).total_seconds())
                    self._cond.wait(max(wait, 0.001))
                    continue
                while self._heap and self._heap[0] <= now:
                    heapq.heappop(self._heap)
            try:
                self.on_due()
            except Exception:  # a failing step must not stop later escalations
                log.exception("escalation step failed")
