"""Signed, expiring, alert-bound acknowledgement links: one tap on the phone, no login.

A token is `<payload>.<signature>`, both base64url: the payload names the alert, the officer
the link was sent to, the officer's language and an expiry (unix seconds); the signature is
HMAC-SHA256 over the payload with the hub's secret. A token cannot be forged without the
secret, altered to name another alert, or used after it expires.

The secret comes from the settings (`ack_link_secret`) or, if unset, from
`<data_dir>/ack_link.key`, created at first start with mode 0600.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_TOKEN_CHARS = 1024
_DOMAIN = b"poskamling-ack-v1."


class LinkError(ValueError):
    """A token that must be refused. `reason`: malformed, forged, expired or wrong_alert."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AckClaim:
    alert_id: str
    officer: str
    language: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AckLinks:
    def __init__(self, secret: bytes, ttl: float, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("ack link secret must be at least 16 bytes")
        self.secret = secret
        self.ttl = ttl
        self.clock = clock

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, _DOMAIN + payload.encode(), hashlib.sha256).digest())

    def issue(self, alert_id: str, officer: str, language: str = "id") -> str:
        expires = int(self.clock() + self.ttl)
        body = {"a": alert_id, "o": officer, "l": language, "e": expires}
        payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str, alert_id: str | None = None) -> AckClaim:
        """The claim of a valid token; LinkError otherwise. `alert_id` pins the alert it must name."""
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise LinkError("malformed")
        payload, signature = token.split(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            raise LinkError("forged")
        try:
            body = json.loads(_unb64(payload))
            claim = AckClaim(str(body["a"]), str(body["o"]), str(body.get("l", "id")), int(body["e"]))
        except (ValueError, KeyError, TypeError):
            raise LinkError("malformed") from None
        if self.clock() >= claim.expires:
            raise LinkError("expired")
        if alert_id is not None and not hmac.compare_digest(claim.alert_id, alert_id):
            raise LinkError("wrong_alert")
        return claim


def load_or_create_secret(path: Path) -> bytes:
    """The secret in `path`; a fresh random one (mode 0600) if the file does not exist."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes().strip()
        if len(secret) < 32:
            raise ValueError(f"{path}: ack link secret is too short; delete the file to create a new one") from None
        return secret
    secret = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    return secret
