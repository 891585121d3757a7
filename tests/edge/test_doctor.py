"""`poskamling edge doctor`: pure helpers, single checks, and a full run on mock pins against a real hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from gpiozero.pins.mock import MockFactory

from edge.camera.config import CameraConfig
from edge.doctor import (
    FAIL,
    PASS,
    SKIP,
    CheckResult,
    DoctorOptions,
    check_camera,
    check_clock,
    check_config,
    check_outbox,
    disk_verdict,
    exit_code,
    render_table,
    run_doctor,
)
from tests.support import add_device, post_entry, wait_for

MB = 1024 * 1024


class ScriptedPrompt:
    """The technician: presses (and holds) the mock button when asked, answers questions."""

    def __init__(self, factory: MockFactory, pin: int = 17, press: bool = True, answer: bool = True) -> None:
        self.factory, self.pin, self.press, self.answer = factory, pin, press, answer
        self.said: list[str] = []
        self.asked: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)
        if self.press and "panic button" in text:
            self.factory.pin(self.pin).drive_low()  # pressed (pull-up: active low); held until asked

    def confirm(self, question: str) -> bool:
        self.asked.append(question)
        self.factory.pin(self.pin).drive_high()  # released
        return self.answer


def write_config(path: Path, device: str, host: str, port: int, password: str, data_dir: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "device_id": device,
                "mqtt": {"host": host, "port": port, "password": password},
                "panic_button": {"pin": 17, "bounce_time": None},
                "status_led": {"pin": 27},
                "buzzer": {"pin": 22, "alarm_seconds": 0},
                "data_dir": str(data_dir),
                "outbox_max_mb": 1,
            }
        )
    )
    return path


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


# -- pure -----------------------------------------------------------------------------------------


def test_exit_code_and_table() -> None:
    ok = [CheckResult("config", PASS, "fine"), CheckResult("clock", SKIP, "unknown")]
    assert exit_code(ok) == 0
    bad = [*ok, CheckResult("broker", FAIL, "refused")]
    assert exit_code(bad) == 1
    table = render_table(bad)
    assert "broker  FAIL    refused" in table and "2/3 checks ok; 1 FAILED" in table


@pytest.mark.parametrize(("free", "ok"), [(100 * MB, True), (70 * MB, False), (71 * MB, True)])
def test_disk_verdict_needs_budget_plus_headroom(free: int, ok: bool) -> None:
    assert disk_verdict(free, 64 * MB)[0] is ok


def test_clock_and_outbox_checks(tmp_path: Path) -> None:
    assert check_clock(lambda: True).status == PASS
    assert check_clock(lambda: False).status == FAIL
    assert check_clock(lambda: None).status == SKIP
    assert check_outbox(tmp_path / "data", 1 * MB).status == PASS
    assert check_outbox(tmp_path / "data", 10**18).status == FAIL  # no disk is that big
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert check_outbox(blocker / "data", MB).status == FAIL


def test_bad_config_fails_and_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump({"device_id": "pos-x1", "mqtt": {"host": "h"}}))
    result, config = check_config(path)
    assert config is None and result.status == FAIL and "edge.yaml" in result.detail


def test_camera_reports_fps_from_a_synthetic_source() -> None:
    result = check_camera(CameraConfig(name="gate", source="synthetic:static:320x240", detect_fps=10), seconds=0.5)
    assert result.name == "camera:gate" and result.status == PASS, result
    assert "fps" in result.detail and "320x240" in result.detail


def test_camera_that_cannot_open_fails() -> None:
    class Broken:
        def open(self) -> None:
            raise OSError("cannot open StreamSource(rtsp://***@cam)")

    result = check_camera(CameraConfig(name="lane", source="rtsp://cam/sub"), 0.1, opener=lambda _c: Broken())
    assert result.status == FAIL and "cannot open" in result.detail


# -- against the real broker and hub ---------------------------------------------------------------


def test_full_run_with_walk_test_is_acked_by_the_hub(make_hub, broker, sink, tmp_path: Path) -> None:
    # The doctor's agent disconnecting makes the post go offline; page nobody for that here, so the
    # sink shows that the walk test itself paged no one.
    hub = make_hub([post_entry("pos-dr01")], alert_rules={"offline": {"page": False}})
    password = add_device(broker, "pos-dr01")
    config = write_config(tmp_path / "edge.yaml", "pos-dr01", broker.host, broker.port, password, tmp_path / "data")
    factory = MockFactory()
    prompt = ScriptedPrompt(factory)
    options = DoctorOptions(button_timeout=10, walk_test=True, walk_timeout=20)
    results = run_doctor(config, prompt, options, pin_factory=factory, clock_synced=lambda: True)

    checks = by_name(results)
    assert [r.status for r in results] == [PASS] * len(results), render_table(results)
    assert list(checks) == ["config", "button", "outputs", "broker", "clock", "outbox", "walk_test"]
    assert prompt.asked and "LED blinking and buzzer chirped" in prompt.asked[0]
    assert exit_code(results) == 0

    api = hub.client("viewer")
    events = wait_for(lambda: api.get("/api/events", params={"device": "pos-dr01"}).json()["items"], what="test event")
    assert events[0]["test"] is True and events[0]["kind"] == "panic"
    alert = next(a for a in api.get("/api/alerts").json() if a["kind"] == "panic")
    assert alert["test"] is True
    wait_for(
        lambda: any(e["action"] == "not_paged" for e in api.get(f"/api/alerts/{alert['id']}").json()["timeline"]),
        what="test alert marked not paged",
    )
    assert not [r for r in sink.received if r.path == "/officer"]  # a walk test never pages anyone


def test_failures_are_reported_and_exit_non_zero(broker, tmp_path: Path) -> None:
    add_device(broker, "pos-dr02")
    config = write_config(
        tmp_path / "edge.yaml", "pos-dr02", broker.host, broker.port, "wrong-password", tmp_path / "d"
    )
    factory = MockFactory()
    prompt = ScriptedPrompt(factory, press=False, answer=False)
    options = DoctorOptions(button_timeout=0.3, broker_timeout=10)
    results = run_doctor(config, prompt, options, pin_factory=factory, clock_synced=lambda: False)
    checks = by_name(results)
    assert checks["button"].status == FAIL and "no press" in checks["button"].detail
    assert checks["outputs"].status == FAIL
    assert checks["broker"].status == FAIL and "refused" in checks["broker"].detail
    assert checks["clock"].status == FAIL
    assert checks["outbox"].status == PASS
    assert exit_code(results) == 1


def test_cli_prints_the_table_and_exits_non_zero(tmp_path: Path, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from poskamling.cli import app

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    config = write_config(tmp_path / "edge.yaml", "pos-dr03", "127.0.0.1", 1, "pw", tmp_path / "d")
    result = CliRunner().invoke(
        app, ["edge", "doctor", "--config", str(config), "--yes", "--skip", "button", "--camera-seconds", "0.1"]
    )
    assert result.exit_code == 1, result.output
    rows = {line.split()[0]: line.split()[1] for line in result.output.splitlines() if line.count(" ") > 2}
    assert rows["button"] == "SKIP" and rows["broker"] == "FAIL" and rows["config"] == "PASS"
