"""Edge config files: YAML and TOML accepted; errors name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import load_edge_config
from kamling.configfile import ConfigError

VALID_YAML = """
device_id: pos-rw01
mqtt: {host: hub.local, port: 8883, password: s3cret-from-provisioning}
panic_button: {pin: 17, hold_time: 1.5}
status_led: {pin: 27}
buzzer: {pin: 22, silent_panic: true}
data_dir: /tmp/x
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_yaml(tmp_path: Path) -> None:
    cfg = load_edge_config(write(tmp_path, "edge.yaml", VALID_YAML))
    assert cfg.mqtt_username == "pos-rw01"
    assert cfg.mqtt.keepalive == 5  # default: a cut link is noticed well within 15 s
    assert cfg.timezone == "Asia/Jakarta"
    assert cfg.panic_button.hold_time == 1.5
    assert cfg.buzzer is not None and cfg.buzzer.silent_panic


def test_valid_toml(tmp_path: Path) -> None:
    text = """
device_id = "pos-rw02"
[mqtt]
host = "hub.local"
password = "x"
[panic_button]
pin = 17
"""
    assert load_edge_config(write(tmp_path, "edge.toml", text)).device_id == "pos-rw02"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (VALID_YAML.replace("keepalive", "x") + "\nunknown_key: 1\n", "unknown_key"),
        (VALID_YAML.replace("port: 8883", "port: 99999"), "mqtt.port"),
        (VALID_YAML.replace("device_id: pos-rw01", "device_id: 'Pos RW01'"), "device_id"),
        (
            VALID_YAML.replace(
                "mqtt: {host: hub.local, port: 8883, password: s3cret-from-provisioning}", "mqtt: {host: hub.local}"
            ),
            "mqtt.password",
        ),
        (VALID_YAML.replace("{pin: 17, hold_time: 1.5}", "{pin: 17, hold_time: 60}"), "panic_button.hold_time"),
        (VALID_YAML + "\nmqtt_keepalive: 30\n", "mqtt_keepalive"),
        (VALID_YAML + "\ntimezone: Asia/Atlantis\n", "timezone"),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, "edge.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_edge_config(path)
    assert str(path) in str(err.value)
    assert field in str(err.value)


def test_keepalive_above_ten_seconds_is_refused(tmp_path: Path) -> None:
    text = VALID_YAML.replace("password: s3cret-from-provisioning}", "password: x, keepalive: 30}")
    with pytest.raises(ConfigError, match=r"mqtt\.keepalive"):
        load_edge_config(write(tmp_path, "edge.yaml", text))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("edge.yaml", "device_id: [unclosed", "not valid YAML"),
        ("edge.toml", "device_id = ", "not valid TOML"),
        ("edge.json", "{}", "unknown config format"),
        ("edge.yaml", "- a\n- list\n", "must be a mapping"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_edge_config(write(tmp_path, name, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_edge_config(tmp_path / "nope.yaml")
