"""Hub settings: file plus environment, validated with helpful errors, no default password."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.settings import load_hub_settings
from kamling.configfile import ConfigError


def test_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("mqtt_password: from-file\nmqtt_port: 1884\nposts:\n  - {device_id: pos-1, name: Pos 1}\n")
    monkeypatch.setenv("POSKAMLING_HUB_MQTT_PORT", "1885")
    settings = load_hub_settings(path)
    assert settings.mqtt_port == 1885  # the environment overrides the file
    assert settings.mqtt_password.get_secret_value() == "from-file"
    assert settings.posts[0].device_id == "pos-1"
    assert settings.language == "id" and settings.timezone == "Asia/Jakarta"


def test_no_default_broker_password(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("mqtt_port: 1883\n")
    with pytest.raises(ConfigError, match="mqtt_password"):
        load_hub_settings(path)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("timezone: Mars/Olympus\n", "timezone"),
        ("posts:\n  - {device_id: 'bad id', name: X}\n", "posts.0.device_id"),
        ("posts:\n  - {device_id: pos-1, name: X, lat: 123}\n", "posts.0.lat"),
        ("language: fr\n", "language"),
        ("surprise: 1\n", "surprise"),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, extra: str, field: str) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("mqtt_password: x\n" + extra)
    with pytest.raises(ConfigError) as err:
        load_hub_settings(path)
    assert str(path) in str(err.value) and field in str(err.value)
