"""API authentication: bearer tokens mapped to roles. Every route but health needs one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from hub.settings import ApiTokenSettings, LoginSettings, Role
from hub.storage.audit import AuditRecorder
from kamling import backoff

ROLES: tuple[Role, ...] = ("viewer", "operator", "technician", "admin")


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    # Empty: every village. Else the account sees and acts only for these desa/kelurahan (a
    # village head's or officer's account): every route applies it through hub/web/scope.py.
    villages: tuple[str, ...] = ()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh API token and the digest to put in the hub settings."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


class TokenAuthenticator:
    def __init__(self, tokens: list[ApiTokenSettings]) -> None:
        self.tokens = tokens

    def authenticate(self, token: str) -> Principal | None:
        digest = token_digest(token)
        for entry in self.tokens:
            if hmac.compare_digest(entry.sha256, digest):
                return Principal(entry.name, entry.role, tuple(entry.villages))
        return None


def allowed(principal: Principal, roles: tuple[Role, ...]) -> bool:
    """Admins may do anything; others need one of `roles`."""
    return principal.role == "admin" or principal.role in roles


# --- Login throttling (issue 18: slow guessing down, never lock an operator out) ----------------
#
# The old rule (5 failures lock a user name or an address for 60 s, doubling to an hour) let a
# stranger lock a named operator out, and let one person behind a shared NAT lock out everyone
# behind it. Now:
#
# * per account: after `account_free_failures` failures, each further failure makes the next
#   attempt on that user name wait base * 2^k seconds, capped at `account_max_delay` (30 s).
#   That bounds online guessing (about 2,900 guesses a day at the cap) without a lockout.
# * per address: after `address_free_failures` failures from one address (any user name; IPv6
#   per /64, since anyone holds a whole /64), that address waits, up to `address_max_delay`.
#   Attempts refused by an account's wait count as failures of the address: hammering a
#   Retry-After is guessing too.
# * known sources: a browser with a valid signed "known browser" cookie for this user (set at a
#   successful login), or an address this user has logged in from before, does not wait for the
#   account's failures, which are a stranger's. The cookie also skips its address's wait (it
#   proves this browser, not the crowd behind the NAT); a known address does not (a stranger may
#   share it). A cookie that keeps failing stops counting as known.
#
# A refused attempt is answered without checking the password: no Argon2 work for a flood.
# Why not "any address that has not been failing is exempt": an attacker with many addresses
# (a botnet, an IPv6 /64) would then never meet the account's slowdown at all.

DEVICE_COOKIE = "kamling_device"
_DEVICE_DOMAIN = b"poskamling-known-browser-v1|"
_MAX_ENTRIES = 100_000  # bounded memory under a spray of user names or addresses


@dataclass
class _Failures:
    count: int = 0  # failures within `forget_after` of each other
    last: float = 0.0  # clock time of the last failure
    refused: int = 0  # attempts refused since the last failure (folded into the next audit record)
    refusal_audited: bool = False  # the current wait's first refusal is in the audit log


@dataclass(frozen=True)
class ThrottleDecision:
    """Whether an attempt may be checked now; if not, which wait refused it and for how long."""

    wait: float = 0.0
    scope: str = ""  # "account" or "address": whose failures make this attempt wait
    key: str = ""
    exempt: str = ""  # why the account's wait did not apply: "known_address" or "known_browser"
    audit_refusal: bool = False  # the first refusal of this wait: audit it (all are counted into the next failure)


def address_key(client: str) -> str:
    """The unit an address limit applies to: the IPv4 address, or the IPv6 /64 (one subscriber's)."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


class LoginThrottle:
    """Pure bookkeeping of failures per account and per address, with an injectable clock.

    `check` says whether an attempt may be checked now; `failure` and `success` record the result.
    The caller (LoginGuard) decides which exemptions apply (known address, known browser).
    """

    def __init__(self, settings: LoginSettings | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or LoginSettings()
        self.clock = clock
        self._accounts: dict[str, _Failures] = {}
        self._addresses: dict[str, _Failures] = {}
        self._devices: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    # -- the waits -----------------------------------------------------------------------------

    def _live(self, table: dict[str, _Failures], key: str, now: float) -> _Failures | None:
        entry = table.get(key)
        if entry is not None and now - entry.last > self.settings.forget_after:
            del table[key]  # quiet long enough: forgotten, as if it never failed
            return None
        return entry

    @staticmethod
    def _wait(entry: _Failures | None, free: int, base: float, cap: float, now: float) -> float:
        if entry is None or entry.count < free:
            return 0.0
        wait = backoff.delay(entry.count - free, base, cap) if base > 0 else 0.0
        return max(0.0, entry.last + wait - now)

    def account_wait(self, account: str) -> float:
        with self._lock:
            now = self.clock()
            s = self.settings
            return self._wait(
                self._live(self._accounts, account, now),
                s.account_free_failures,
                s.account_base_delay,
                s.account_max_delay,
                now,
            )

    def address_wait(self, address: str) -> float:
        with self._lock:
            now = self.clock()
            s = self.settings
            entry = self._live(self._addresses, address_key(address), now)
            return self._wait(entry, s.address_free_failures, s.address_base_delay, s.address_max_delay, now)

    def device_trusted(self, device: str) -> bool:
        """A known-browser cookie counts only while it has not failed too often."""
        with self._lock:
            entry = self._live(self._devices, device, self.clock())
            return entry is None or entry.count < self.settings.device_free_failures

    def check(
        self, account: str, address: str, *, known_address: bool = False, device: str | None = None
    ) -> ThrottleDecision:
        """May this attempt be checked now? A known browser (`device`, already verified and trusted)
        skips both waits; a known address skips the account's wait but not its own."""
        s = self.settings
        with self._lock:
            now = self.clock()
            addr_key = address_key(address)
            if device is not None:
                return ThrottleDecision(exempt="known_browser")
            addr = self._live(self._addresses, addr_key, now)
            wait = self._wait(addr, s.address_free_failures, s.address_base_delay, s.address_max_delay, now)
            if wait > 0 and addr is not None:
                return self._refuse(addr, "address", addr_key, wait)
            if known_address:
                return ThrottleDecision(exempt="known_address")
            acct = self._live(self._accounts, account, now)
            wait = self._wait(acct, s.account_free_failures, s.account_base_delay, s.account_max_delay, now)
            if wait > 0 and acct is not None:
                # Trying again inside a published Retry-After is guessing: it counts against the address
                # (not the account: that would let a stranger stretch the operator's wait).
                self._count(self._addresses, addr_key, now)
                return self._refuse(acct, "account", account, wait)
            return ThrottleDecision()

    @staticmethod
    def _refuse(entry: _Failures, scope: str, key: str, wait: float) -> ThrottleDecision:
        first = not entry.refusal_audited
        entry.refused += 1
        entry.refusal_audited = True
        return ThrottleDecision(wait, scope, key, audit_refusal=first)

    # -- the results -----------------------------------------------------------------------------

    def _count(self, table: dict[str, _Failures], key: str, now: float) -> _Failures:
        entry = self._live(table, key, now)
        if entry is None:
            entry = table[key] = _Failures()
            if len(table) > _MAX_ENTRIES:
                self._prune(table, now)
        entry.count += 1
        entry.last = now
        entry.refusal_audited = False  # a new wait begins: its first refusal is audited again
        return entry

    def _prune(self, table: dict[str, _Failures], now: float) -> None:
        stale = [k for k, v in table.items() if now - v.last > self.settings.forget_after]
        for key in stale:
            del table[key]
        if len(table) > _MAX_ENTRIES:  # all recent: keep the newest half
            for key in sorted(table, key=lambda k: table[k].last)[: len(table) // 2]:
                del table[key]

    def failure(self, account: str, address: str, device: str | None = None) -> dict[str, Any]:
        """Count a failed check; what it did, for the audit record (counts, the next waits, refusals folded in)."""
        s = self.settings
        with self._lock:
            now = self.clock()
            acct = self._count(self._accounts, account, now)
            addr = self._count(self._addresses, address_key(address), now)
            # Refusals since each one's last failure: the account's came from any address, the address's from this one.
            refused = {"account_refused": acct.refused, "address_refused": addr.refused}
            acct.refused = addr.refused = 0
            detail: dict[str, Any] = {
                "account_failures": acct.count,
                "address_failures": addr.count,
                "account_wait": round(
                    self._wait(acct, s.account_free_failures, s.account_base_delay, s.account_max_delay, now), 1
                ),
                "address_wait": round(
                    self._wait(addr, s.address_free_failures, s.address_base_delay, s.address_max_delay, now), 1
                ),
            }
            detail.update({k: v for k, v in refused.items() if v})
            if device is not None:
                dev = self._count(self._devices, device, now)
                detail["browser_failures"] = dev.count
                detail["browser_still_known"] = dev.count < s.device_free_failures
            return detail

    def success(self, device: str | None = None) -> None:
        """A right password: the known browser's failures are forgiven. The account's and the
        address's are not: an operator's login must not hand a stranger fresh free guesses."""
        if device is not None:
            with self._lock:
                self._devices.pop(device, None)


@dataclass(frozen=True)
class LoginOutcome:
    principal: Principal | None
    retry_after: float = 0.0  # > 0: refused for now (not checked); try again after this many seconds
    device_cookie: str | None = None  # on success: the known-browser cookie to set (None: none to set)

    @property
    def locked(self) -> bool:  # kept for callers: "refused for now", never a lockout any more
        return self.retry_after > 0

    @property
    def throttled(self) -> bool:
        return self.retry_after > 0


class PasswordVerifier(Protocol):
    def verify(self, username: str, password: str) -> Principal | None: ...


class LoginGuard:
    """The one login check for the JSON API and the dashboard form: the throttle above, known
    addresses and known-browser cookies, and an audit record of every decision.

    Audit actions: `login.ok` (with `exempt` when a known source skipped an active wait),
    `login.failed` (with the counts and the waits it started), `login.throttled` (the first
    refusal of each wait, with scope and retry_after). Every refusal is also counted into the next
    `login.failed` record of its account (`account_refused`) and address (`address_refused`), so a
    flood of refused attempts costs a few records, not one fsync each. The refusals after an
    attack's last failure are counted in the next failure on that account or address.
    """

    def __init__(
        self,
        users: PasswordVerifier,
        throttle: LoginThrottle,
        audit: AuditRecorder | None = None,
        secret: bytes | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.users = users
        self.throttle = throttle
        self.audit = audit
        # Signs known-browser cookies. The hub passes a key kept in data_dir (set_secret at start);
        # a random one means cookies last as long as this process.
        self.secret = secret or secrets.token_bytes(32)
        self.wall_clock = wall_clock
        self._known: dict[str, OrderedDict[str, None]] = {}
        self._lock = threading.Lock()

    @property
    def settings(self) -> LoginSettings:
        return self.throttle.settings

    def set_secret(self, secret: bytes) -> None:
        self.secret = secret

    # -- known addresses -----------------------------------------------------------------------

    def remember(self, username: str, client: str) -> None:
        """`client` is where `username` logged in successfully (also used to reload the audit history)."""
        limit = self.settings.known_addresses
        if not client or limit == 0:
            return
        with self._lock:
            known = self._known.setdefault(username.lower()[:64], OrderedDict())
            known[client] = None
            known.move_to_end(client)
            while len(known) > limit:
                known.popitem(last=False)

    def is_known_address(self, username: str, client: str) -> bool:
        with self._lock:
            return bool(client) and client in self._known.get(username.lower()[:64], ())

    def learn_from_audit(self, records: Iterable[dict[str, Any]]) -> int:
        """Known addresses from past `login.ok` audit records (oldest first), so a restart forgets none."""
        count = 0
        for record in records:
            if record.get("action") == "login.ok" and record.get("client"):
                self.remember(str(record.get("actor", "")), str(record["client"]))
                count += 1
        return count

    # -- known-browser cookies -----------------------------------------------------------------

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self.secret, _DEVICE_DOMAIN + payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue_device_cookie(self, username: str) -> str:
        payload = f"{username.lower()[:64]}.{int(self.wall_clock())}.{secrets.token_urlsafe(12)}"
        return f"{payload}.{self._sign(payload)}"

    def device_of(self, cookie: str | None, username: str) -> str | None:
        """The cookie's id if it is ours, for this user, not expired and still trusted; else None."""
        days = self.settings.device_cookie_days
        if not cookie or days <= 0 or len(cookie) > 300:
            return None
        payload, _, signature = cookie.rpartition(".")
        parts = payload.split(".")
        if len(parts) != 3 or not hmac.compare_digest(self._sign(payload), signature):
            return None
        name, issued, nonce = parts
        if name != username.lower()[:64] or not issued.isdigit():
            return None
        if self.wall_clock() - int(issued) > days * 86400:
            return None
        return nonce if self.throttle.device_trusted(nonce) else None

    # -- the login -------------------------------------------------------------------------------

    def login(self, username: str, password: str, client: str = "", device_cookie: str | None = None) -> LoginOutcome:
        account = username.lower()[:64]
        device = self.device_of(device_cookie, account)
        known_address = self.is_known_address(account, client)
        decision = self.throttle.check(account, client, known_address=known_address, device=device)
        if decision.wait > 0:
            if decision.audit_refusal:
                self._audit(
                    username,
                    "login.throttled",
                    False,
                    client,
                    scope=decision.scope,
                    retry_after=round(decision.wait, 1),
                    known_address=known_address,
                )
            return LoginOutcome(None, decision.wait)
        principal = self.users.verify(username, password)
        if principal is None:
            detail = self.throttle.failure(account, client, device)
            self._audit(
                username,
                "login.failed",
                False,
                client,
                **detail,
                **({"via": decision.exempt} if decision.exempt else {}),
            )
            return LoginOutcome(None)
        self.throttle.success(device)
        self.remember(principal.name, client)
        exempt: dict[str, Any] = {}
        if decision.exempt:
            # Was the known source actually spared a wait? Then say so: that is a throttle decision too.
            spared = self.throttle.account_wait(account)
            if spared > 0:
                exempt = {"exempt": decision.exempt, "account_wait_spared": round(spared, 1)}
        self._audit(principal.name, "login.ok", True, client, role=principal.role, **exempt)
        cookie = None
        if self.settings.device_cookie_days > 0:
            cookie = device_cookie if device is not None and device_cookie else self.issue_device_cookie(principal.name)
        return LoginOutcome(principal, device_cookie=cookie)

    def _audit(self, actor: str, action: str, ok: bool, client: str, **detail: Any) -> None:
        if self.audit is not None:
            self.audit.record(actor[:64], action, ok=ok, client=client, **detail)
