"""The officer store serves the roster from a cache that never goes stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.duty.officers import OfficerStore
from hub.duty.roster import Officer


def officer(oid: str) -> Officer:
    return Officer(id=oid, name=oid.title(), urls=(f"json://sink/{oid}",))


def test_roster_changes_are_seen_at_once_even_from_another_process(tmp_path: Path) -> None:
    path = tmp_path / "roster.json"
    hub_side = OfficerStore(path)
    cli_side = OfficerStore(path)  # stands in for `poskamling officers add` in another process
    assert hub_side.roster().officers == ()

    cli_side.put_officer(officer("agus"))
    assert [o.id for o in hub_side.roster().officers] == ["agus"]
    first = hub_side.roster()
    assert hub_side.roster() is first  # unchanged file: served from the cache

    cli_side.put_officer(officer("sari"))
    assert sorted(o.id for o in hub_side.roster().officers) == ["agus", "sari"]

    hub_side.put_officer(officer("budi"))
    assert sorted(o.id for o in cli_side.roster().officers) == ["agus", "budi", "sari"]


@pytest.mark.parametrize("kind", ["zero-length", "truncated"])
def test_a_damaged_roster_file_is_set_aside_reported_and_read_as_no_roster(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "roster.json"
    OfficerStore(path).put_officer(officer("agus"))
    raw = path.read_bytes()
    content = b"" if kind == "zero-length" else raw[: len(raw) // 2]
    path.write_bytes(content)

    store = OfficerStore(path)
    store.check()  # what the hub does at start: the damage shows before the first page
    assert len(store.damaged) == 1 and store.damaged[0].startswith("roster.json: damaged")
    aside = list(tmp_path.glob("roster.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content  # never deleted
    assert store.roster().officers == () and not store.has_roster()  # the settings' officers are paged
    store.put_officer(officer("sari"))  # and the roster can be entered again
    assert [o.id for o in store.roster().officers] == ["sari"]
    assert len(store.damaged) == 1


def test_a_missing_roster_file_is_fresh_not_damage(tmp_path: Path) -> None:
    store = OfficerStore(tmp_path / "roster.json")
    store.check()
    assert store.roster().officers == () and store.damaged == []
    assert not (tmp_path / "roster.json").exists()
