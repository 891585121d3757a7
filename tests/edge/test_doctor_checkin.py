"""`poskamling edge doctor` asks the technician to press the green "Lapor ronda" button when one is configured."""

from __future__ import annotations

from pathlib import Path

import yaml
from gpiozero.pins.mock import MockFactory

from edge.doctor import FAIL, PASS, DoctorOptions, run_doctor
from poskamling.net import free_port


class Technician:
    def __init__(self, factory: MockFactory, press_checkin: bool) -> None:
        self.factory, self.press_checkin = factory, press_checkin

    def say(self, text: str) -> None:
        # pressed and held while the doctor waits (wait_for_press sees a held button), released at the next prompt
        if "panic button" in text:
            self.factory.pin(17).drive_low()
        if "check-in button" in text:
            self.factory.pin(17).drive_high()
            if self.press_checkin:
                self.factory.pin(5).drive_low()

    def confirm(self, question: str) -> bool:
        return True


def doctor(tmp_path: Path, press_checkin: bool) -> dict[str, str]:
    path = tmp_path / "edge.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "device_id": "pos-x1",
                "mqtt": {"host": "127.0.0.1", "port": free_port(), "password": "x"},
                "panic_button": {"pin": 17, "bounce_time": None},
                "checkin_button": {"pin": 5, "bounce_time": None},
                "data_dir": str(tmp_path / "data"),
                "outbox_max_mb": 1,
            }
        )
    )
    factory = MockFactory()
    options = DoctorOptions(button_timeout=1.0, broker_timeout=0.5, interactive_outputs=False)
    technician = Technician(factory, press_checkin)
    results = run_doctor(path, technician, options, pin_factory=factory, clock_synced=lambda: None)
    return {r.name: r.status for r in results}


def test_checkin_button_pressed_passes(tmp_path: Path) -> None:
    assert doctor(tmp_path, press_checkin=True)["checkin"] == PASS


def test_checkin_button_not_seen_fails(tmp_path: Path) -> None:
    assert doctor(tmp_path, press_checkin=False)["checkin"] == FAIL
