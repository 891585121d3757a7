"""Mosquitto password and ACL files: formats and least privilege (pure)."""

from __future__ import annotations

import os
import stat

import pytest

from hub.provisioning.broker_files import (
    hash_password,
    new_secret,
    render_acl,
    render_password_file,
    verify_password,
    write_private,
)


def _rules(acl: str, user: str | None) -> set[str]:
    """The `topic` lines of one user's section, or the `pattern` lines when user is None."""
    rules: set[str] = set()
    current = None
    for line in acl.splitlines():
        if line.startswith("user "):
            current = line.split(" ", 1)[1]
        elif (user is not None and current == user and line.startswith("topic ")) or (
            user is None and line.startswith("pattern ")
        ):
            rules.add(line)
    return rules


def test_hub_user_gets_exactly_what_it_needs() -> None:
    acl = render_acl(["poskamling-hub"])
    assert _rules(acl, "poskamling-hub") == {
        "topic read kamling/v1/+/event",
        "topic read kamling/v1/+/status",
        "topic read kamling/v1/+/health",
        "topic read kamling/v1/+/snapshot/+",
        "topic read kamling/v1/+/reply",
        "topic read kamling/v1/+/alarm",
        "topic write kamling/v1/+/ack",
        "topic write kamling/v1/+/alert",
        "topic write kamling/v1/+/cmd",
        "topic read kamling/v1/_hub/+/status",  # the hubs' presence (issue 13): peers and its own
        "topic write kamling/v1/_hub/+/status",
    }
    assert "readwrite" not in acl and "kamling/v1/#" not in acl


def test_devices_are_confined_to_their_own_topics() -> None:
    assert _rules(render_acl(["poskamling-hub"]), None) == {
        "pattern write kamling/v1/%u/event",
        "pattern write kamling/v1/%u/status",
        "pattern write kamling/v1/%u/health",
        "pattern write kamling/v1/%u/snapshot/+",
        "pattern write kamling/v1/%u/reply",
        "pattern write kamling/v1/%u/alarm",
        "pattern read kamling/v1/%u/ack",
        "pattern read kamling/v1/%u/alert",
        "pattern read kamling/v1/%u/cmd",
        "pattern read kamling/v1/_hub/+/status",  # whether a hub is online: read only, no device writes it
    }


def test_monitor_users_read_only() -> None:
    acl = render_acl(["poskamling-hub"], ["monitor"])
    assert _rules(acl, "monitor") == {"topic read kamling/v1/#"}


@pytest.mark.parametrize("bad", ["", "a b", "a#", "a+", "a/b", "%u", "x\nuser evil"])
def test_user_names_that_would_break_the_acl_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        render_acl([bad])


def test_password_hash_round_trip_and_format() -> None:
    encoded = hash_password("s3cret-value")
    assert encoded.startswith("$7$101$")
    assert verify_password("s3cret-value", encoded)
    assert not verify_password("s3cret-valuf", encoded)
    assert hash_password("same") != hash_password("same")  # salted


def test_password_file_refuses_colons_and_newlines() -> None:
    assert render_password_file({"b": "h2", "a": "h1"}) == "a:h1\nb:h2\n"
    with pytest.raises(ValueError):
        render_password_file({"a:b": "h"})
    with pytest.raises(ValueError):
        render_password_file({"a\nb": "h"})


def test_write_private_is_owner_only(tmp_path) -> None:
    path = tmp_path / "passwd"
    write_private(path, "x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "x"


def test_write_private_makes_the_rename_durable(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16: the one atomic write (kamling.durable) fsyncs the folder after the rename."""
    synced: list[bool] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_private(tmp_path / "acl", "user hub\n")
    assert synced == [False, True]  # the file, then its folder


def test_new_secret_is_long_and_random() -> None:
    assert len(new_secret()) >= 32 and new_secret() != new_secret()
