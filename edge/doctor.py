"""`poskamling edge doctor`: checks a post on site and prints a pass/fail table.

Stop the agent first (`sudo systemctl stop poskamling-edge`): the doctor needs the GPIO
lines and, for the walk test, the device's MQTT identity. Checks, in order:

  config     the edge config file loads and validates
  button     the technician presses the panic button within a time limit (it is seen)
  checkin    (with a checkin_button) the technician presses the green "Lapor ronda" button
  outputs    the status LED blinks and the buzzer chirps (the technician confirms)
  camera:X   each camera opens and delivers frames; frames per second are reported
  broker     connects to the broker with the device's own credential
  clock      the kernel says NTP has synchronised the clock (events carry edge time)
  outbox     the data folder is writable and has room for the outbox's disk budget
  walk_test  (--walk-test) a panic flagged `test: true` goes the real agent path and
             the hub acknowledges it (nobody is paged for a test)

Check functions take their inputs (a config, a hardware object, a `Prompt`, a clock) and
return a `CheckResult`; `run_doctor` wires them. Tests press the mock button from `Prompt`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from edge.agent import EdgeAgent
from edge.camera.worker import open_source
from edge.config import EdgeConfig, load_edge_config
from edge.hardware import PostHardware
from edge.outbox import Outbox
from edge.telemetry import kernel_clock_synced
from kamling.configfile import ConfigError
from kamling.mqtt import make_client, reason_ok
from kamling.protocol import EventKind

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # PASS, FAIL or SKIP
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAIL


class Prompt(Protocol):
    """How the doctor talks to the technician (the CLI: terminal; tests: a script)."""

    def say(self, text: str) -> None: ...

    def confirm(self, question: str) -> bool: ...


@dataclass
class DoctorOptions:
    button_timeout: float = 30.0
    camera_seconds: float = 3.0
    broker_timeout: float = 10.0
    walk_test: bool = False
    walk_timeout: float = 30.0
    interactive_outputs: bool = True  # ask whether the LED/buzzer were seen and heard
    skip: frozenset[str] = field(default_factory=frozenset)  # e.g. {"button", "cameras"}


# -- pure helpers ------------------------------------------------------------------------------


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 when nothing failed (skips are not failures), else 1."""
    return 1 if any(r.failed for r in results) else 0


def render_table(results: Sequence[CheckResult]) -> str:
    """A plain-text table (fits an 80-column terminal over SSH)."""
    width = max([len("check"), *(len(r.name) for r in results)])
    lines = [f"{'check':<{width}}  result  detail", f"{'-' * width}  ------  {'-' * 40}"]
    for r in results:
        lines.append(f"{r.name:<{width}}  {r.status:<6}  {r.detail}")
    failed = sum(r.failed for r in results)
    lines.append("")
    lines.append(
        f"{len(results) - failed}/{len(results)} checks ok"
        + (f"; {failed} FAILED (GAGAL)" if failed else " (semua baik)")
    )
    return "\n".join(lines)


def disk_verdict(free_bytes: int, budget_bytes: int) -> tuple[bool, str]:
    """Enough room when the free space covers the outbox budget plus 10 % headroom."""
    need = int(budget_bytes * 1.1)
    mb = 1024 * 1024
    ok = free_bytes >= need
    return ok, f"{free_bytes // mb} MB free, outbox budget {budget_bytes // mb} MB" + (
        "" if ok else " - not enough room"
    )


# -- checks --------------------------------------------------------------------------------------


def check_config(path: Path) -> tuple[CheckResult, EdgeConfig | None]:
    try:
        config = load_edge_config(path)
    except ConfigError as exc:
        return CheckResult("config", FAIL, str(exc).splitlines()[0][:200]), None
    cameras = len(getattr(config, "cameras", []) or [])
    return CheckResult("config", PASS, f"{path}: device {config.device_id}, {cameras} camera(s)"), config


def check_button(button: Any, prompt: Prompt, timeout: float) -> CheckResult:
    """`button` is a gpiozero Button (or anything with wait_for_press(timeout) -> bool)."""
    prompt.say(f"Tekan tombol panik sekarang / press the panic button now ({timeout:.0f} s)...")
    if button.wait_for_press(timeout=timeout):
        return CheckResult("button", PASS, "press seen")
    return CheckResult("button", FAIL, f"no press seen within {timeout:.0f} s: check wiring and panic_button.pin")


def check_checkin_button(button: Any, prompt: Prompt, timeout: float) -> CheckResult:
    """The green "Lapor ronda" button, like the panic button: a press within `timeout` is seen."""
    prompt.say(f"Tekan tombol Lapor ronda (hijau) / press the green check-in button now ({timeout:.0f} s)...")
    if button.wait_for_press(timeout=timeout):
        return CheckResult("checkin", PASS, "press seen")
    return CheckResult("checkin", FAIL, f"no press seen within {timeout:.0f} s: check wiring and checkin_button.pin")


def check_outputs(hardware: Any, config: EdgeConfig, prompt: Prompt, interactive: bool) -> CheckResult:
    """Blink the LED and chirp the buzzer; optionally ask the technician whether they were seen/heard."""
    parts = []
    if hardware.led is not None:
        hardware.led.blink(on_time=0.2, off_time=0.2, n=5, background=True)
        parts.append("LED blinking")
    if hardware.buzzer is not None:
        hardware.buzzer.beep(on_time=0.08, off_time=0.12, n=3, background=True)
        parts.append("buzzer chirped")
    if not parts:
        return CheckResult("outputs", SKIP, "no status_led or buzzer configured")
    if interactive and not prompt.confirm(f"{' and '.join(parts)}: terlihat/terdengar? (seen/heard?)"):
        return CheckResult("outputs", FAIL, "technician did not see/hear: " + ", ".join(parts))
    return CheckResult("outputs", PASS, ", ".join(parts))


def check_camera(
    camera: Any, seconds: float, opener: Callable[..., Any] | None = None, clock: Callable[[], float] = time.monotonic
) -> CheckResult:
    """Open one camera, read frames for `seconds`, report frames per second."""
    name = f"camera:{camera.name}"
    try:
        source = (opener or open_source)(camera)
        source.open()
    except Exception as exc:
        return CheckResult(name, FAIL, f"cannot open: {exc}"[:200])
    frames, started = 0, clock()
    shape = None
    try:
        while clock() - started < seconds:
            if not source.grab():
                continue
            frame = source.retrieve()
            if frame is not None:
                frames += 1
                shape = getattr(frame, "shape", None)
    except Exception as exc:
        return CheckResult(name, FAIL, f"read failed after {frames} frame(s): {exc}"[:200])
    finally:
        source.close()
    elapsed = max(clock() - started, 1e-6)
    if frames == 0:
        return CheckResult(name, FAIL, f"opened but no frames in {seconds:.0f} s")
    size = f", {shape[1]}x{shape[0]}" if shape and len(shape) >= 2 else ""
    return CheckResult(name, PASS, f"{frames / elapsed:.1f} fps{size}")


def check_broker(config: EdgeConfig, timeout: float) -> CheckResult:
    """Connect with the device credential (a separate client id, so a running agent is not kicked off)."""
    endpoint = config.broker_endpoint
    where = f"{config.mqtt.host}:{config.mqtt.port} as {config.mqtt_username}"
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def on_connect(_client: Any, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        outcome["ok"], outcome["reason"] = reason_ok(reason_code), str(reason_code)
        done.set()

    try:
        client = make_client(endpoint, f"doctor-{config.device_id}")
        client.on_connect = on_connect
        client.connect_async(config.mqtt.host, config.mqtt.port, keepalive=10)
        client.loop_start()
    except Exception as exc:
        return CheckResult("broker", FAIL, f"{where}: {exc}"[:200])
    try:
        if not done.wait(timeout):
            return CheckResult("broker", FAIL, f"{where}: no answer within {timeout:.0f} s (network, host, port, TLS?)")
        if not outcome["ok"]:
            return CheckResult("broker", FAIL, f"{where}: refused ({outcome['reason']}): wrong credential?")
        return CheckResult("broker", PASS, where)
    finally:
        client.disconnect()
        client.loop_stop()


def check_clock(clock_synced: Callable[[], bool | None]) -> CheckResult:
    synced = clock_synced()
    if synced is None:
        return CheckResult("clock", SKIP, "cannot tell (adjtimex unavailable)")
    if synced:
        return CheckResult("clock", PASS, "synchronised (NTP)")
    return CheckResult("clock", FAIL, "not synchronised: check network and systemd-timesyncd/chrony")


def check_outbox(data_dir: Path, budget_bytes: int) -> CheckResult:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".doctor-") as handle:
            handle.write(b"x")
            handle.flush()
            os.fsync(handle.fileno())
        usage = shutil.disk_usage(data_dir)
    except OSError as exc:
        return CheckResult("outbox", FAIL, f"{data_dir}: {exc.strerror or exc}")
    ok, detail = disk_verdict(usage.free, budget_bytes)
    return CheckResult("outbox", PASS if ok else FAIL, f"{data_dir}: {detail}")


def walk_test(agent: Any, timeout: float, clock: Callable[[], float] = time.monotonic) -> CheckResult:
    """A `test: true` panic through the real agent path; passes when the hub acked it (outbox empty again).

    `agent` is a started-or-not EdgeAgent: it is started and stopped here.
    """
    agent.start()
    try:
        deadline = clock() + timeout
        while not agent.connected and clock() < deadline:
            time.sleep(0.05)
        if not agent.connected:
            return CheckResult("walk_test", FAIL, f"agent did not connect within {timeout:.0f} s")
        before = agent.outbox.last_seq()
        agent.raise_event(EventKind.PANIC, {"source": "doctor", "walk_test": True}, test=True)
        while clock() < deadline:
            if agent.outbox.last_seq() > before and agent.outbox.depth() == 0 and agent.stats["acked"] > 0:
                return CheckResult("walk_test", PASS, f"test panic seq {agent.outbox.last_seq()} acked by the hub")
            time.sleep(0.05)
        return CheckResult("walk_test", FAIL, f"no ack from the hub within {timeout:.0f} s (event stays in the outbox)")
    finally:
        agent.stop()


# -- wiring --------------------------------------------------------------------------------------


def run_doctor(
    config_path: Path,
    prompt: Prompt,
    options: DoctorOptions,
    pin_factory: Any | None = None,
    clock_synced: Callable[[], bool | None] | None = None,
    camera_opener: Callable[..., Any] | None = None,
) -> list[CheckResult]:
    """Run every check; each failure is recorded and the next check still runs."""
    results: list[CheckResult] = []
    result, config = check_config(config_path)
    results.append(result)
    if config is None:
        return results

    hardware = PostHardware(config, pin_factory=pin_factory)
    try:
        hardware.start(on_panic=lambda: None)
        if "button" in options.skip:
            results.append(CheckResult("button", SKIP, "skipped"))
        else:
            results.append(check_button(hardware.panic_button, prompt, options.button_timeout))
        if hardware.checkin_button is not None:
            if "checkin" in options.skip or "button" in options.skip:
                results.append(CheckResult("checkin", SKIP, "skipped"))
            else:
                results.append(check_checkin_button(hardware.checkin_button, prompt, options.button_timeout))
        results.append(check_outputs(hardware, config, prompt, options.interactive_outputs))
    except Exception as exc:
        results.append(CheckResult("gpio", FAIL, f"cannot open GPIO: {exc} (is poskamling-edge still running?)"[:200]))
    finally:
        hardware.stop()

    cameras = list(getattr(config, "cameras", []) or [])
    if "cameras" in options.skip:
        results.extend(CheckResult(f"camera:{c.name}", SKIP, "skipped") for c in cameras)
    else:
        results.extend(check_camera(c, options.camera_seconds, camera_opener) for c in cameras)

    results.append(check_broker(config, options.broker_timeout))
    results.append(check_clock(clock_synced or kernel_clock_synced))
    results.append(check_outbox(config.data_dir, int(config.outbox_max_mb * 1024 * 1024)))

    if options.walk_test:
        outbox = Outbox(config.data_dir / "outbox.sqlite", config.device_id, int(config.outbox_max_mb * 1024 * 1024))
        agent = EdgeAgent(config, PostHardware(config, pin_factory=pin_factory), outbox, version="doctor")
        prompt.say("Walk test: mengirim panik UJI (test) ke hub / sending a TEST panic to the hub...")
        results.append(walk_test(agent, options.walk_timeout))
    return results
