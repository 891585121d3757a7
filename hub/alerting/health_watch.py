"""Health watch: turns posts' health telemetry into one warning alert per post (adapter).

The rules are pure (hub/alerting/health_rules.py). This keeps, per device, the previous report and
the warning codes that stood, so that:
  * a NEW warning code opens (or re-opens) the post's `health` alert;
  * the same warnings in the next report change nothing (no alert per minute);
  * a report without warnings resolves the alert as restored.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from hub.alerting.health_rules import details, evaluate
from hub.alerting.rules import Alert, AlertKind
from hub.settings import HealthThresholds

log = logging.getLogger(__name__)


class ConditionAlerts(Protocol):
    def raise_condition(self, device: str, kind: AlertKind, details: dict[str, Any]) -> Alert: ...

    def clear_condition(self, device: str, kind: AlertKind, detail: str) -> Alert | None: ...


class HealthWatch:
    def __init__(self, limits: HealthThresholds, alerts: ConditionAlerts) -> None:
        self.limits = limits
        self.alerts = alerts
        self._previous: dict[str, dict[str, Any]] = {}
        self._standing: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def observe(self, device: str, health: dict[str, Any]) -> None:
        """Called by ingest for every valid health report (on the ingest thread)."""
        with self._lock:
            previous = self._previous.get(device)
            self._previous[device] = health
            warnings = evaluate(health, self.limits, previous)
            codes = frozenset(w.code for w in warnings)
            before = self._standing.get(device, frozenset())
            self._standing[device] = codes
        if codes - before:
            log.warning("post %s health: %s", device, "; ".join(w.message for w in warnings))
            self.alerts.raise_condition(device, AlertKind.HEALTH, details(warnings))
        elif not codes and before:
            log.info("post %s health back to normal", device)
            self.alerts.clear_condition(device, AlertKind.HEALTH, "health back to normal")

    def standing(self, device: str) -> frozenset[str]:
        return self._standing.get(device, frozenset())
