"""Home Assistant bridge: which discovery configs the posts need, the diff, and following DeviceSync."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.integrations.homeassistant import CLEARED, HomeAssistantBridge, discovery_changes, discovery_configs
from hub.posts.registry import PostRegistry
from hub.provisioning.devices import DeviceRecord, DeviceStore, DeviceSync, SyncResult
from hub.settings import HubSettings, PostSettings
from tests.support import post_entry


def post(device_id: str, name: str | None = None) -> PostSettings:
    return PostSettings.model_validate(post_entry(device_id, name))


def config_topics(device_id: str, prefix: str = "homeassistant") -> set[str]:
    return {f"{prefix}/binary_sensor/{device_id}/{o}/config" for o in ("panic", "connectivity")}


def settings(tmp_path: Path, enabled: bool = True) -> HubSettings:
    return HubSettings(
        mqtt_password="x", data_dir=tmp_path, home_assistant_discovery=enabled, home_assistant_prefix="ha"
    )


# -- pure --------------------------------------------------------------------------------------


def test_configs_cover_every_post_under_the_prefix() -> None:
    configs, failed = discovery_configs([post("pos-a", "Pos A"), post("pos-b")], prefix="ha", version="1.2")
    assert failed == {}
    assert set(configs) == config_topics("pos-a", "ha") | config_topics("pos-b", "ha")
    panic = json.loads(configs["ha/binary_sensor/pos-a/panic/config"])
    assert panic["device"]["name"] == "Pos A" and panic["device"]["sw_version"] == "1.2"


def test_configs_include_cameras_and_report_posts_that_cannot_be_announced() -> None:
    cameras = {"pos-a": ["gate"], "pos-b": ["a b", "a_b"]}  # pos-b's collide as HA object ids
    configs, failed = discovery_configs([post("pos-a"), post("pos-b")], lambda d: cameras[d], prefix="ha")
    assert "ha/binary_sensor/pos-a/motion_gate/config" in configs
    assert list(failed) == ["pos-b"] and "collide" in failed["pos-b"]
    assert not any("/pos-b/" in t for t in configs)


def test_changes_publish_new_and_changed_and_clear_what_is_gone() -> None:
    announced = {"t/kept": b"1", "t/renamed": b"old", "t/gone": b"1"}
    wanted = {"t/kept": b"1", "t/renamed": b"new", "t/added": b"1"}
    changes = discovery_changes(announced, wanted)
    assert changes.publish == {"t/added": b"1", "t/renamed": b"new"}
    assert changes.clear == ["t/gone"]
    assert not discovery_changes(wanted, wanted)
    assert discovery_changes({}, wanted).publish == wanted
    assert discovery_changes(announced, {}).clear == sorted(announced)


def test_a_rename_changes_only_that_posts_configs() -> None:
    before, _ = discovery_configs([post("pos-a", "Pos A"), post("pos-b", "Pos B")], prefix="ha")
    after, _ = discovery_configs([post("pos-a", "Pos A baru"), post("pos-b", "Pos B")], prefix="ha")
    changes = discovery_changes(before, after)
    assert set(changes.publish) == config_topics("pos-a", "ha") and changes.clear == []


# -- the bridge following DeviceSync (a real devices file, a recording publisher) ------------


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int, bool]] = []

    def __call__(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.sent.append((topic, payload, qos, retain))

    def take(self) -> dict[str, bytes]:
        """What was sent since the last take (topic -> payload); everything must be retained, QoS 1."""
        assert all(qos == 1 and retain for _, _, qos, retain in self.sent), self.sent
        out = {topic: payload for topic, payload, _, _ in self.sent}
        self.sent.clear()
        return out


def record(device_id: str, name: str, status: Any = "active") -> DeviceRecord:
    return DeviceRecord(device_id=device_id, name=name, status=status)


@pytest.fixture
def world(tmp_path: Path) -> Any:
    store = DeviceStore(tmp_path / "devices.json")
    registry = PostRegistry([post("pos-settings")])
    sync = DeviceSync(store, registry)
    publish = Recorder()
    bridge = HomeAssistantBridge(settings(tmp_path), registry.all, publish, subscribe=sync.on_change)
    return store, sync, publish, bridge


def test_bridge_follows_added_renamed_and_revoked_devices(world: Any) -> None:
    store, sync, publish, bridge = world
    sync.sync(force=True)  # what start() does, without its polling thread (the test drives the syncs)
    bridge.start()
    try:
        assert set(publish.take()) == config_topics("pos-settings", "ha")

        store.put(record("pos-new", "Pos Baru"))
        assert sync.sync(force=True).added == ["pos-new"]
        sent = publish.take()
        assert set(sent) == config_topics("pos-new", "ha") and all(sent.values())

        store.put(record("pos-new", "Pos Baru RW 02"))  # a rename
        sync.sync(force=True)
        sent = publish.take()
        assert set(sent) == config_topics("pos-new", "ha")
        assert json.loads(sent["ha/binary_sensor/pos-new/panic/config"])["device"]["name"] == "Pos Baru RW 02"

        sync.sync(force=True)  # nothing changed: nothing sent
        assert publish.take() == {}

        store.mark_decommissioned("pos-new")
        assert sync.sync(force=True).removed == ["pos-new"]
        assert publish.take() == dict.fromkeys(config_topics("pos-new", "ha"), CLEARED)
        assert set(bridge.announced) == config_topics("pos-settings", "ha")
    finally:
        bridge.stop()


def test_revoking_a_post_of_the_settings_file_clears_it_too(world: Any) -> None:
    store, sync, publish, bridge = world
    bridge.start()
    publish.take()
    store.put(record("pos-settings", "Pos Settings").model_copy(update={"status": "decommissioned"}))
    sync.sync(force=True)
    assert publish.take() == dict.fromkeys(config_topics("pos-settings", "ha"), CLEARED)
    assert bridge.announced == {}
    bridge.stop()


def test_after_stop_changes_are_not_followed(world: Any) -> None:
    store, sync, publish, bridge = world
    bridge.start()
    bridge.stop()
    publish.take()
    store.put(record("pos-late", "Pos Late"))
    sync.sync(force=True)
    assert publish.take() == {}


def test_disabled_bridge_sends_nothing_and_does_not_subscribe(tmp_path: Path) -> None:
    subscribed: list[object] = []
    publish = Recorder()
    bridge = HomeAssistantBridge(
        settings(tmp_path, enabled=False),
        lambda: [post("pos-a")],
        publish,
        subscribe=lambda listener: subscribed.append(listener) or (lambda: None),
    )
    bridge.start()
    bridge.stop()
    assert publish.sent == [] and subscribed == [] and bridge.announced == {}


# -- DeviceSync's change hook ------------------------------------------------------------------


def test_device_sync_reports_changes_only_and_survives_a_failing_listener(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path / "devices.json")
    sync = DeviceSync(store, PostRegistry([]))
    seen: list[SyncResult] = []

    def broken(_result: SyncResult) -> None:
        raise RuntimeError("listener bug")

    sync.on_change(broken)
    unsubscribe = sync.on_change(seen.append)
    store.put(record("pos-a", "Pos A"))
    assert sync.sync(force=True).added == ["pos-a"]
    sync.sync(force=True)  # no change: no call
    assert seen == [SyncResult(["pos-a"], [])]
    unsubscribe()
    store.mark_decommissioned("pos-a")
    assert sync.sync(force=True).removed == ["pos-a"]
    assert len(seen) == 1
