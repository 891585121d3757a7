"""The systemd units: required directives, `systemd-analyze verify` and a hardening score."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.deploy_helpers import (
    FIRMWARE_DIR,
    SYSTEMD_DIR,
    parse_unit,
    value,
    values,
    words,
)

EDGE = SYSTEMD_DIR / "poskamling-edge.service"
HUB = SYSTEMD_DIR / "poskamling-hub.service"
BROKER_DROPIN = SYSTEMD_DIR / "mosquitto.service.d" / "poskamling.conf"
VENV_BIN = "/opt/poskamling/venv/bin/poskamling"

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (apt-get install systemd)"
)

HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
}


# ---- directives ---------------------------------------------------------------------------


def test_edge_unit_lifecycle() -> None:
    unit = parse_unit(EDGE)
    assert value(unit, "Service", "Type") == "notify"
    assert value(unit, "Service", "NotifyAccess") == "main"
    assert value(unit, "Service", "WatchdogSec") == "30"
    assert value(unit, "Service", "Restart") == "always"
    assert value(unit, "Service", "RestartSec") is not None
    assert value(unit, "Unit", "StartLimitIntervalSec") == "0", "must never give up restarting"
    assert {"network-online.target", "time-sync.target"} <= words(unit, "Unit", "After")
    assert {"network-online.target", "time-sync.target"} <= words(unit, "Unit", "Wants")
    assert value(unit, "Install", "WantedBy") == "multi-user.target"


def test_edge_unit_runs_the_agent_as_the_service_user() -> None:
    unit = parse_unit(EDGE)
    assert value(unit, "Service", "ExecStart") == f"{VENV_BIN} edge --config /etc/poskamling/edge.yaml"
    assert value(unit, "Service", "User") == "poskamling"
    assert value(unit, "Service", "Group") == "poskamling"
    assert words(unit, "Service", "SupplementaryGroups") == {"gpio", "video"}
    assert value(unit, "Service", "StateDirectory") == "poskamling"
    # lgpio writes a pipe into the working directory: it must be the writable state dir.
    assert value(unit, "Service", "WorkingDirectory") == "/var/lib/poskamling"
    assert value(unit, "Service", "StandardOutput") in (None, "journal")


def test_edge_unit_hardening_keeps_gpio_and_camera() -> None:
    unit = parse_unit(EDGE)
    for key, expected in HARDENING.items():
        assert value(unit, "Service", key) == expected, key
    assert "/var/lib/poskamling" in words(unit, "Service", "ReadWritePaths")
    assert value(unit, "Service", "PrivateDevices") in (None, "no"), "PrivateDevices=yes hides /dev/gpiochip*"
    assert value(unit, "Service", "DevicePolicy") == "closed"
    allowed = {line.split()[0] for line in values(unit, "Service", "DeviceAllow")}
    assert {"char-gpiochip", "char-*gpiomem*", "char-video4linux", "char-vcio"} <= allowed
    assert value(unit, "Service", "ProcSubset") in (None, "all"), "telemetry reads /proc/uptime and /proc/loadavg"
    assert value(unit, "Service", "ProtectClock") in (None, "no"), "it would forbid the read-only adjtimex"
    assert "adjtimex" in words(unit, "Service", "SystemCallFilter")
    assert value(unit, "Service", "LimitCORE") == "0"
    assert "PYTHONFAULTHANDLER=1" in words(unit, "Service", "Environment")


def test_hub_unit() -> None:
    unit = parse_unit(HUB)
    assert value(unit, "Service", "ExecStart") == f"{VENV_BIN} hub --config /etc/poskamling/hub.yaml"
    assert value(unit, "Service", "Type") == "notify"
    assert value(unit, "Service", "NotifyAccess") == "main", "the pager worker must not speak for the hub"
    assert value(unit, "Service", "WatchdogSec") == "30"
    assert value(unit, "Service", "Restart") == "always"
    assert value(unit, "Service", "RestartSec") is not None
    assert value(unit, "Service", "User") == "poskamling"
    assert value(unit, "Service", "StateDirectory") == "poskamling"
    assert {"network-online.target", "mosquitto.service"} <= words(unit, "Unit", "After")
    assert {"network-online.target", "mosquitto.service"} <= words(unit, "Unit", "Wants")
    for hard_dependency in ("Requires", "BindsTo", "PartOf"):
        assert "mosquitto.service" not in words(unit, "Unit", hard_dependency), "a broker restart must not stop the hub"
    for key, expected in HARDENING.items():
        assert value(unit, "Service", key) == expected, key
    assert value(unit, "Service", "PrivateDevices") == "yes"
    assert value(unit, "Install", "WantedBy") == "multi-user.target"


def test_broker_dropin() -> None:
    unit = parse_unit(BROKER_DROPIN)
    assert value(unit, "Service", "Restart") == "always"
    limit = value(unit, "Service", "LimitNOFILE")
    assert limit is not None and int(limit) >= 4096
    assert "network-online.target" in words(unit, "Unit", "After")
    assert "poskamling-hub.service" in words(unit, "Unit", "Before")
    assert "ExecStart" not in {key for key, _ in unit.get("Service", [])}, "leave the packaged ExecStart alone"


def test_system_dropins_in_firmware_config() -> None:
    watchdog = parse_unit(FIRMWARE_DIR / "system.conf.d" / "poskamling-watchdog.conf")
    seconds = value(watchdog, "Manager", "RuntimeWatchdogSec")
    assert seconds is not None and int(seconds.removesuffix("s")) <= 15, "the BCM2835 watchdog allows 15 s at most"
    journald = parse_unit(FIRMWARE_DIR / "journald.conf.d" / "poskamling.conf")
    assert value(journald, "Journal", "Storage") == "volatile"


# ---- systemd-analyze ------------------------------------------------------------------------


def stage_units(tmp_path: Path) -> Path:
    """Copy the units to tmp_path with ExecStart pointing at /bin/true (the venv is not there).

    Also stage a mosquitto.service (Debian's when installed, else a stand-in) so the drop-in
    next to it and the hub's ordering refer to a unit that exists.
    """
    for unit in (EDGE, HUB):
        text = unit.read_text(encoding="utf-8").replace(f"ExecStart={VENV_BIN}", "ExecStart=/bin/true")
        assert "ExecStart=/bin/true" in text
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    packaged = Path("/lib/systemd/system/mosquitto.service")
    if packaged.is_file() and all(
        Path(line.split("=", 1)[1].split()[0].lstrip("-@!+")).exists()
        for line in packaged.read_text().splitlines()
        if line.startswith(("ExecStart=", "ExecStartPre="))
    ):
        shutil.copy(packaged, tmp_path / "mosquitto.service")
    else:
        (tmp_path / "mosquitto.service").write_text(
            "[Unit]\nDescription=stand-in broker\n[Service]\nType=notify\nExecStart=/bin/true\n"
            "[Install]\nWantedBy=multi-user.target\n"
        )
    dropin_dir = tmp_path / "mosquitto.service.d"
    dropin_dir.mkdir()
    shutil.copy(BROKER_DROPIN, dropin_dir / BROKER_DROPIN.name)
    return tmp_path


def verify(unit_path: Path) -> tuple[int, list[str]]:
    """Run `systemd-analyze verify`; return its exit code and the messages about our files."""
    assert SYSTEMD_ANALYZE is not None
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", str(unit_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    ours = str(unit_path.parent)
    names = {p.name for p in unit_path.parent.iterdir()}
    messages = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if ours in line or any(line.startswith(f"{name}:") for name in names)
    ]
    return proc.returncode, messages


@needs_systemd_analyze
@pytest.mark.parametrize("name", ["poskamling-edge.service", "poskamling-hub.service", "mosquitto.service"])
def test_systemd_analyze_verify(tmp_path: Path, name: str) -> None:
    staged = stage_units(tmp_path)
    code, messages = verify(staged / name)
    assert code == 0 and not messages, "\n".join(messages)


@needs_systemd_analyze
def test_verify_reports_what_we_check_for(tmp_path: Path) -> None:
    """The check above would notice a misspelt directive or a missing binary."""
    staged = stage_units(tmp_path)
    unit = staged / "poskamling-edge.service"
    unit.write_text(unit.read_text().replace("WatchdogSec=30", "WatchdogSecs=30"))
    _code, messages = verify(unit)
    assert any("WatchdogSecs" in line for line in messages), messages
    unit.write_text(unit.read_text().replace("ExecStart=/bin/true", f"ExecStart={VENV_BIN}"))
    code, _messages = verify(unit)
    assert code != 0


@needs_systemd_analyze
def test_verify_sees_the_broker_dropin(tmp_path: Path) -> None:
    staged = stage_units(tmp_path)
    (staged / "mosquitto.service.d" / BROKER_DROPIN.name).write_text("[Service]\nRestart=allways\n")
    _code, messages = verify(staged / "mosquitto.service")
    assert any("allways" in line for line in messages), messages


@needs_systemd_analyze
@pytest.mark.parametrize(("name", "limit"), [("poskamling-edge.service", 3.0), ("poskamling-hub.service", 2.5)])
def test_hardening_exposure_score(tmp_path: Path, name: str, limit: float) -> None:
    """systemd's own exposure score (0 = locked down, 10 = unprotected) must stay low."""
    staged = stage_units(tmp_path)
    proc = subprocess.run(
        [str(SYSTEMD_ANALYZE), "security", "--offline=true", "--no-pager", str(staged / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "--offline" in proc.stderr and "unrecognized" in proc.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= limit, proc.stdout
