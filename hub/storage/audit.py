"""Audit log: who did what, when, from where. Append-only JSON lines, one file, mode 0600.

Records logins (ok, failed, locked), acknowledgements, resolutions, provisioning and
configuration changes. The hub and the `poskamling device` CLI both append to the same
file: each record is one `write` of one line on a file opened with O_APPEND, so records from
two processes never interleave. Nothing ever rewrites or deletes a record here; rotation is
the job of the operating system (logrotate with `copytruncate` is not needed: we reopen per
write).
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from pathlib import Path
from typing import Any, Protocol

from kamling.protocol import utc_now

MAX_FIELD = 500


def _clean(value: Any) -> Any:
    """Bound what goes into a record: attacker-chosen strings are cut, never trusted."""
    if isinstance(value, str):
        return value[:MAX_FIELD]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return str(value)[:MAX_FIELD]


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(
        self, actor: str, action: str, target: str = "", *, ok: bool = True, client: str = "", **detail: Any
    ) -> dict[str, Any]:
        entry = {
            "ts": utc_now().isoformat(),
            "actor": _clean(actor),
            "action": _clean(action),
            "target": _clean(target),
            "ok": bool(ok),
            "client": _clean(client),
            "detail": {str(k)[:50]: _clean(v) for k, v in detail.items()},
        }
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        return entry

    def read(self, limit: int = 100, action: str | None = None, actor: str | None = None) -> list[dict[str, Any]]:
        """The newest `limit` matching records, newest first. Damaged lines are skipped."""
        if not self.path.exists():
            return []
        found: deque[dict[str, Any]] = deque(maxlen=limit)
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(entry, dict):
                    continue
                if action and not str(entry.get("action", "")).startswith(action):
                    continue
                if actor and entry.get("actor") != actor:
                    continue
                found.append(entry)
        return list(reversed(found))


AUDITED_ALERT_ACTIONS = {
    "acknowledged": "alert.ack",
    "en_route": "alert.en_route",
    "resolved": "alert.resolve",
    "note": "alert.note",  # operators' actions (issue 15): hub/alerting/actions.py
    "assigned": "alert.assign",
    "reported": "alert.report",  # an incident reported by phone or in person, entered by an operator
}


class AuditRecorder(Protocol):
    """What writers of the audit log need: the file log here, or the SQL one (hub/storage/sql/audit.py)."""

    def record(
        self, actor: str, action: str, target: str = "", *, ok: bool = True, client: str = "", **detail: Any
    ) -> object: ...


class AlertAuditor:
    """An AlertService listener: records acknowledgements, en-route, resolutions, notes, assignments
    and incidents entered by operators, whatever the channel (API, dashboard, signed phone link)."""

    def __init__(self, audit: AuditRecorder) -> None:
        self.audit = audit

    def __call__(self, alert: Any) -> None:
        timeline = getattr(alert, "timeline", ())
        if not timeline:
            return
        last = timeline[-1]
        action = AUDITED_ALERT_ACTIONS.get(last.action)
        if action:
            self.audit.record(
                last.actor or "?", action, alert.id, device=alert.device, kind=str(alert.kind), detail=last.detail
            )
