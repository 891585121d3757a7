"""Login throttling (issue 18): guessing is slowed per account and per address, and a stranger's
failures never keep an operator out of their own account. Pure, on a virtual clock."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hub.accounts.auth import LoginGuard, LoginThrottle, Principal, address_key
from hub.settings import HubSettings, LoginSettings
from tests.support import VirtualClock

RIGHT = "right-password"
OPERATOR = "10.0.0.5"  # the operator's console: logged in from here before
STRANGER = "203.0.113.66"


class Users:
    """Any user name with RIGHT is an operator; counts the (costly) password checks."""

    def __init__(self) -> None:
        self.checks = 0

    def verify(self, username: str, password: str) -> Principal | None:
        self.checks += 1
        return Principal(username, "operator") if password == RIGHT else None


class Audit:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record(
        self, actor: str, action: str, target: str = "", *, ok: bool = True, client: str = "", **detail: Any
    ) -> None:
        self.records.append({"actor": actor, "action": action, "ok": ok, "client": client, **detail})

    def actions(self, client: str | None = None) -> list[str]:
        return [r["action"] for r in self.records if client is None or r["client"] == client]


def make_guard(**settings: Any) -> tuple[LoginGuard, VirtualClock, Users, Audit]:
    clock, users, audit = VirtualClock(), Users(), Audit()
    guard = LoginGuard(
        users, LoginThrottle(LoginSettings(**settings), clock=clock), audit, secret=b"k" * 32, wall_clock=clock
    )
    return guard, clock, users, audit


def hammer(
    guard: LoginGuard, clock: VirtualClock, username: str, client: str, attempts: int, every: float = 0.1
) -> list[float]:
    """`attempts` wrong guesses, one every `every` seconds of virtual time; the Retry-After of each."""
    waits = []
    for n in range(attempts):
        waits.append(guard.login(username, f"guess-{n}", client).retry_after)
        clock.sleep(every)
    return waits


def test_a_stranger_hammering_an_account_does_not_keep_the_operator_out() -> None:
    guard, clock, users, audit = make_guard()
    assert guard.login("budi", RIGHT, OPERATOR).principal is not None  # an earlier shift: OPERATOR is known
    started = clock.now

    hammer(guard, clock, "budi", STRANGER, 500)  # 50 s of virtual time, ten guesses a second
    assert guard.throttle.account_wait("budi") > 0  # the account is being slowed...

    outcome = guard.login("budi", RIGHT, OPERATOR)  # ...and the operator still walks in, at once
    assert outcome.principal == Principal("budi", "operator") and outcome.retry_after == 0
    ok = audit.records[-1]
    assert ok["action"] == "login.ok" and ok["exempt"] == "known_address" and ok["account_wait_spared"] > 0
    assert clock.now - started == pytest.approx(50.0)  # nothing made the operator's login wait

    # The stranger's 500 attempts cost few password checks: refused attempts are not even checked.
    assert users.checks < 30


def test_a_known_browser_cookie_gets_in_from_a_new_address_and_behind_a_busy_nat() -> None:
    guard, clock, _, audit = make_guard()
    cookie = guard.login("budi", RIGHT, OPERATOR).device_cookie
    assert cookie
    nat = "198.51.100.7"  # the operator's laptop, now behind the same NAT as the stranger
    hammer(guard, clock, "budi", nat, 300)
    assert guard.throttle.address_wait(nat) > 0 and guard.throttle.account_wait("budi") > 0
    assert guard.login("budi", RIGHT, nat).retry_after > 0  # without the cookie: waits like the stranger
    outcome = guard.login("budi", RIGHT, nat, device_cookie=cookie)
    assert outcome.principal is not None and outcome.device_cookie == cookie
    assert audit.records[-1]["exempt"] == "known_browser"


def test_a_cookie_is_bound_to_its_user_and_signature_and_stops_counting_when_it_keeps_failing() -> None:
    guard, clock, _, _ = make_guard(device_free_failures=3)
    cookie = guard.login("budi", RIGHT, OPERATOR).device_cookie
    assert cookie
    assert guard.device_of(cookie, "budi") is not None
    assert guard.device_of(cookie, "sari") is None  # another user's cookie is nothing
    assert guard.device_of(cookie[:-2] + "xx", "budi") is None  # forged signature
    other = LoginGuard(Users(), LoginThrottle(clock=clock), secret=b"z" * 32, wall_clock=clock)
    assert other.device_of(cookie, "budi") is None  # another hub's key
    for n in range(3):  # a stolen cookie does not grant unlimited guesses
        guard.login("budi", f"wrong-{n}", STRANGER, device_cookie=cookie)
    assert guard.device_of(cookie, "budi") is None
    clock.sleep(180 * 86400 + 1)
    assert guard.device_of(cookie, "budi") is None  # expired (and its failures long forgotten)


def test_a_new_address_with_the_right_password_waits_seconds_not_hours() -> None:
    """Nobody is locked out: an operator on a never-seen machine waits at most the account cap."""
    guard, clock, _, _ = make_guard()
    hammer(guard, clock, "budi", STRANGER, 400)  # the stranger is address-limited by now
    wait = guard.login("budi", RIGHT, "192.0.2.10").retry_after
    assert 0 <= wait <= 30
    clock.sleep(wait)
    assert guard.login("budi", RIGHT, "192.0.2.10").principal is not None


def test_one_address_guessing_is_slowed_with_growing_waits_up_to_its_cap() -> None:
    guard, clock, _, audit = make_guard()
    waits = []
    for n in range(40):  # guessing politely: always after the published wait, across many names
        outcome = guard.login(f"user{n}", "wrong", STRANGER)
        assert outcome.retry_after == 0
        waits.append(guard.throttle.address_wait(STRANGER))
        clock.sleep(waits[-1])
    assert waits[:9] == [0.0] * 9  # ten free failures (the tenth starts the first wait)
    assert waits[9:14] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert max(waits) == 300.0 and waits[-1] == 300.0  # capped: slowed, not locked for an hour
    guard.login("one-more", "wrong", STRANGER)
    assert guard.login("newcomer", RIGHT, STRANGER).retry_after == pytest.approx(300.0)  # right password or not
    failed = [r for r in audit.records if r["action"] == "login.failed"]
    assert len(failed) == 41 and failed[-1]["address_wait"] == 300.0
    assert audit.records[-1]["action"] == "login.throttled" and audit.records[-1]["scope"] == "address"


def test_the_account_wait_grows_to_a_small_cap_and_is_forgotten_after_quiet() -> None:
    guard, clock, _, _ = make_guard()
    waits = []
    for n in range(12):
        assert guard.login("budi", "wrong", f"10.9.0.{n}").retry_after == 0  # a new address each time
        waits.append(guard.throttle.account_wait("budi"))
        clock.sleep(waits[-1])
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 30, 30, 30]
    clock.sleep(900.1)
    assert guard.throttle.account_wait("budi") == 0


def test_every_throttle_decision_is_audited_without_flooding_the_log() -> None:
    guard, clock, _, audit = make_guard()
    hammer(guard, clock, "budi", STRANGER, 200, every=0.01)  # two seconds: the wait never ends in between
    throttled = [r for r in audit.records if r["action"] == "login.throttled"]
    failed = [r for r in audit.records if r["action"] == "login.failed"]
    assert throttled and all(r["retry_after"] > 0 and r["scope"] in ("account", "address") for r in throttled)
    assert all(r["client"] == STRANGER and r["actor"] == "budi" for r in throttled + failed)
    # Every refusal is counted into the next failure record (the first of each wait also has its own)...
    clock.sleep(400)
    guard.login("budi", "wrong", STRANGER)
    counted = sum(
        r.get("account_refused", 0) + r.get("address_refused", 0)
        for r in audit.records
        if r["action"] == "login.failed"
    )
    assert counted == 200 - len(failed)  # one address, one account: each refusal is counted once
    # ...so 200 attempts make a handful of records, not 200 fsyncs.
    assert len(audit.records) < 20


def test_a_success_does_not_hand_the_stranger_fresh_free_guesses() -> None:
    guard, clock, _, _ = make_guard()
    guard.login("budi", RIGHT, OPERATOR)
    hammer(guard, clock, "budi", "10.8.0.1", 5, every=0)  # five free failures used up
    assert guard.throttle.account_wait("budi") > 0
    assert guard.login("budi", RIGHT, OPERATOR).principal is not None
    assert guard.throttle.account_wait("budi") > 0  # still slowed for everyone else


def test_known_addresses_survive_a_restart_through_the_audit_history() -> None:
    guard, clock, _, _ = make_guard()
    history = [
        {"action": "login.ok", "actor": "budi", "client": OPERATOR},
        {"action": "login.failed", "actor": "budi", "client": STRANGER},
    ]
    assert guard.learn_from_audit(history) == 1
    hammer(guard, clock, "budi", STRANGER, 100)
    assert guard.login("budi", RIGHT, OPERATOR).principal is not None
    assert guard.is_known_address("BUDI", OPERATOR) and not guard.is_known_address("budi", STRANGER)


def test_known_addresses_per_user_are_bounded() -> None:
    guard, _, _, _ = make_guard(known_addresses=3)
    for n in range(5):
        guard.login("budi", RIGHT, f"10.0.0.{n}")
    assert [guard.is_known_address("budi", f"10.0.0.{n}") for n in range(5)] == [False, False, True, True, True]


def test_ipv6_addresses_are_limited_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:203.0.113.66") == STRANGER
    guard, _clock, _, _ = make_guard(address_free_failures=3)
    for n in range(3):
        guard.login(f"u{n}", "wrong", f"2001:db8:1:2::{n + 1}")
    assert guard.throttle.address_wait("2001:db8:1:2::abcd") > 0  # a fresh address in the same /64 waits too


def test_the_old_lockout_settings_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=re.escape("login_max_failures -> login.account_free_failures")):
        HubSettings(mqtt_password="x", login_max_failures=3)
    with pytest.raises(ValueError, match="login_lockout_seconds"):
        HubSettings(mqtt_password="x", login_lockout_seconds=60)


def test_the_old_lockout_settings_are_refused_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSKAMLING_HUB_LOGIN_MAX_FAILURES", "3")
    with pytest.raises(ValueError, match="removed setting"):
        HubSettings(mqtt_password="x")
    monkeypatch.delenv("POSKAMLING_HUB_LOGIN_MAX_FAILURES")
    monkeypatch.setenv("POSKAMLING_HUB_LOGIN__ACCOUNT_MAX_DELAY", "10")
    assert HubSettings(mqtt_password="x").login.account_max_delay == 10
