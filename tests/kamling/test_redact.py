"""The one URL redaction: apprise contact URLs show only their channel; camera and broker URLs
keep host and path and lose credentials and query values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kamling.redact import redact_url

CONTACT_URLS = [
    ("tgram://123456789:AAH-bot-token/-100200300", "tgram://…", ["123456789", "AAH-bot-token", "-100200300"]),
    ("json://hook:s3cret@hooks.example.org/page", "json://…", ["hook", "s3cret", "hooks.example.org"]),
    ("mailtos://officer:mail-pass@mail.example.id?to=agus@example.id", "mailtos://…", ["mail-pass", "agus"]),
    ("ntfy://polsek-secret-topic", "ntfy://…", ["polsek-secret-topic"]),
    ("ntfys://user:pw@ntfy.example.id/duty", "ntfys://…", ["pw@", "duty"]),
    ("https://discord.com/api/webhooks/123/WEBHOOK-TOKEN", "https://…", ["WEBHOOK-TOKEN"]),
    ("json://hooks.example.org/page?token=abc123", "json://…", ["abc123"]),
]


@pytest.mark.parametrize(("url", "shown", "secrets"), CONTACT_URLS)
def test_contact_urls_show_only_the_channel(url: str, shown: str, secrets: list[str]) -> None:
    redacted = redact_url(url)
    assert redacted == shown
    assert not any(secret in redacted for secret in secrets)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:pw@10.0.0.5:554/Streaming/Channels/101", "rtsp://***@10.0.0.5:554/Streaming/Channels/101"),
        ("rtsp://cam.local/live?token=abc&channel=1", "rtsp://cam.local/live?token=***&channel=***"),
        ("mqtts://hub:broker-secret@broker.example.id:8883", "mqtts://***@broker.example.id:8883"),
        ("http://cam/snapshot.jpg?auth", "http://cam/snapshot.jpg?auth=***"),
        ("http://cam/snapshot.jpg#user=admin", "http://cam/snapshot.jpg"),
        ("rtsp://admin:p/a?s#s@w@cam/stream", "rtsp://***@cam/stream"),  # a typed password, unescaped
        ("rtsp://cam/stream", "rtsp://cam/stream"),
    ],
)
def test_locations_keep_host_and_path(url: str, shown: str) -> None:
    assert redact_url(url, keep_location=True) == shown


@pytest.mark.parametrize("keep_location", [False, True])
@pytest.mark.parametrize("text", ["", "/dev/video0", "not a url", "a secret://x", "https//missing-colon"])
def test_what_is_not_a_url_shows_nothing(text: str, keep_location: bool) -> None:
    assert redact_url(text, keep_location=keep_location) == "…"


def test_a_malformed_url_shows_only_its_scheme() -> None:
    assert redact_url("rtsp://[::1/stream", keep_location=True) == "rtsp://…"
    assert redact_url("rtsp://cam:port/stream", keep_location=True) == "rtsp://…"


@given(user=st.text(min_size=1), password=st.text(min_size=1))
def test_no_credential_survives(user: str, password: str) -> None:
    url = f"rtsp://{user}:{password}@10.0.0.5/s"
    assert redact_url(url, keep_location=True) == "rtsp://***@10.0.0.5/s"
    assert redact_url(url) == "rtsp://…"
