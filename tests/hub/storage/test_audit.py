"""Audit log (append-only JSON lines)."""

from __future__ import annotations

import stat

from hub.storage.audit import AuditLog


def test_audit_appends_filters_and_survives_damage(tmp_path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("budi", "login.ok", client="10.0.0.5")
    log.record("sari", "alert.ack", "A1", device="pos-rw01")
    with (tmp_path / "audit.jsonl").open("a") as f:
        f.write("{not json\n")
    log.record("x" * 5000, "login.failed", ok=False)
    assert stat.S_IMODE((tmp_path / "audit.jsonl").stat().st_mode) == 0o600
    entries = log.read()
    assert [e["action"] for e in entries] == ["login.failed", "alert.ack", "login.ok"]
    assert len(entries[0]["actor"]) == 500 and entries[0]["ok"] is False
    assert [e["target"] for e in log.read(action="alert.")] == ["A1"]
    assert [e["actor"] for e in log.read(actor="budi")] == ["budi"]
    assert len(log.read(limit=1)) == 1


# The login throttle's tests (and its audit records) live in tests/hub/accounts/test_login_guard.py:
# issue 18 replaced the lockout these tests pinned with a slowdown that a stranger cannot turn against an operator.
