"""The README's first command: `poskamling demo` runs, a simulated press pages an officer, Ctrl-C stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from poskamling.net import free_port
from tests.support import wait_for

pytestmark = pytest.mark.e2e

POSKAMLING = [sys.executable, "-m", "poskamling.cli"]


def test_demo_runs_and_a_simulated_press_pages_the_officer(tmp_path: Path) -> None:
    port = free_port()
    workdir = tmp_path / "demo"
    proc = subprocess.Popen(
        [*POSKAMLING, "demo", "--dir", str(workdir), "--http-port", str(port), "--posts", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,  # its own process group, as in a terminal: Ctrl-C reaches the whole group
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        wait_for(lambda: any("Ctrl-C stops everything" in line for line in lines), timeout=30, what="demo banner")
        output = "".join(lines)
        token = re.search(r"Operator token\s+(\S+)", output).group(1)  # type: ignore[union-attr]
        assert re.search(r'Dashboard login\s+user "operator", password \S{12,}', output)
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"})
        assert api.get("/api/health").json()["status"] == "ok"
        wait_for(lambda: all(p["online"] for p in api.get("/api/posts").json()), timeout=15, what="posts online")

        press = subprocess.run(
            [*POSKAMLING, "sim", "press", "pos-rw01", "--dir", str(workdir)], capture_output=True, text=True, timeout=30
        )
        assert press.returncode == 0, press.stderr
        assert "pressed" in press.stdout
        wait_for(lambda: "[notification to agus] [PANIK]" in "".join(lines), timeout=20, what="printed notification")
        alerts = api.get("/api/alerts").json()
        assert [a["kind"] for a in alerts] == ["panic"]

        unknown = subprocess.run(
            [*POSKAMLING, "sim", "press", "pos-nope", "--dir", str(workdir)], capture_output=True, text=True, timeout=30
        )
        assert unknown.returncode == 1 and "no simulated post" in unknown.stdout
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does: every process of the group
        code = proc.wait(timeout=30)
    reader.join(timeout=10)
    output = "".join(lines)
    assert code == 0
    assert "stopping demo" in output
    assert "POS TERPUTUS" not in output  # a clean shutdown does not page anyone
    assert "Traceback" not in output  # nor does any child process print one
    assert "not delivering frames" not in output  # the demo camera is not called stalled while it starts


def test_sim_press_without_a_demo_says_how_to_start_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [*POSKAMLING, "sim", "press", "pos-rw01", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "poskamling demo" in result.stderr


def test_every_command_has_help() -> None:
    for args in (["--help"], ["demo", "--help"], ["hub", "--help"], ["edge", "--help"], ["sim", "--help"]):
        result = subprocess.run([*POSKAMLING, *args], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, (args, result.stderr)
        assert "Usage" in result.stdout


def test_hub_and_edge_report_bad_config_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("device_id: x\n")
    for command in ("hub", "edge"):
        result = subprocess.run(
            [*POSKAMLING, command, "--config", str(bad)], capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 2
        assert str(bad) in result.stderr
