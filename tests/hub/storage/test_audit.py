"""Audit log (append-only JSON lines) and the login throttle (pure, virtual clock)."""

from __future__ import annotations

import stat

from hub.storage.audit import AuditLog
from hub.accounts.auth import LoginGuard, LoginThrottle, Principal


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


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class Users:
    def verify(self, username: str, password: str) -> Principal | None:
        return Principal(username, "operator") if password == "right-password" else None


def test_lockout_doubles_and_success_resets_the_count() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, lockout_seconds=10, clock=clock)
    guard = LoginGuard(Users(), throttle)
    assert [guard.login("budi", "no", "1.1.1.1").locked for _ in range(3)] == [False, False, True]
    assert guard.login("budi", "right-password", "2.2.2.2").locked  # user locked from any address
    clock.now += 10.1
    assert guard.login("budi", "right-password", "1.1.1.1").principal == Principal("budi", "operator")
    for _ in range(3):
        outcome = guard.login("budi", "no", "1.1.1.1")
    assert 19 < outcome.retry_after <= 20  # second lockout: twice as long


def test_client_address_is_locked_across_user_names() -> None:
    guard = LoginGuard(Users(), LoginThrottle(max_failures=3, lockout_seconds=10, clock=Clock()))
    for name in ("a1", "a2", "a3"):
        guard.login(name, "no", "6.6.6.6")
    assert guard.login("a4", "right-password", "6.6.6.6").locked
    assert guard.login("a4", "right-password", "7.7.7.7").principal is not None
