"""A lean post (issue 17 item 5): memory and CPU per frame of the real edge agent, against Motion.

Usage: nice -n 10 .venv/bin/python bench/bench_lean_post.py [--rounds N] [--window S] [--warmup S] [--out NAME]

Prints one JSON document and writes bench/results/<NAME>.json (default lean_post). Three processes
run **side by side, measured over the same windows**, so the load of the shared machine (other
engineers' benchmarks, cache pressure) falls on all of them alike and the ratio is fair:

* the real `poskamling edge` agent process (mock pins, a Mosquitto broker from poskamling/broker.py)
  with one file camera looping a 640x480 MJPG clip at 5 fps (every frame analysed, evidence ring on);
* the same agent without a camera (another device account on the same broker);
* Debian's `motion` daemon (if `motion` is on the PATH) on the same clip at 5 fps, as the baseline.

After a warm-up, `--rounds` windows of `--window` seconds each: CPU time (utime + stime of the whole
process, every thread) over each window divided by the frames in it (5 fps x window; for the agent,
checked against the analysed fps it reports in its health telemetry). The ratio agent / Motion is
given per round and over all rounds. RSS (VmRSS, VmHWM) and USS/PSS (/proc/<pid>/smaps_rollup) are
read at the end of the last window. The load average and CPU steal during the run are recorded too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CpuSteal, emit, wait
from edge.camera.synthetic import make_clip, write_clip
from poskamling.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parent.parent
FPS = 5.0
SIZE = (640, 480)
DEVICE = "pos-lean"
DEVICE_NO_CAMERA = "pos-lean-nocam"
MONITOR = ("bench-monitor", secrets.token_urlsafe(18))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of every thread of `pid` in seconds (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def memory(pid: int) -> dict[str, float]:
    """VmRSS / VmHWM (status) and Rss / Pss / USS (smaps_rollup) in MB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            number = int(value.split()[0])
            out[key] = number if key == "Threads" else round(number / 1024, 1)
    rollup: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            rollup[key] = int(parts[0])
    out["Pss_MB"] = round(rollup.get("Pss", 0) / 1024, 1)
    out["USS_MB"] = round((rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)) / 1024, 1)
    out["Anonymous_MB"] = round(rollup.get("Anonymous", 0) / 1024, 1)
    return out


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


class HealthWatch:
    """Keeps the camera fps from the agent's latest health telemetry (a read-only monitor account)."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.fps: list[float] = []
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=MONITOR[0], protocol=mqtt.MQTTv5)
        self._client.username_pw_set(*MONITOR)
        self._client.on_connect = lambda client, *_: client.subscribe(f"kamling/v1/{DEVICE}/health", qos=1)
        self._client.on_message = self._on_message
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()

    def _on_message(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        cameras = payload.get("cameras") if isinstance(payload, dict) else None
        fps = cameras.get("cam") if isinstance(cameras, dict) else None
        if isinstance(fps, (int, float)):
            self.fps.append(float(fps))

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


class Process:
    """One measured process: its pid, whether it still runs, and its CPU time at the last mark."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log
        self.windows: list[dict[str, float]] = []
        self._mark: tuple[float, float] | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None and Path(f"/proc/{self.proc.pid}").exists()

    def mark(self) -> None:
        user, system = cpu_times(self.proc.pid)
        self._mark = (user + system, user)

    def close_window(self, elapsed: float) -> None:
        assert self._mark is not None
        user, system = cpu_times(self.proc.pid)
        cpu = user + system - self._mark[0]
        self.windows.append(
            {
                "window_s": round(elapsed, 1),
                "cpu_s": round(cpu, 3),
                "cpu_user_s": round(user - self._mark[1], 3),
                "cpu_ms_per_frame_at_5fps": round(1000 * cpu / (FPS * elapsed), 3),
            }
        )

    def summary(self) -> dict[str, Any]:
        elapsed = sum(w["window_s"] for w in self.windows)
        cpu = sum(w["cpu_s"] for w in self.windows)
        return {
            "window_s": round(elapsed, 1),
            "cpu_s": round(cpu, 3),
            "cpu_user_s": round(sum(w["cpu_user_s"] for w in self.windows), 3),
            "cpu_pct_of_one_core": round(100 * cpu / elapsed, 2),
            "cpu_ms_per_frame_at_5fps": round(1000 * cpu / (FPS * elapsed), 3),
            "cpu_ms_per_frame_per_round": [w["cpu_ms_per_frame_at_5fps"] for w in self.windows],
            "memory": memory(self.proc.pid),
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


def measure_side_by_side(processes: list[Process], warmup: float, rounds: int, window: float) -> list[float]:
    """Warm up, then `rounds` windows in which every process is measured over the same interval."""
    for process in processes:
        wait(process.alive, 30)
    time.sleep(warmup)  # a fixed warm-up, not a condition: the processes settle their caches and threads
    loads = []
    for _ in range(rounds):
        for process in processes:
            process.mark()
        started = time.monotonic()
        loads.append(loadavg())
        time.sleep(window)  # the fixed measurement window
        elapsed = time.monotonic() - started
        for process in processes:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited: see {process.log}")
            process.close_window(elapsed)
    loads.append(loadavg())
    return loads


def edge_config(workdir: Path, broker: MosquittoBroker, password: str, clip: Path | None) -> Path:
    data: dict[str, Any] = {
        "device_id": DEVICE if clip else DEVICE_NO_CAMERA,
        "mqtt": {"host": broker.host, "port": broker.port, "password": password, "keepalive": 5},
        "panic_button": {"pin": "GPIO17"},
        "data_dir": str(workdir / ("data-cam" if clip else "data")),
        "health_interval": 5,
        "cameras": [{"name": "cam", "source": f"file:{clip}", "detect_fps": FPS}] if clip else [],
    }
    path = workdir / ("edge-cam.yaml" if clip else "edge.yaml")
    path.write_text(yaml.safe_dump(data))
    return path


def start_agent(workdir: Path, broker: MosquittoBroker, password: str, clip: Path | None) -> Process:
    config = edge_config(workdir, broker, password, clip)
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "PYTHONPATH": str(ROOT)}
    log = workdir / f"agent-{'cam' if clip else 'nocam'}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "poskamling.cli", "edge", "--config", str(config)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    return Process("agent with camera" if clip else "agent without camera", proc, log)


MOTION_CONF = """\
daemon off
setup_mode off
log_level 4
target_dir {target}
pid_file {target}/motion.pid
netcam_url file://{clip}
width {width}
height {height}
framerate {fps}
threshold 1500
event_gap 10
picture_output off
movie_output off
snapshot_interval 0
webcontrol_port 0
stream_port 0
"""


def start_motion(workdir: Path, clip: Path) -> Process | None:
    binary = shutil.which("motion")
    if binary is None:
        return None
    target = workdir / "motion"
    target.mkdir()
    conf = target / "motion.conf"
    conf.write_text(MOTION_CONF.format(target=target, clip=clip, width=SIZE[0], height=SIZE[1], fps=int(FPS)))
    log = workdir / "motion.log"
    proc = subprocess.Popen([binary, "-n", "-c", str(conf)], stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return Process("motion", proc, log)


def motion_details(process: Process) -> dict[str, Any]:
    binary = shutil.which("motion") or "motion"
    version = subprocess.run([binary, "-h"], capture_output=True, text=True).stdout.splitlines()
    return {
        "note": "motion reads the file at capture_rate 6 (framerate + 1; the clip is 5 fps) and analyses 5 fps",
        "version": next((line.strip() for line in version if "version" in line.lower()), None),
        "log_tail": process.log.read_text(errors="replace").splitlines()[-3:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="measurement windows")
    parser.add_argument("--window", type=float, default=30.0, help="seconds per window")
    parser.add_argument("--warmup", type=float, default=15.0, help="settling time before the first window (s)")
    parser.add_argument("--out", default="lean_post")
    parser.add_argument("--skip-motion", action="store_true")
    args = parser.parse_args()

    steal = CpuSteal()
    with tempfile.TemporaryDirectory(prefix="bench-lean-") as tmp:
        workdir = Path(tmp)
        clip = write_clip(make_clip("crossing", *SIZE, fps=FPS), workdir / "clip.avi", fps=FPS)
        passwords = {DEVICE: secrets.token_urlsafe(18), DEVICE_NO_CAMERA: secrets.token_urlsafe(18)}
        broker = MosquittoBroker(workdir / "broker", accounts=dict(passwords), monitor_users=[])
        broker.accounts[MONITOR[0]] = MONITOR[1]
        broker.monitor_users.append(MONITOR[0])
        broker.start()
        processes: list[Process] = []
        watch: HealthWatch | None = None
        try:
            camera = start_agent(workdir, broker, passwords[DEVICE], clip)
            processes.append(camera)
            no_camera = start_agent(workdir, broker, passwords[DEVICE_NO_CAMERA], None)
            processes.append(no_camera)
            motion = None if args.skip_motion else start_motion(workdir, clip)
            if motion is not None:
                processes.append(motion)
            watch = HealthWatch(broker)
            loads = measure_side_by_side(processes, args.warmup, args.rounds, args.window)
            wait(lambda: watch is not None and watch.fps, 30)
            with_camera, without_camera = camera.summary(), no_camera.summary()
            fps = watch.fps[-1]
            with_camera["analysed_fps_reported"] = fps
            with_camera["cpu_ms_per_analysed_frame"] = round(
                1000 * with_camera["cpu_s"] / (fps * with_camera["window_s"]), 3
            )
            motion_result: dict[str, Any] = (
                {"skipped": True}
                if args.skip_motion
                else {"installed": False, "note": "motion not on the PATH (apt-get install motion)"}
                if motion is None
                else {**motion.summary(), **motion_details(motion)}
            )
        finally:
            if watch is not None:
                watch.stop()
            for process in processes:
                process.stop()
            broker.stop()
        clip_bytes = clip.stat().st_size

    agent_ms = with_camera["cpu_ms_per_frame_at_5fps"]
    motion_ms = motion_result.get("cpu_ms_per_frame_at_5fps")
    per_round = (
        [
            round(a / m, 3)
            for a, m in zip(
                with_camera["cpu_ms_per_frame_per_round"], motion_result["cpu_ms_per_frame_per_round"], strict=True
            )
        ]
        if motion_ms
        else None
    )
    result = {
        "benchmark": "lean post: edge agent memory and CPU per frame vs Debian's motion daemon (issue 17 item 5)",
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "cpu_steal_pct": steal.percent(),
            "loadavg_1m_at_each_window_and_end": loads,
            "note": (
                "shared 2-core VM, run under nice -n 10; the agents and Motion run side by side and are measured "
                "over the same windows; CPU time counts every thread of the process"
            ),
        },
        "clip": {"size": list(SIZE), "fps": FPS, "codec": "MJPG in AVI", "scenario": "crossing", "bytes": clip_bytes},
        "agent_with_camera": with_camera,
        "agent_without_camera": without_camera,
        "motion": motion_result,
        "ratios": {
            "agent_vs_motion_cpu_per_frame": round(agent_ms / motion_ms, 3) if motion_ms else None,
            "agent_vs_motion_cpu_per_frame_per_round": per_round,
            "agent_rss_mb_with_camera": with_camera["memory"]["VmRSS"],
            "target_rss_mb": 80,
            "target_cpu_ratio": 0.5,
        },
    }
    emit(args.out, result)


if __name__ == "__main__":
    main()
