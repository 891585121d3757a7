"""Each extra on its own, installed for real, runs its commands against a real broker (issue 16).

A post's Raspberry Pi gets `pip install '.[edge]'` and nothing else (scripts/install-edge.sh);
the hub server gets `.[hub]`. Until issue 16 `poskamling edge` on such a Pi died with
`ModuleNotFoundError: No module named 'tinydb'` because the command module imported hub code,
and no test noticed: the dev venv has every extra.

Here each extra gets a fresh venv of its own (`python -m venv` from the dev venv's base
interpreter, then the installer's `pip install <source>[<extra>]`, not editable), built from
a copy of the files git tracks, so the build writes nothing into the work tree and a file that
was never `git add`-ed is missing here just as it would be on a Pi. Then, against a real
Mosquitto with per-device credentials and ACL (the conftest fixtures):

  edge venv  `poskamling edge` comes online at a hub running elsewhere (the test's own, in the
             dev venv); `poskamling edge doctor` passes its button, LED/buzzer and broker checks
             on mock pins; `poskamling sim run` + `sim press` deliver a panic and the officer is
             paged.
  hub venv   `poskamling hub` stores a panic pressed at a post in the dev venv, shows it to an
             API token holder and pages the officer.

The first run downloads the extras' wheels (OpenCV, numpy, FastAPI, ...); pip's cache makes
later runs take about a minute (both venvs are built at once).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.fault.rig import HubProcess
from tests.support import post_entry, wait_for

PIP_TIMEOUT = 600  # a cold pip cache downloads OpenCV and numpy
# The first run may download the extras' wheels inside the first test's fixture: more than the
# suite's 300 s per test on a slow line.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(PIP_TIMEOUT + 300)]

REPO = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT = 60
START_TIMEOUT = 30
STOP_TIMEOUT = 20
PAGE_TIMEOUT = 20

# What each side needs, and what it must not have: otherwise the test could pass by accident.
EDGE_NEEDS = ("paho", "gpiozero", "cv2", "numpy", "pydantic", "yaml", "typer")
HUB_ONLY = ("tinydb", "fastapi", "uvicorn", "apprise", "starlette", "argon2", "jinja2", "prometheus_client")
HUB_NEEDS = ("paho", "tinydb", "fastapi", "uvicorn", "apprise", "jinja2", "argon2")
EDGE_ONLY = ("gpiozero", "cv2")

# Environment of the processes run from the venvs: nothing may lead them back to the source tree
# or the dev venv, and no systemd of ours is listening.
SCRUBBED = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "VIRTUAL_ENV",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
)

PROBE = textwrap.dedent(
    """\
    import importlib.util, json, sys
    from importlib import metadata
    dist = metadata.distribution("poskamling")
    direct_url = dist.read_text("direct_url.json")
    print(json.dumps({
        "modules": {name: importlib.util.find_spec(name) is not None for name in sys.argv[1:]},
        "version": dist.version,
        "location": str(dist.locate_file("")),
        "direct_url": json.loads(direct_url) if direct_url else None,
        "path": sys.path,
    }))
    """
)


# ---- the installs ----------------------------------------------------------------------------


def tracked_copy(dest: Path) -> Path:
    """The work tree's version of every file git tracks, and nothing else (no venv, caches, egg-info)."""
    listing = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached"], capture_output=True, check=True, timeout=COMMAND_TIMEOUT
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = REPO / name
        if source.is_dir() or not (source.exists() or source.is_symlink()):
            continue  # a submodule, or deleted in the work tree and not committed yet
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    assert (dest / "pyproject.toml").is_file(), "git ls-files listed no pyproject.toml"
    return dest


def untracked_note() -> str:
    """For failure messages: Python files of the project's packages that git does not track,
    which the install therefore lacks (a ModuleNotFoundError for one of them means `git add`)."""
    listing = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--others", "--exclude-standard", "--", "*.py"],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    ).stdout.split()
    shipped = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    ours = [name for name in listing if "/" in name and any(fnmatch(name.split("/")[0], p) for p in shipped)]
    if not ours:
        return ""
    return f"\n(the install has only files git tracks; not tracked in the work tree: {', '.join(ours[:20])})"


def clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SCRUBBED}
    env.update(PYTHONUNBUFFERED="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def checked(proc: subprocess.CompletedProcess[str], what: str) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (
        f"{what}: exit {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
        + untracked_note()
    )
    return proc


@dataclass(frozen=True)
class Install:
    """A venv holding poskamling with one extra, and a scratch folder its commands run in."""

    extra: str
    venv: Path
    source: Path
    workdir: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def command(self) -> Path:
        return self.venv / "bin" / "poskamling"

    def run(
        self, args: Sequence[str], env: dict[str, str] | None = None, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """`poskamling <args>` from this venv; never raises on a non-zero exit."""
        return subprocess.run(
            [str(self.command), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=clean_env(**(env or {})),
            timeout=timeout,
            check=False,
        )

    def probe(self, *modules: str) -> dict[str, Any]:
        proc = subprocess.run(
            [str(self.python), "-c", PROBE, *modules],
            capture_output=True,
            text=True,
            cwd=self.workdir,
            env=clean_env(),
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        return json.loads(checked(proc, f"probe of the {self.extra} venv").stdout)

    def assert_alone(self, needs: Sequence[str], lacks: Sequence[str]) -> str:
        """The installed package is this venv's own non-editable copy, with exactly its extra's
        libraries around it; returns the installed version."""
        found = self.probe(*needs, *lacks)
        missing = [name for name in needs if not found["modules"][name]]
        leaked = [name for name in lacks if found["modules"][name]]
        assert not missing, f"the {self.extra} venv lacks {missing}: the [{self.extra}] extra is incomplete"
        assert not leaked, f"the {self.extra} venv has {leaked}: it does not test the [{self.extra}] extra alone"
        assert Path(found["location"]).resolve().is_relative_to(self.venv.resolve()), found["location"]
        direct_url = found["direct_url"] or {}
        assert not direct_url.get("dir_info", {}).get("editable", False), f"an editable install: {direct_url}"
        assert direct_url.get("url", "").startswith(self.source.resolve().as_uri()), f"not from the copy: {direct_url}"
        repo = REPO.resolve()
        on_path = [p for p in found["path"] if p and Path(p).resolve() == repo]
        assert not on_path, f"the source tree is on sys.path: {found['path']}"
        assert found["version"] and found["version"] != "dev"
        return str(found["version"])


def build_install(root: Path, extra: str) -> Install:
    """What install-<extra>.sh does: a venv, then `pip install <source>[<extra>]` (not editable).

    Two shortcuts that change nothing installed: the venv gets no pip of its own (ensurepip takes
    half a minute on a busy machine); the dev venv's pip installs into it (`pip --python`). And
    no byte-compiling (Python compiles what it imports).
    """
    source = tracked_copy(root / f"source-{extra}")  # one copy each: pip builds in the source folder
    venv = root / f"venv-{extra}"
    workdir = root / f"run-{extra}"
    workdir.mkdir()
    checked(
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv)],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=COMMAND_TIMEOUT,
            check=False,
        ),
        f"python -m venv for [{extra}]",
    )
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"]
    proc = subprocess.run(
        [*pip, "--disable-pip-version-check", "--quiet", "--no-compile", f"{source}[{extra}]"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=clean_env(),
        timeout=PIP_TIMEOUT,
        check=False,
    )
    checked(proc, f"pip install {source}[{extra}] (the first run needs PyPI; later runs use pip's cache)")
    install = Install(extra, venv, source, workdir)
    assert install.command.is_file(), f"pip finished but {install.command} is missing"
    return install


@pytest.fixture(scope="module")
def installs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Install]:
    """Both venvs, built at the same time (each takes tens of seconds, mostly pip)."""
    root = tmp_path_factory.mktemp("extras")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {extra: pool.submit(build_install, root, extra) for extra in ("edge", "hub")}
        return {extra: future.result() for extra, future in futures.items()}


@pytest.fixture
def edge_install(installs: dict[str, Install]) -> Install:
    return installs["edge"]


@pytest.fixture
def hub_install(installs: dict[str, Install]) -> Install:
    return installs["hub"]


# ---- long-running commands -------------------------------------------------------------------


class Running:
    """A `poskamling` process from a venv, its output in a log file."""

    def __init__(self, install: Install, args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.log = log
        with open(log, "wb") as handle:
            self.proc = subprocess.Popen(
                [str(install.command), *args],
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=install.workdir,
                env=clean_env(**(env or {})),
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        """True while it runs; an early exit fails the test with the process's output."""
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(
                f"`poskamling {' '.join(self.args)}` exited with {code}:\n{self.output()[-4000:]}{untracked_note()}"
            )
        return True

    def terminate(self) -> int:
        """SIGTERM, as systemd stops a unit; the exit code (killed and failed after STOP_TIMEOUT)."""
        self.alive()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"`poskamling {' '.join(self.args)}` ignored SIGTERM for {STOP_TIMEOUT}s:\n{self.output()[-4000:]}"
            ) from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start `poskamling <args>` from a venv; whatever still runs at the end is killed."""
    started: list[Running] = []

    def start(install: Install, args: Sequence[str], name: str, env: dict[str, str] | None = None) -> Running:
        running = Running(install, args, tmp_path / f"{name}.log", env)
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()


@dataclass
class InstalledHub(HubProcess):
    """The fault rig's hub (config file, API token, health, API calls), run from the hub venv."""

    install: Install | None = None
    running: Running | None = field(default=None, repr=False)

    def start(self) -> None:
        assert self.install is not None
        path = self.write_config()
        running = self.running = Running(self.install, ["hub", "--config", str(path)], self.workdir / "hub.log")
        wait_for(
            lambda: running.alive() and self.health().get("mqtt_connected"),
            timeout=START_TIMEOUT,
            what="`poskamling hub` from the hub venv serving its API, connected to the broker",
        )

    def stop(self) -> None:
        if self.running is not None:
            self.running.kill()


# ---- helpers ---------------------------------------------------------------------------------


def write_edge_config(post: Any, path: Path, data_dir: Path) -> Path:
    """The test post's edge config (conftest's make_post: this device's own broker credential, mock
    pin numbers) as the YAML file a Pi has, with a data folder of its own."""
    data = post.config.model_dump(mode="json")
    data["mqtt"]["password"] = post.config.mqtt.password.get_secret_value()
    data["data_dir"] = str(data_dir)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


FINGER = textwrap.dedent(
    """\
    # The technician's finger for `poskamling edge doctor` on mock pins (tests/deploy/test_extras_install.py):
    # when the doctor waits for the panic button, press it (and hold it) on its mock pin first.
    # Everything else, the event that reaches the doctor included, is gpiozero's own.
    # Both kinds of button: gpiozero's Button (hold-to-confirm) and the agent's Switch (edge/hardware.py,
    # a DigitalInputDevice whose wait_for_press is wait_for_active, taken when edge.hardware is imported).
    import gpiozero

    def _pressing(wait):
        def _press_then_wait(self, timeout=None):
            pin = self.pin
            if hasattr(pin, "drive_low"):  # a gpiozero MockPin; a real pin is left to a real finger
                pin.drive_low() if self.pull_up else pin.drive_high()
            return wait(self, timeout)

        return _press_then_wait

    gpiozero.Button.wait_for_press = _pressing(gpiozero.Button.wait_for_press)
    gpiozero.DigitalInputDevice.wait_for_active = _pressing(gpiozero.DigitalInputDevice.wait_for_active)
    """
)


def post_state(api: httpx.Client, device: str) -> dict[str, Any]:
    response = api.get("/api/posts")
    assert response.status_code == 200, response.text
    return next(p for p in response.json() if p["device_id"] == device)


def panic_events(api: httpx.Client, device: str) -> list[dict[str, Any]]:
    response = api.get("/api/events", params={"device": device, "kind": "panic"})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def panic_page(sink: Any, post_name: str) -> Any:
    page = sink.wait_for(
        lambda r: r.path == "/officer" and "PANIK" in r.body.get("title", "") and post_name in r.body.get("title", ""),
        timeout=PAGE_TIMEOUT,
    )
    assert page is not None, f"the officer was not paged for {post_name}; the sink got {sink.received}"
    return page


TABLE_ROW = re.compile(r"^(?P<name>\S+)\s+(?P<status>PASS|FAIL|SKIP)\s+(?P<detail>.*)$")


def doctor_table(stdout: str) -> dict[str, tuple[str, str]]:
    """{check: (status, detail)} from the table `poskamling edge doctor` prints last."""
    table = stdout[stdout.rindex("check  ") :] if "check  " in stdout else ""
    return {m["name"]: (m["status"], m["detail"]) for m in map(TABLE_ROW.match, table.splitlines()) if m}


# ---- the edge extra alone ----------------------------------------------------------------------

EDGE_DEVICE = "pos-rw07"
EDGE_POST_NAME = "Pos Kamling RW 07"


def test_edge_extra_alone_runs_the_agent_the_doctor_and_a_panic(
    edge_install: Install,
    make_hub: Callable[..., Any],
    make_post: Callable[..., Any],
    sink: Any,
    broker: Any,
    spawn: Callable[..., Running],
    tmp_path: Path,
) -> None:
    version = edge_install.assert_alone(needs=EDGE_NEEDS, lacks=HUB_ONLY)
    hub = make_hub([post_entry(EDGE_DEVICE, EDGE_POST_NAME)])  # the hub "elsewhere": this process, the dev venv
    api = hub.client("operator")
    post = make_post(EDGE_DEVICE, start=False)  # provisions the device on the broker; we use its config, not its agent
    config = write_edge_config(post, tmp_path / "edge.yaml", tmp_path / "edge-data")

    # 1. The agent, as the poskamling-edge unit runs it (mock pins instead of a Pi's GPIO).
    agent = spawn(edge_install, ["edge", "--config", str(config)], "edge-agent", env={"GPIOZERO_PIN_FACTORY": "mock"})
    wait_for(
        lambda: agent.alive() and post_state(api, EDGE_DEVICE)["online"],
        timeout=START_TIMEOUT,
        what="the edge-only agent online at the hub",
    )
    assert post_state(api, EDGE_DEVICE)["version"] == version, "the post reports the installed version"
    assert f"edge agent {EDGE_DEVICE} running" in agent.output()
    assert agent.terminate() == 0, agent.output()[-4000:]
    wait_for(lambda: not post_state(api, EDGE_DEVICE)["online"], what="the hub sees the stopped agent offline")
    assert "Traceback" not in agent.output(), agent.output()[-4000:]

    # 2. The doctor on the same config, with the agent stopped as its help says. The button is a mock
    # pin in the doctor's process, so the technician's finger comes with it (FINGER above).
    finger = tmp_path / "finger"
    finger.mkdir()
    (finger / "sitecustomize.py").write_text(FINGER, encoding="utf-8")
    doctor = edge_install.run(
        ["edge", "doctor", "--config", str(config), "--yes", "--button-timeout", str(START_TIMEOUT)],
        env={"GPIOZERO_PIN_FACTORY": "mock", "PYTHONPATH": str(finger)},
    )
    rows = doctor_table(doctor.stdout)
    report = f"exit {doctor.returncode}\nstdout:\n{doctor.stdout[-4000:]}\nstderr:\n{doctor.stderr[-4000:]}"
    if not rows:
        report += untracked_note()
    assert set(rows) == {"config", "button", "outputs", "broker", "clock", "outbox"}, report
    for check in ("config", "button", "outputs", "broker", "outbox"):
        assert rows[check][0] == "PASS", f"{check}: {rows[check]}\n{report}"
    assert rows["broker"][1] == f"{broker.host}:{broker.port} as {EDGE_DEVICE}", report
    assert rows["outputs"][1] == "LED blinking, buzzer chirped", report
    # The clock check asks this machine's kernel whether NTP synchronised it: a container or a CI
    # runner may say no, and the doctor must then say so and exit 1, nothing else.
    clock_status, clock_detail = rows["clock"]
    if clock_status == "FAIL":
        assert clock_detail.startswith("not synchronised"), report
    assert doctor.returncode == (1 if clock_status == "FAIL" else 0), report
    assert "Traceback" not in doctor.stderr, report

    # 3. A panic from the edge-only install: a simulated post (a real agent on mock pins) from the
    # edge venv, pressed through its control socket with `poskamling sim press`.
    sim_dir = tmp_path / "sim"
    sim_dir.mkdir()
    sim = spawn(edge_install, ["sim", "run", str(config), "--control", str(sim_dir / "sim.sock")], "sim-run")
    wait_for(
        lambda: sim.alive() and (sim_dir / "sim.sock").exists() and post_state(api, EDGE_DEVICE)["online"],
        timeout=START_TIMEOUT,
        what="the edge venv's simulated post online, its control socket open",
    )
    press = edge_install.run(["sim", "press", EDGE_DEVICE, "--dir", str(sim_dir)])
    assert press.returncode == 0, f"stdout:\n{press.stdout}\nstderr:\n{press.stderr}{untracked_note()}"
    assert f"panic button of {EDGE_DEVICE} pressed" in press.stdout

    page = panic_page(sink, EDGE_POST_NAME)
    assert "/alerts/" in page.body["message"]
    events = wait_for(lambda: panic_events(api, EDGE_DEVICE), what="the panic in the hub's event log")
    assert len(events) == 1 and events[0]["test"] is False
    panics = [a for a in api.get("/api/alerts").json() if a["kind"] == "panic"]
    assert len(panics) == 1 and panics[0]["device"] == EDGE_DEVICE
    wait_for(lambda: api.get(f"/api/alerts/{panics[0]['id']}").json()["state"] == "notified", what="alert notified")
    wait_for(lambda: post_state(api, EDGE_DEVICE)["last_seq"] == events[0]["seq"], what="the post's seq at the hub")

    assert sim.terminate() == 0, sim.output()[-4000:]
    assert "Traceback" not in sim.output(), sim.output()[-4000:]


# ---- the hub extra alone -----------------------------------------------------------------------

HUB_DEVICE = "pos-rw08"


def test_hub_extra_alone_stores_a_panic_and_pages_the_officer(
    hub_install: Install,
    make_post: Callable[..., Any],
    sink: Any,
    broker: Any,
    tmp_path: Path,
) -> None:
    hub_install.assert_alone(needs=HUB_NEEDS, lacks=EDGE_ONLY)
    hub = InstalledHub(tmp_path / "hub", broker, [HUB_DEVICE], sink.url("officer"), install=hub_install)
    try:
        hub.start()
        running = hub.running
        assert running is not None
        api = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=10)
        assert httpx.get(f"{hub.url}/api/posts", timeout=10).status_code == 401, "the API wants a token"

        # A post elsewhere: a real edge agent on mock pins in this process (the dev venv).
        post = make_post(HUB_DEVICE)
        wait_for(
            lambda: running.alive() and post_state(api, HUB_DEVICE)["online"],
            timeout=START_TIMEOUT,
            what="the post online at the hub-only hub",
        )
        post.press()

        page = panic_page(sink, f"Pos {HUB_DEVICE}")
        assert "/alerts/" in page.body["message"]
        events = wait_for(lambda: panic_events(api, HUB_DEVICE), what="the panic in the hub-only hub's event log")
        assert len(events) == 1 and events[0]["seq"] == 1 and events[0]["test"] is False
        panics = [a for a in api.get("/api/alerts").json() if a["kind"] == "panic"]
        assert len(panics) == 1 and panics[0]["device"] == HUB_DEVICE
        wait_for(lambda: api.get(f"/api/alerts/{panics[0]['id']}").json()["state"] == "notified", what="alert notified")
        wait_for(lambda: post.agent.outbox.depth() == 0, what="the hub acked the event to the post")
        assert hub.health()["events_accepted"] >= 1

        assert running.terminate() == 0, hub.log_tail(60)
        assert "Traceback" not in running.output(), hub.log_tail(60)
    finally:
        hub.stop()
