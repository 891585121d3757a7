"""A real hub started on damaged data files: it starts, sets them aside, and /api/health shows them (issue 18)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.storage.files import AtomicJSONStorage
from kamling.protocol import new_event_id
from tests.support import HubHarness, post_entry

pytestmark = pytest.mark.e2e


GOOD_ID = new_event_id()


def good_event(seq: int) -> dict[str, object]:
    return {
        "id": GOOD_ID,
        "device": "pos-a",
        "seq": seq,
        "kind": "checkin",
        "ts": "2026-11-22T15:00:00+00:00",
        "data": {},
        "test": False,
        "received_at": "2026-11-22T15:00:01+00:00",
    }


def test_a_zero_length_events_partition_shows_in_health(make_hub: Callable[..., HubHarness], tmp_path: Path) -> None:
    events = tmp_path / "hub" / "events"
    events.mkdir(parents=True)
    AtomicJSONStorage(events / "events-2026-11-22T15.000.json").write({"_default": {"1": good_event(1)}})
    (events / "events-2026-11-22T16.000.json").write_bytes(b"")  # what a full disk can leave

    hub = make_hub([post_entry("pos-a")])
    health = hub.client(None).get("/api/health").json()

    assert health["status"] == "ok"
    assert len(health["store_damaged"]) == 1
    assert health["store_damaged"][0].startswith("events-2026-11-22T16.000.json: damaged (zero-length file)")
    assert len(list(events.glob("events-2026-11-22T16.000.json.damaged-*"))) == 1  # kept, not deleted
    assert hub.service is not None and hub.service.store.contains(GOOD_ID)  # the rest loaded


def test_every_store_reports_its_damage_and_the_hub_still_starts(
    make_hub: Callable[..., HubHarness], tmp_path: Path
) -> None:
    data = tmp_path / "hub"
    (data / "events").mkdir(parents=True)
    (data / "events" / "events-2026-11-22T16.000.json").write_bytes(b"")
    (data / "users.json").write_bytes(b"")
    (data / "roster.json").write_bytes(b'{"officers": {"1": {"id": "ag')  # truncated
    (data / "devices.json").write_bytes(b"")
    (data / "alerts.json").write_bytes(b'{"alerts": {')  # truncated
    (data / "alerts-2026-01.json").write_bytes(b"")

    hub = make_hub([post_entry("pos-a")])
    damaged = hub.client(None).get("/api/health").json()["store_damaged"]

    # The stores that are files in every configuration: set aside (renamed, never deleted).
    set_aside = {
        "events-2026-11-22T16.000.json": data / "events",
        "users.json": data,
        "roster.json": data,
        "devices.json": data,
    }
    for name, folder in set_aside.items():
        assert sum(1 for message in damaged if message.startswith(f"{name}: damaged")) == 1, (name, damaged)
        assert not (folder / name).exists() and len(list(folder.glob(f"{name}.damaged-*"))) == 1
    # The alert files: set aside by the file-based alert store, or, when alerts live in SQL, reported
    # by their one-time copy into it (which leaves the originals in place); shown either way.
    for name in ("alerts.json", "alerts-2026-01.json"):
        assert any(name in message.split(":", 1)[0] and "damaged" in message for message in damaged), (name, damaged)
    names = sorted(message.split(":", 1)[0] for message in damaged)
    # The admin finds one audit record per damaged file (through the hub's audit log, whatever backs it).
    assert hub.service is not None
    audit = hub.service.audit.read(limit=100, action="storage.damaged")
    assert sorted(entry["target"] for entry in audit) == names and not any(entry["ok"] for entry in audit)
    assert len(names) == 6
    # The hub works: the API answers with the settings' tokens.
    assert hub.client("viewer").get("/api/alerts").status_code == 200


def test_a_fresh_data_folder_is_not_damage(make_hub: Callable[..., HubHarness]) -> None:
    hub = make_hub([post_entry("pos-a")])
    assert hub.client(None).get("/api/health").json()["store_damaged"] == []
