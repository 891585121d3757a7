"""A lean post (issue 17 item 5): memory and CPU per frame of the real edge agent, against Motion.

Usage: nice -n 10 .venv/bin/python bench/bench_lean_post.py [--window S] [--warmup S] [--out NAME]

Prints one JSON document and writes bench/results/<NAME>.json (default lean_post). In one run:

* the real `poskamling edge` agent process (mock pins, a Mosquitto broker from poskamling/broker.py)
  with one file camera looping a 640x480 MJPG clip at 5 fps (every frame analysed, evidence ring on);
* the same agent without a camera;
* Debian's `motion` daemon (if `motion` is on the PATH) on the same clip at 5 fps, as the baseline.

For each: RSS (VmRSS, VmHWM) and USS/PSS (/proc/<pid>/smaps_rollup) at the end of a fixed window,
and CPU time (utime + stime of the whole process, every thread) over the window divided by the
frames in the window (5 fps x window; for the agent, checked against the analysed fps it reports in
its health telemetry). The load average and CPU steal during the run are recorded too.
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


def measure(pid: int, warmup: float, window: float, alive: Any) -> dict[str, Any]:
    wait(alive, 30)
    time.sleep(warmup)  # a fixed warm-up, not a condition: the process settles its caches and threads
    load_before = loadavg()
    (user0, sys0), t0 = cpu_times(pid), time.monotonic()
    time.sleep(window)  # the fixed measurement window
    (user1, sys1), t1 = cpu_times(pid), time.monotonic()
    mem = memory(pid)
    elapsed = t1 - t0
    cpu = (user1 - user0) + (sys1 - sys0)
    return {
        "window_s": round(elapsed, 1),
        "cpu_s": round(cpu, 3),
        "cpu_user_s": round(user1 - user0, 3),
        "cpu_system_s": round(sys1 - sys0, 3),
        "cpu_pct_of_one_core": round(100 * cpu / elapsed, 2),
        "cpu_ms_per_frame_at_5fps": round(1000 * cpu / (FPS * elapsed), 3),
        "memory": mem,
        "loadavg_1m_before_after": [load_before, loadavg()],
    }


def edge_config(workdir: Path, broker: MosquittoBroker, password: str, clip: Path | None) -> Path:
    data: dict[str, Any] = {
        "device_id": DEVICE,
        "mqtt": {"host": broker.host, "port": broker.port, "password": password, "keepalive": 5},
        "panic_button": {"pin": "GPIO17"},
        "data_dir": str(workdir / ("data-cam" if clip else "data")),
        "health_interval": 5,
        "cameras": [{"name": "cam", "source": f"file:{clip}", "detect_fps": FPS}] if clip else [],
    }
    path = workdir / ("edge-cam.yaml" if clip else "edge.yaml")
    path.write_text(yaml.safe_dump(data))
    return path


def run_agent(
    workdir: Path, broker: MosquittoBroker, password: str, clip: Path | None, warmup: float, window: float
) -> dict[str, Any]:
    config = edge_config(workdir, broker, password, clip)
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "PYTHONPATH": str(ROOT)}
    log = (workdir / f"agent-{'cam' if clip else 'nocam'}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "poskamling.cli", "edge", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    watch = HealthWatch(broker)
    try:
        result = measure(proc.pid, warmup, window, lambda: proc.poll() is None and Path(f"/proc/{proc.pid}").exists())
        if clip is not None:
            wait(lambda: watch.fps, 30)
            fps = watch.fps[-1]
            result["analysed_fps_reported"] = fps
            result["cpu_ms_per_analysed_frame"] = round(1000 * result["cpu_s"] / (fps * result["window_s"]), 3)
        if proc.poll() is not None:
            raise RuntimeError(f"the agent exited: see {log.name}")
    finally:
        watch.stop()
        proc.terminate()
        proc.wait(20)
        log.close()
    return result


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


def run_motion(workdir: Path, clip: Path, warmup: float, window: float) -> dict[str, Any]:
    binary = shutil.which("motion")
    if binary is None:
        return {"installed": False, "note": "motion not on the PATH (apt-get install motion)"}
    target = workdir / "motion"
    target.mkdir()
    conf = target / "motion.conf"
    conf.write_text(MOTION_CONF.format(target=target, clip=clip, width=SIZE[0], height=SIZE[1], fps=int(FPS)))
    log = (workdir / "motion.log").open("wb")
    proc = subprocess.Popen([binary, "-n", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        result = measure(proc.pid, warmup, window, lambda: proc.poll() is None)
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
    version = subprocess.run([binary, "-h"], capture_output=True, text=True).stdout.splitlines()
    result["note"] = "motion reads the file at capture_rate 6 (framerate + 1; the clip is 5 fps) and analyses 5 fps"
    result["version"] = next((line.strip() for line in version if "version" in line.lower()), None)
    result["log_tail"] = (workdir / "motion.log").read_text(errors="replace").splitlines()[-3:]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=float, default=60.0, help="measurement window per process (s)")
    parser.add_argument("--warmup", type=float, default=10.0, help="settling time before the window (s)")
    parser.add_argument("--out", default="lean_post")
    parser.add_argument("--skip-motion", action="store_true")
    args = parser.parse_args()

    steal = CpuSteal()
    with tempfile.TemporaryDirectory(prefix="bench-lean-") as tmp:
        workdir = Path(tmp)
        clip = write_clip(make_clip("crossing", *SIZE, fps=FPS), workdir / "clip.avi", fps=FPS)
        password = secrets.token_urlsafe(18)
        broker = MosquittoBroker(workdir / "broker", accounts={DEVICE: password}, monitor_users=[])
        broker.accounts[MONITOR[0]] = MONITOR[1]
        broker.monitor_users.append(MONITOR[0])
        broker.start()
        try:
            with_camera = run_agent(workdir, broker, password, clip, args.warmup, args.window)
            without_camera = run_agent(workdir, broker, password, None, args.warmup, args.window)
        finally:
            broker.stop()
        motion = {"skipped": True} if args.skip_motion else run_motion(workdir, clip, args.warmup, args.window)
        clip_bytes = clip.stat().st_size

    agent_ms = with_camera["cpu_ms_per_frame_at_5fps"]
    motion_ms = motion.get("cpu_ms_per_frame_at_5fps")
    result = {
        "benchmark": "lean post: edge agent memory and CPU per frame vs Debian's motion daemon (issue 17 item 5)",
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "cpu_steal_pct": steal.percent(),
            "note": "shared 2-core VM, run under nice -n 10; CPU time counts every thread of the process",
        },
        "clip": {"size": list(SIZE), "fps": FPS, "codec": "MJPG in AVI", "scenario": "crossing", "bytes": clip_bytes},
        "agent_with_camera": with_camera,
        "agent_without_camera": without_camera,
        "motion": motion,
        "ratios": {
            "agent_vs_motion_cpu_per_frame": round(agent_ms / motion_ms, 3) if motion_ms else None,
            "agent_rss_mb_with_camera": with_camera["memory"]["VmRSS"],
            "target_rss_mb": 80,
            "target_cpu_ratio": 0.5,
        },
    }
    emit(args.out, result)


if __name__ == "__main__":
    main()
