"""Dead letters: durable, bounded, keyed so a resend is counted and not stored twice, safe to show."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest

from hub.storage.deadletters import DeadLetterStore, encode_payload, letter_key

TOPIC = "kamling/v1/pos-rw01/event"


def add(store: DeadLetterStore, payload: bytes = b'{"x": 1}', event_id: str | None = "01EVENT", **over: object):
    fields: dict = {
        "topic": TOPIC,
        "payload": payload,
        "device": "pos-rw01",
        "event_id": event_id,
        "reason": "commit_failed",
        "error": TypeError("Object of type set is not JSON serializable"),
    }
    fields.update(over)
    return store.add(**fields)


@pytest.fixture
def store(tmp_path: Path):
    instance = DeadLetterStore(tmp_path / "deadletters.sqlite")
    instance.open()
    yield instance
    instance.close()


def test_a_letter_keeps_every_field_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "deadletters.sqlite"
    store = DeadLetterStore(path)
    store.open()
    letter = add(store, b'{"id": "01EVENT", "kind": "panic"}')
    assert letter is not None and letter.durable
    store.close()

    again = DeadLetterStore(path)
    again.open()
    try:
        items, total = again.page()
        assert total == 1 and again.count() == 1
        kept = items[0]
        assert kept.device == "pos-rw01" and kept.topic == TOPIC and kept.event_id == "01EVENT"
        assert kept.reason == "commit_failed" and kept.error_class == "builtins.TypeError"
        assert "not JSON serializable" in kept.error
        assert kept.payload == '{"id": "01EVENT", "kind": "panic"}' and kept.payload_encoding == "utf-8"
        assert kept.payload_size == len(b'{"id": "01EVENT", "kind": "panic"}') and not kept.payload_truncated
        assert kept.at.endswith("+00:00")
        assert again.known(letter_key(TOPIC, b"", "01EVENT"))  # resends after a restart are still recognised
    finally:
        again.close()


def test_a_resend_is_counted_not_stored_and_the_count_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "deadletters.sqlite"
    store = DeadLetterStore(path)
    store.open()
    assert add(store) is not None
    assert add(store) is None  # the same event id again
    store.resent(letter_key(TOPIC, b"", "01EVENT"))
    assert store.count() == 1 and store.resends() == 2
    assert store.page()[0][0].resends == 2
    store.close()
    again = DeadLetterStore(path)
    again.open()
    try:
        assert again.resends() == 2 and again.page()[0][0].resends == 2
    finally:
        again.close()


def test_without_an_event_id_the_payload_names_the_letter(store: DeadLetterStore) -> None:
    assert add(store, b"one", event_id=None) is not None
    assert add(store, b"one", event_id=None) is None
    assert add(store, b"two", event_id=None) is not None
    assert store.count() == 2


def test_newest_first_and_paginated(store: DeadLetterStore) -> None:
    for n in range(7):
        add(store, f"p{n}".encode(), event_id=f"E{n}")
    first, total = store.page(limit=3)
    second, _ = store.page(limit=3, offset=3)
    last, _ = store.page(limit=3, offset=6)
    assert total == 7
    assert [d.event_id for d in first + second + last] == [f"E{n}" for n in range(6, -1, -1)]
    assert store.page(limit=3, offset=50) == ([], 7)


def test_bounded_the_oldest_go_first_and_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "deadletters.sqlite"
    store = DeadLetterStore(path, max_rows=10)
    store.open()
    for n in range(15):
        add(store, f"p{n}".encode(), event_id=f"E{n:02d}")
    assert store.count() == 10 and store.evicted == 5
    items, _ = store.page(limit=100)
    assert [d.event_id for d in items] == [f"E{n:02d}" for n in range(14, 4, -1)]
    assert not store.known(letter_key(TOPIC, b"", "E00"))
    store.close()
    again = DeadLetterStore(path, max_rows=10)
    again.open()
    try:
        assert again.count() == 10 and again.evicted == 5
    finally:
        again.close()


def test_payloads_are_bounded_and_binary_is_base64(store: DeadLetterStore) -> None:
    store.max_payload = 8
    big = add(store, b"0123456789abcdef", event_id="BIG")
    assert big is not None and big.payload == "01234567" and big.payload_truncated and big.payload_size == 16
    binary = add(store, b"\xff\xd8\xff\xe0jpeg", event_id="BIN")
    assert binary is not None and binary.payload_encoding == "base64"
    assert base64.b64decode(binary.payload) == b"\xff\xd8\xff\xe0jpeg"
    nul = add(store, b"a\x00b", event_id="NUL")
    assert nul is not None and nul.payload_encoding == "base64"


def test_a_cut_through_a_multibyte_character_stays_text() -> None:
    text, encoding, truncated = encode_payload("aé€".encode(), 4)  # a(1) é(2) €(3): the cut splits the euro sign
    assert (text, encoding, truncated) == ("aé", "utf-8", True)


def test_hostile_text_is_kept_verbatim(store: DeadLetterStore) -> None:
    hostile = '<script>alert(1)</script>\u202e"; DROP TABLE dead_letters; --'
    letter = add(store, hostile.encode(), event_id=None, reason=hostile, error=ValueError(hostile * 10))
    assert letter is not None
    kept = store.page()[0][0]
    assert kept.payload == hostile and kept.reason.startswith("<script>") and len(kept.error) <= 500
    assert store.count() == 1  # the table is still there


def test_a_disk_that_refuses_keeps_the_letter_in_memory(
    store: DeadLetterStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_letter: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_insert", refuse)
    letter = add(store)
    assert letter is not None and not letter.durable
    assert store.write_failures == 1 and store.count() == 1
    assert store.page()[0][0].event_id == "01EVENT"
    assert add(store) is None  # a resend is recognised in memory too
    assert store.resends() == 1
