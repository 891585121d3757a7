"""hub.storage.files: a document file is whole, missing (fresh), or damage that is set aside and reported."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hub.storage.files import AtomicJSONStorage, DamagedFile, open_checked, open_tinydb, read_document, set_aside

DAMAGE = [
    pytest.param(b"", "zero-length", id="zero-length"),
    pytest.param(b" \n", "blank", id="blank"),
    pytest.param(b'{"_default": {"1": {"a": 1}', "truncated", id="truncated"),
    pytest.param(b"\xff\xfe garbage", "truncated or not JSON", id="garbage"),
    pytest.param(b"[1, 2]", "not a TinyDB document", id="not-an-object"),
    pytest.param(b'{"_default": 7}', "not a TinyDB document", id="table-not-an-object"),
    pytest.param(b'{"_default": {"1": 7}}', "not a TinyDB document", id="document-not-an-object"),
]


def test_a_missing_file_is_a_fresh_store(tmp_path: Path) -> None:
    assert read_document(tmp_path / "users.json") is None
    damaged: list[str] = []
    db = open_checked(tmp_path / "users.json", damaged, "users")
    assert db.table("users").all() == [] and damaged == []
    assert not (tmp_path / "users.json").exists()  # nothing written until something is stored


@pytest.mark.parametrize(("content", "problem"), DAMAGE)
def test_damage_is_raised_never_read_as_empty(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "devices.json"
    path.write_bytes(content)
    with pytest.raises(DamagedFile, match=problem):
        read_document(path)
    db = open_tinydb(path)
    with pytest.raises(DamagedFile):
        db.table("devices").all()
    with pytest.raises(DamagedFile):
        db.table("devices").insert({"device_id": "pos-a"})  # a write reads first: never over the damage
    assert path.read_bytes() == content


@pytest.mark.parametrize(("content", "problem"), DAMAGE)
def test_open_checked_sets_damage_aside_reports_it_and_starts_empty(
    tmp_path: Path, content: bytes, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "roster.json"
    path.write_bytes(content)
    damaged: list[str] = []
    with caplog.at_level(logging.ERROR):
        db = open_checked(path, damaged, "officers and roster")
    assert db.table("officers").all() == []
    assert len(damaged) == 1 and damaged[0].startswith("roster.json: damaged") and problem in damaged[0]
    assert "officers and roster: roster.json: damaged" in caplog.text
    aside = list(tmp_path.glob("roster.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content  # renamed, never deleted
    assert aside[0].name in damaged[0]
    db.table("officers").insert({"id": "agus"})  # the store goes on in a fresh file
    assert read_document(path) == {"officers": {"1": {"id": "agus"}}}


def test_a_second_damage_in_the_same_second_keeps_the_first_aside(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    moved = []
    for content in (b"", b"{"):
        path.write_bytes(content)
        with pytest.raises(DamagedFile) as caught:
            read_document(path)
        moved.append(set_aside(path, caught.value))
    kept = sorted(p.read_bytes() for p in tmp_path.glob("alerts.json.damaged-*"))
    assert kept == [b"", b"{"], moved


def test_a_file_replaced_since_it_was_read_is_not_set_aside(tmp_path: Path) -> None:
    """Another process set the damage aside and wrote a good file: that one stays."""
    path = tmp_path / "devices.json"
    path.write_bytes(b"")
    with pytest.raises(DamagedFile) as caught:
        read_document(path)
    AtomicJSONStorage(path).write({"devices": {"1": {"device_id": "pos-a"}}})  # a new inode
    message = set_aside(path, caught.value)
    assert "new file is kept" in message
    assert read_document(path) == {"devices": {"1": {"device_id": "pos-a"}}}
    assert not list(tmp_path.glob("devices.json.damaged-*"))


def test_atomic_storage_reads_back_what_it_wrote(tmp_path: Path) -> None:
    storage = AtomicJSONStorage(tmp_path / "db.json")
    assert storage.read() is None
    storage.write({"_default": {"1": {"a": 1}}})
    assert AtomicJSONStorage(tmp_path / "db.json").read() == {"_default": {"1": {"a": 1}}}
