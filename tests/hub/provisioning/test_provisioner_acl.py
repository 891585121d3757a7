"""Provisioning writes the ACL that matches the hub's settings (Home Assistant only when enabled)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.provisioning.provisioner import Provisioner
from hub.settings import HubSettings


@pytest.mark.parametrize("discovery", [False, True])
def test_home_assistant_rights_follow_the_setting(tmp_path: Path, discovery: bool) -> None:
    settings = HubSettings(
        mqtt_password="hub-password-1",
        data_dir=tmp_path / "hub",
        home_assistant_discovery=discovery,
        provisioning={"broker_dir": tmp_path / "broker", "reload_command": ["true"]},
    )
    provisioner = Provisioner(settings, actor="test")
    issued = provisioner.add("pos-ha1", "Pos HA", village="Sukamaju", reload=False)
    acl = (tmp_path / "broker" / "acl").read_text()
    assert "kamling/v1/%u/event" in acl  # every device stays confined to its own topics
    assert ("homeassistant/#" in acl) is discovery
    assert issued.edge_config.stat().st_mode & 0o777 == 0o600
