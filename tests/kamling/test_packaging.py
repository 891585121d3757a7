"""The built wheel carries the files the code reads at run time (templates, static assets)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contains_runtime_data(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("poskamling-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "poskamling/templates/mosquitto.conf.template",
        "hub/web/templates/dashboard/base.html",
        "hub/web/templates/ack/alert.html",
        "hub/web/static/dashboard.css",
        "kamling/protocol.py",
        "edge/camera/motion.py",
    ):
        assert needed in names, f"{needed} missing from the wheel"
    assert not any(name.startswith("tests/") for name in names)
