"""Signed, expiring links for the poster and the officers: the approach of hub/paging/ack_links.py.

A token is `<payload>.<signature>`, both base64url; the payload names a purpose, a subject and
an expiry (unix seconds); the signature is HMAC-SHA256 over a domain tag, the purpose and the
payload with the hub's secret (`<data_dir>/poster_link.key`, 0600, made by
`load_or_create_secret`). Purposes keep tokens apart: a resident's report token cannot open the
officers' visit form, a post's token cannot stand for an officer, and so on.

* `sambang`: subject is a post id; printed on the poster (long-lived: a poster stays on a wall).
* `lapor`: subject is a post id; the residents' QR on the same poster.
* `officer`: subject is an officer id; the officer's personal link (`poskamling officers link`).
* `form`: subject is `<officer>|<post>`; a short-lived form token that binds a visit's POST to
  the page the officer was shown (a cross-site page cannot know it).

Deleting the key file (then restarting the hub) revokes every poster and personal link at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from hub.paging.ack_links import MAX_TOKEN_CHARS, LinkError

Purpose = Literal["sambang", "lapor", "officer", "form"]
PURPOSES: frozenset[str] = frozenset({"sambang", "lapor", "officer", "form"})
_DOMAIN = b"poskamling-community-v1."

POSTER_DAYS = 730.0
"""Default life of a printed poster's links: two years, then a new poster (410 with a clear page)."""
OFFICER_DAYS = 180.0
"""Default life of an officer's personal link."""
FORM_SECONDS = 3600.0
"""How long a visit form stays valid after the page was opened."""
KEY_FILE = "poster_link.key"

__all__ = ["KEY_FILE", "OFFICER_DAYS", "POSTER_DAYS", "Claim", "CommunityLinks", "LinkError"]


@dataclass(frozen=True)
class Claim:
    purpose: str
    subject: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CommunityLinks:
    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("poster link secret must be at least 16 bytes")
        self.secret = secret
        self.clock = clock

    def _sign(self, purpose: str, payload: str) -> str:
        message = _DOMAIN + purpose.encode() + b"." + payload.encode()
        return _b64(hmac.new(self.secret, message, hashlib.sha256).digest())

    def issue(self, purpose: Purpose, subject: str, ttl_seconds: float) -> str:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown link purpose {purpose!r}")
        body = {"p": purpose, "s": subject, "e": int(self.clock() + ttl_seconds)}
        payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{payload}.{self._sign(purpose, payload)}"

    def verify(self, token: str, purpose: Purpose, subject: str | None = None) -> Claim:
        """The claim of a valid token of `purpose`; LinkError(malformed|forged|expired|wrong_subject) otherwise."""
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1 or not token.isascii():
            raise LinkError("malformed")
        payload, signature = token.split(".")
        if not hmac.compare_digest(self._sign(purpose, payload), signature):
            raise LinkError("forged")  # also a genuine token of another purpose: its signature differs
        try:
            body = json.loads(_unb64(payload))
            claim = Claim(str(body["p"]), str(body["s"]), int(body["e"]))
        except (ValueError, KeyError, TypeError):
            raise LinkError("malformed") from None
        if claim.purpose != purpose:
            raise LinkError("forged")
        if self.clock() >= claim.expires:
            raise LinkError("expired")
        if subject is not None and not hmac.compare_digest(claim.subject.encode(), subject.encode()):
            raise LinkError("wrong_subject")
        return claim
