"""API authentication: bearer tokens mapped to roles. Every route but health needs one."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from hub.settings import ApiTokenSettings, Role

ROLES: tuple[Role, ...] = ("viewer", "operator", "technician", "admin")


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


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
                return Principal(entry.name, entry.role)
        return None


def allowed(principal: Principal, roles: tuple[Role, ...]) -> bool:
    """Admins may do anything; others need one of `roles`."""
    return principal.role == "admin" or principal.role in roles
