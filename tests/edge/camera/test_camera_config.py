"""CameraConfig validation: defaults, source forms, time windows, clear errors."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from edge.camera import synthetic
from edge.camera.config import (
    SYNTHETIC_SCENARIOS,
    CameraConfig,
    HealthConfig,
    MotionProfile,
    SnapshotConfig,
    TimeWindow,
    parse_source,
)
from kamling.configfile import ConfigError, load_model


def _errors(**fields: object) -> str:
    with pytest.raises(ValidationError) as info:
        CameraConfig.model_validate({"name": "gate", "source": "synthetic:static", **fields})
    return str(info.value)


def test_defaults() -> None:
    config = CameraConfig(name="gate", source="rtsp://10.0.0.5:554/stream2")
    assert config.detect_fps == 5
    assert config.detect_height == 120
    assert config.threshold == 25
    assert config.min_area == 0.003
    assert config.cooldown_s == 30
    assert config.health.lost_after_s == 10
    assert config.health.frozen_after_s == 20
    assert config.health.blank_after_s == 10
    assert config.armed == [] and config.outside_armed == "log_low"
    assert config.snapshot.jpeg_quality == 80


@pytest.mark.parametrize(
    ("source", "kind", "target"),
    [
        (
            "rtsp://user:pw@10.0.0.5:554/Streaming/Channels/102",
            "url",
            "rtsp://user:pw@10.0.0.5:554/Streaming/Channels/102",
        ),
        ("http://cam.local/video.mjpg", "url", "http://cam.local/video.mjpg"),
        ("v4l2:/dev/video0", "v4l2", "/dev/video0"),
        (0, "v4l2", "0"),
        ("2", "v4l2", "2"),
        ("file:clips/gate.mp4", "file", "clips/gate.mp4"),
        ("synthetic:crossing", "synthetic", "crossing"),
    ],
)
def test_source_forms(source: str | int, kind: str, target: str) -> None:
    spec = CameraConfig(name="gate", source=source).source_spec
    assert (spec.kind, spec.target) == (kind, target)


def test_synthetic_size() -> None:
    assert parse_source("synthetic:noise:1280x720").size == (1280, 720)


@pytest.mark.parametrize("source", ["ftp://x/y", "/dev/video0", "file:", "synthetic:unicorn", "camera one", -1])
def test_bad_sources_are_rejected_with_the_accepted_forms(source: str | int) -> None:
    message = _errors(source=source)
    assert "source" in message


def test_unknown_scenario_lists_the_known_ones() -> None:
    assert "crossing" in _errors(source="synthetic:unicorn")


def test_extra_fields_are_forbidden() -> None:
    assert "sensitivity" in _errors(sensitivity=3)
    assert "quality" in _errors(snapshot={"quality": 50})


def test_min_area_is_a_fraction() -> None:
    message = _errors(min_area=150)
    assert "min_area" in message and "0.5" in message


def test_name_must_be_id_like() -> None:
    assert "name" in _errors(name="Gate Camera")


def test_detect_height_range() -> None:
    assert "detect_height" in _errors(detect_height=720)
    assert "detect_height" in _errors(detect_height=50)


def test_time_windows_parse_and_cross_midnight() -> None:
    config = CameraConfig(name="gate", source=0, armed=[{"start": "22:00", "end": "05:00"}])
    assert config.armed[0].start == time(22, 0) and config.armed[0].end == time(5, 0)


def test_unquoted_yaml_time_explains_the_quoting() -> None:
    message = _errors(armed=[{"start": 1320, "end": "05:00"}])
    assert "quoted" in message and "armed.0.start" in message


@pytest.mark.parametrize("bad", ["25:00", "7pm", "22.00", ""])
def test_bad_times(bad: str) -> None:
    assert "HH:MM" in _errors(armed=[{"start": bad, "end": "05:00"}])


def test_empty_window_is_rejected() -> None:
    assert "empty" in _errors(armed=[{"start": "05:00", "end": "05:00"}])


def test_profiles() -> None:
    config = CameraConfig(
        name="gate",
        source=0,
        profiles=[{"name": "night", "windows": [{"start": "18:30", "end": "06:00"}], "threshold": 35}],
    )
    assert config.profiles[0].threshold == 35 and config.profiles[0].min_area is None
    assert "overrides nothing" in _errors(profiles=[{"name": "night", "windows": [{"start": "18:30", "end": "06:00"}]}])
    duplicate = {"name": "night", "windows": [{"start": "18:30", "end": "06:00"}], "threshold": 30}
    assert "unique" in _errors(profiles=[duplicate, duplicate])


def test_masks_need_three_points() -> None:
    assert "at least 3 points" in _errors(masks=[[[0, 0], [10, 0]]])
    assert "negative" in _errors(masks=[[[0, 0], [10, 0], [-1, 5]]])


def test_load_from_yaml_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "camera.yaml"
    path.write_text("name: gate\nsource: synthetic:static\narmed:\n  - {start: 22:00, end: '05:00'}\n")
    with pytest.raises(ConfigError) as info:
        load_model(CameraConfig, path)
    assert str(path) in str(info.value) and "armed.0.start" in str(info.value)
    path.write_text("name: gate\nsource: synthetic:static\narmed:\n  - {start: '22:00', end: '05:00'}\n")
    assert load_model(CameraConfig, path).armed[0].start == time(22, 0)


@pytest.mark.parametrize("model", [CameraConfig, HealthConfig, SnapshotConfig, TimeWindow, MotionProfile])
def test_every_field_is_described_and_extra_forbidden(model: type[BaseModel]) -> None:
    assert model.model_config.get("extra") == "forbid"
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"


def test_scenario_names_match_the_generators() -> None:
    assert tuple(synthetic.SCENARIOS) == SYNTHETIC_SCENARIOS
