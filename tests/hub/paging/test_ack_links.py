"""Acknowledgement links: valid ones work once per alert; forged, expired and cross-alert ones are refused."""

from __future__ import annotations

import os
import stat

import pytest

from hub.paging.ack_links import AckLinks, LinkError, load_or_create_secret

SECRET = b"s" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_valid_link_names_its_alert_and_officer() -> None:
    links = AckLinks(SECRET, ttl=3600, clock=Clock())
    claim = links.verify(links.issue("01ALERT", "Bripka Agus", "en"), alert_id="01ALERT")
    assert (claim.alert_id, claim.officer, claim.language) == ("01ALERT", "Bripka Agus", "en")


def test_an_expired_link_is_refused() -> None:
    clock = Clock()
    links = AckLinks(SECRET, ttl=3600, clock=clock)
    token = links.issue("01ALERT", "Agus")
    clock.now += 3599
    links.verify(token)
    clock.now += 1
    with pytest.raises(LinkError) as error:
        links.verify(token)
    assert error.value.reason == "expired"


def test_another_alerts_link_is_refused() -> None:
    links = AckLinks(SECRET, ttl=3600, clock=Clock())
    with pytest.raises(LinkError) as error:
        links.verify(links.issue("01OTHER", "Agus"), alert_id="01ALERT")
    assert error.value.reason == "wrong_alert"


@pytest.mark.parametrize("mutate", ["payload", "signature", "other_secret", "swap_payload"])
def test_forged_links_are_refused(mutate: str) -> None:
    clock = Clock()
    links = AckLinks(SECRET, ttl=3600, clock=clock)
    token = links.issue("01ALERT", "Agus")
    payload, signature = token.split(".")
    if mutate == "payload":
        # extend the expiry by editing the payload: the signature no longer matches
        import base64
        import json

        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        body["e"] += 10**6
        forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode() + "." + signature
    elif mutate == "signature":
        forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    elif mutate == "other_secret":
        forged = AckLinks(b"x" * 32, ttl=3600, clock=clock).issue("01ALERT", "Agus")
    else:
        forged = links.issue("01OTHER", "Agus").split(".")[0] + "." + signature  # another alert's payload
    with pytest.raises(LinkError) as error:
        links.verify(forged)
    assert error.value.reason == "forged"


@pytest.mark.parametrize("token", ["", "nodot", "a.b.c", "x" * 2000 + ".y", "!!!.???"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(LinkError):
        AckLinks(SECRET, ttl=3600).verify(token)


def test_secret_is_created_once_with_mode_0600_and_reused(tmp_path) -> None:
    path = tmp_path / "ack_link.key"
    first = load_or_create_secret(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(first) >= 32
    assert load_or_create_secret(path) == first
    path.write_bytes(b"short")
    with pytest.raises(ValueError):
        load_or_create_secret(path)
    with pytest.raises(ValueError):
        AckLinks(b"short", ttl=1)
