"""Post- and officer-bound signed links: forged, tampered, expired and cross-purpose tokens are refused."""

from __future__ import annotations

import base64
import json

import pytest

from hub.community.links import CommunityLinks, LinkError
from tests.support import VirtualClock

SECRET = b"s" * 32


def _links(clock: VirtualClock | None = None) -> CommunityLinks:
    return CommunityLinks(SECRET, clock or VirtualClock())


def _reason(call) -> str:
    with pytest.raises(LinkError) as caught:
        call()
    return caught.value.reason


def test_a_token_names_its_post_until_it_expires() -> None:
    clock = VirtualClock()
    links = _links(clock)
    token = links.issue("sambang", "pos-rw01", 3600)
    assert links.verify(token, "sambang").subject == "pos-rw01"
    assert links.verify(token, "sambang", "pos-rw01").expires == 3600
    clock.now = 3599.9
    links.verify(token, "sambang")
    clock.now = 3600
    assert _reason(lambda: links.verify(token, "sambang")) == "expired"


def test_a_token_of_one_purpose_does_not_open_another() -> None:
    links = _links()
    lapor = links.issue("lapor", "pos-rw01", 3600)
    officer = links.issue("officer", "agus", 3600)
    assert _reason(lambda: links.verify(lapor, "sambang")) == "forged"
    assert _reason(lambda: links.verify(officer, "form")) == "forged"


def test_tampered_forged_and_malformed_tokens_are_refused() -> None:
    links = _links()
    token = links.issue("sambang", "pos-rw01", 3600)
    payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    other = base64.urlsafe_b64encode(json.dumps({**body, "s": "pos-rw02"}).encode()).rstrip(b"=").decode()
    assert _reason(lambda: links.verify(f"{other}.{signature}", "sambang")) == "forged"
    assert _reason(lambda: links.verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "sambang")) == "forged"
    assert _reason(lambda: CommunityLinks(b"t" * 32).verify(token, "sambang")) == "forged"
    for bad in ("", "abc", "a.b.c", "é.é", "x" * 2000):
        assert _reason(lambda bad=bad: links.verify(bad, "sambang")) == "malformed"
    assert _reason(lambda: links.verify(token, "sambang", "pos-rw02")) == "wrong_subject"


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        CommunityLinks(b"short")
