"""The example edge configs and the wiring guide agree with the code and with each other."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from edge.config import EdgeConfig
from kamling.configfile import load_model
from tests.deploy.deploy_helpers import FIRMWARE_DIR

EXAMPLES = sorted(FIRMWARE_DIR.glob("edge-*.yaml"))
PLACEHOLDER = "CHANGE-ME"
PINS = {"panic_button": "GPIO17", "status_led": "GPIO27", "buzzer": "GPIO22", "tamper_switch": "GPIO23"}
PHYSICAL = {"GPIO17": 11, "GPIO27": 13, "GPIO22": 15, "GPIO23": 16}


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_both_examples_exist() -> None:
    assert [p.name for p in EXAMPLES] == ["edge-one-camera.yaml", "edge-two-cameras.yaml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_as_edge_config(path: Path, tmp_path: Path) -> None:
    data = load(path)
    if "cameras" in EdgeConfig.model_fields:
        # EdgeConfig has its camera section now: the whole file must load as it is.
        config = load_model(EdgeConfig, path)
    else:
        # The `cameras:` section is being added to EdgeConfig by another change. Until then
        # EdgeConfig (extra="forbid") rejects the key, so validate everything else and let
        # test_cameras_validate check the camera entries against the camera model.
        data.pop("cameras")
        stripped = tmp_path / path.name
        stripped.write_text(yaml.safe_dump(data), encoding="utf-8")
        config = load_model(EdgeConfig, stripped)
    assert config.mqtt.password.get_secret_value() == PLACEHOLDER
    for section, pin in PINS.items():
        assert getattr(config, section).pin == pin, section
    assert config.panic_button.pull_up and config.tamper_switch is not None and config.tamper_switch.pull_up
    assert str(config.data_dir) == "/var/lib/poskamling"


@pytest.mark.parametrize(
    ("path", "count"), list(zip(EXAMPLES, (1, 2), strict=True)), ids=lambda v: getattr(v, "name", str(v))
)
def test_camera_sections(path: Path, count: int) -> None:
    cameras = load(path)["cameras"]
    assert len(cameras) == count
    for camera in cameras:
        assert {"name", "source", "detect_fps", "masks", "armed"} <= camera.keys()
        url = urlsplit(camera["source"])
        assert url.scheme == "rtsp"
        assert url.password == PLACEHOLDER, "never a real-looking camera password"
        assert camera["armed"] == [{"start": "22:00", "end": "05:00"}]
        for polygon in camera["masks"]:
            assert len(polygon) >= 3 and all(len(point) == 2 for point in polygon)
    assert len({camera["name"] for camera in cameras}) == count


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_cameras_validate(path: Path) -> None:
    camera_config = pytest.importorskip("edge.camera.config", reason="the camera config model is not in this tree yet")
    for camera in load(path)["cameras"]:
        camera_config.CameraConfig.model_validate(camera)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_no_real_looking_secrets(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "poskamling device add" in text, "say where the real file comes from"
    for match in re.finditer(r"(?i)(password:\s*|://[^:/\s]+:)([^@\s#]+)", text):
        assert match.group(2) == PLACEHOLDER, match.group(0)


def test_wiring_table_matches_examples() -> None:
    wiring = (FIRMWARE_DIR / "wiring.md").read_text(encoding="utf-8")
    for gpio, pin in PHYSICAL.items():
        assert re.search(rf"\|\s*{gpio}\s*\|\s*{pin}\s*\|", wiring), (
            f"{gpio} on physical pin {pin} missing from the table"
        )
    assert "330 ohm" in wiring
    assert "normally closed" in wiring.lower()


def test_readme_covers_the_preparation_steps() -> None:
    readme = (FIRMWARE_DIR / "README.md").read_text(encoding="utf-8")
    for needle in (
        "dtparam=watchdog=on",
        "RuntimeWatchdogSec",
        "systemd-timesyncd",
        "chrony",
        "Storage=volatile",
        "noatime",
        "raspi-config",
        "gpio",
        "video",
        "poskamling device add",
    ):
        assert needle in readme, needle
