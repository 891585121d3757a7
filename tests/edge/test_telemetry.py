"""Health telemetry with fake sysfs/procfs files and a fake vcgencmd."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge import telemetry
from edge.telemetry import (
    THROTTLE_BITS,
    HostProbe,
    build_health,
    decode_throttled,
    parse_throttled,
    read_cpu_temp_c,
    read_disk,
    read_load,
    read_throttle,
    read_uptime_s,
    run_command,
)
from kamling.version import software_version

NOW = datetime(2026, 11, 22, 22, 10, 0, tzinfo=UTC)


class FakeVcgencmd:
    """Stands in for the command runner; records what it was asked to run."""

    def __init__(self, output: str | None) -> None:
        self.output = output
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str]) -> str | None:
        self.calls.append(tuple(argv))
        return self.output


def fake_host(tmp_path: Path, *, vcgencmd_output: str | None = "throttled=0x0\n") -> HostProbe:
    (tmp_path / "temp").write_text("51537\n")
    (tmp_path / "uptime").write_text("86400.52 301234.10\n")
    (tmp_path / "loadavg").write_text("0.12 0.30 0.25 1/123 4567\n")
    return HostProbe(
        thermal_path=tmp_path / "temp",
        uptime_path=tmp_path / "uptime",
        loadavg_path=tmp_path / "loadavg",
        run=FakeVcgencmd(vcgencmd_output),
        clock_synced=lambda: True,
        version=lambda: "1.2.3",
    )


def missing_host(tmp_path: Path) -> HostProbe:
    nowhere = tmp_path / "absent"
    return HostProbe(
        thermal_path=nowhere / "temp",
        uptime_path=nowhere / "uptime",
        loadavg_path=nowhere / "loadavg",
        run=FakeVcgencmd(None),
        clock_synced=lambda: None,
        version=lambda: None,
    )


class TestThrottle:
    def test_parse(self) -> None:
        assert parse_throttled("throttled=0x50005\n") == 0x50005
        assert parse_throttled("throttled=0x0") == 0

    @pytest.mark.parametrize("text", ["", 'error=1 error_msg="Command not registered"', "throttled=zz", "0x5"])
    def test_parse_garbage(self, text: str) -> None:
        assert parse_throttled(text) is None

    def test_decode_under_voltage_now_and_since_boot(self) -> None:
        flags = decode_throttled(0x50005)
        assert flags["raw"] == "0x50005"
        on = {name for name in THROTTLE_BITS if flags[name]}
        assert on == {"under_voltage", "throttled", "under_voltage_occurred", "throttled_occurred"}

    def test_decode_each_bit(self) -> None:
        for name, bit in THROTTLE_BITS.items():
            flags = decode_throttled(1 << bit)
            assert [n for n in THROTTLE_BITS if flags[n]] == [name]

    def test_decode_soft_temp_limit(self) -> None:
        flags = decode_throttled(0x80008)
        assert flags["soft_temp_limit"] and flags["soft_temp_limit_occurred"]
        assert not flags["under_voltage"]

    def test_decode_zero(self) -> None:
        flags = decode_throttled(0)
        assert flags == {"raw": "0x0", **{name: False for name in THROTTLE_BITS}}

    def test_read_runs_vcgencmd(self, tmp_path: Path) -> None:
        host = fake_host(tmp_path, vcgencmd_output="throttled=0x20002\n")
        flags = read_throttle(host)
        assert flags is not None and flags["freq_capped"] and flags["freq_capped_occurred"]
        assert isinstance(host.run, FakeVcgencmd)
        assert host.run.calls == [("vcgencmd", "get_throttled")]

    def test_no_vcgencmd(self, tmp_path: Path) -> None:
        assert read_throttle(fake_host(tmp_path, vcgencmd_output=None)) is None

    def test_command_disabled(self, tmp_path: Path) -> None:
        host = HostProbe(throttled_command=None, run=FakeVcgencmd("throttled=0x1"))
        assert read_throttle(host) is None


class TestRunCommand:
    def test_stdout(self) -> None:
        assert run_command([sys.executable, "-c", "print('throttled=0x4')"]) == "throttled=0x4\n"

    def test_missing_binary(self, tmp_path: Path) -> None:
        assert run_command([str(tmp_path / "vcgencmd")]) is None

    def test_failure_exit(self) -> None:
        assert run_command([sys.executable, "-c", "import sys; sys.exit(255)"]) is None

    def test_timeout(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(telemetry, "COMMAND_TIMEOUT", 0.2)
        assert run_command([sys.executable, "-c", "import time; time.sleep(30)"]) is None


class TestReaders:
    def test_cpu_temp(self, tmp_path: Path) -> None:
        (tmp_path / "temp").write_text("51537\n")
        assert read_cpu_temp_c(tmp_path / "temp") == 51.5

    @pytest.mark.parametrize("content", ["", "hot\n"])
    def test_cpu_temp_garbage(self, tmp_path: Path, content: str) -> None:
        (tmp_path / "temp").write_text(content)
        assert read_cpu_temp_c(tmp_path / "temp") is None

    def test_cpu_temp_missing(self, tmp_path: Path) -> None:
        assert read_cpu_temp_c(tmp_path / "nope") is None

    def test_uptime_and_load(self, tmp_path: Path) -> None:
        host = fake_host(tmp_path)
        assert read_uptime_s(host.uptime_path) == 86400.52
        assert read_load(host.loadavg_path) == [0.12, 0.30, 0.25]

    def test_uptime_and_load_garbage(self, tmp_path: Path) -> None:
        (tmp_path / "f").write_text("x y z\n")
        assert read_uptime_s(tmp_path / "f") is None
        assert read_load(tmp_path / "f") is None
        (tmp_path / "empty").write_text("")
        assert read_uptime_s(tmp_path / "empty") is None
        assert read_load(tmp_path / "empty") is None

    def test_disk(self, tmp_path: Path) -> None:
        disk = read_disk(tmp_path)
        assert disk is not None
        assert disk["path"] == str(tmp_path)
        assert 0 <= disk["free_bytes"] <= disk["total_bytes"]
        assert 0 <= disk["free_pct"] <= 100

    def test_disk_missing_dir(self, tmp_path: Path) -> None:
        assert read_disk(tmp_path / "no-such-dir") is None

    def test_software_version_of_unknown_distribution(self) -> None:
        assert software_version("surely-not-installed-poskamling-xyz") == "dev"


class TestBuildHealth:
    def test_all_fields(self, tmp_path: Path) -> None:
        health = build_health(
            data_dir=tmp_path,
            outbox_depth=3,
            outbox_drops=1,
            outbox_pictures_dropped=2,
            camera_fps={"gate": 4.9333, "lane": None},
            probe=fake_host(tmp_path, vcgencmd_output="throttled=0x50000\n"),
            now=NOW,
        )
        assert health["ts"] == "2026-11-22T22:10:00Z"
        assert health["version"] == "1.2.3"
        assert health["uptime_s"] == 86400.52
        assert health["load"] == [0.12, 0.30, 0.25]
        assert health["cpu_temp_c"] == 51.5
        assert health["throttle"]["raw"] == "0x50000"
        assert health["throttle"]["under_voltage_occurred"] is True
        assert health["throttle"]["under_voltage"] is False
        assert health["disk"]["path"] == str(tmp_path)
        assert health["clock_synced"] is True
        assert health["outbox"] == {"depth": 3, "drops": 1, "pictures_dropped": 2}
        assert health["cameras"] == {"gate": 4.93, "lane": None}

    def test_is_strict_json(self, tmp_path: Path) -> None:
        health = build_health(
            data_dir=tmp_path, camera_fps={"gate": float("nan"), "lane": float("inf")}, probe=fake_host(tmp_path)
        )
        text = json.dumps(health, allow_nan=False)
        assert json.loads(text)["cameras"] == {"gate": None, "lane": None}

    def test_missing_sensors_give_none(self, tmp_path: Path) -> None:
        health = build_health(data_dir=tmp_path / "no-data-dir", probe=missing_host(tmp_path), now=NOW)
        for key in ("version", "uptime_s", "load", "cpu_temp_c", "throttle", "disk", "clock_synced"):
            assert health[key] is None, key
        assert health["outbox"] == {"depth": None, "drops": None, "pictures_dropped": None}
        assert health["cameras"] == {}
        json.dumps(health, allow_nan=False)

    def test_failing_probes_never_raise(self, tmp_path: Path) -> None:
        def broken(*_args: object) -> None:
            raise RuntimeError("sensor exploded")

        host = HostProbe(
            thermal_path=tmp_path / "temp",
            run=broken,
            clock_synced=broken,
            version=broken,  # type: ignore[arg-type]
        )
        health = build_health(data_dir=tmp_path, probe=host)
        assert health["throttle"] is None
        assert health["clock_synced"] is None
        assert health["version"] is None

    def test_default_probe_runs_on_this_host(self, tmp_path: Path) -> None:
        """The real probes read whatever this machine has, and still give plain JSON."""
        health = build_health(data_dir=tmp_path)
        assert health["disk"] is not None
        assert health["clock_synced"] in (True, False, None)
        json.dumps(health, allow_nan=False)
