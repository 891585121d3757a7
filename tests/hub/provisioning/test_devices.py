"""The devices file: a damaged one is set aside and reported, the hub keeps the posts it knows."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.posts.registry import PostRegistry
from hub.provisioning.devices import DeviceRecord, DeviceStore, DeviceSync
from hub.settings import PostSettings
from tests.support import post_entry


def provisioned(path: Path, *device_ids: str) -> None:
    store = DeviceStore(path)
    for device_id in device_ids:
        store.put(DeviceRecord(device_id=device_id, name=f"Pos {device_id}"))


@pytest.mark.parametrize("kind", ["zero-length", "truncated"])
def test_a_damaged_devices_file_is_set_aside_and_reported(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "devices.json"
    provisioned(path, "pos-a", "pos-b")
    raw = path.read_bytes()
    content = b"" if kind == "zero-length" else raw[: len(raw) // 2]
    path.write_bytes(content)

    store = DeviceStore(path)
    assert store.all() == []
    assert len(store.damaged) == 1 and store.damaged[0].startswith("devices.json: damaged")
    aside = list(tmp_path.glob("devices.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content  # never deleted
    assert not path.exists()
    store.put(DeviceRecord(device_id="pos-c", name="Pos C"))  # `device add` works again
    assert [d.device_id for d in store.all()] == ["pos-c"]
    assert len(store.damaged) == 1


def test_sync_over_a_damaged_file_keeps_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    provisioned(path, "pos-a")
    registry = PostRegistry([PostSettings.model_validate(post_entry("pos-settings"))])
    sync = DeviceSync(DeviceStore(path), registry)
    sync.sync(force=True)
    assert registry.get("pos-a") is not None
    path.write_bytes(b"")
    result = sync.sync(force=True)
    assert result.added == [] and result.removed == []
    assert registry.get("pos-a") is not None and registry.get("pos-settings") is not None  # nobody dropped
    assert len(sync.store.damaged) == 1


def test_a_missing_devices_file_is_fresh_not_damage(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path / "devices.json")
    assert store.all() == [] and store.damaged == []
