"""The officer store serves the roster from a cache that never goes stale."""

from __future__ import annotations

from pathlib import Path

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
