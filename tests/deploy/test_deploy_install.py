"""The installers, run for real into temporary roots: tree, idempotence, switches, errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.deploy.deploy_helpers import (
    FIRMWARE_DIR,
    INSTALLER_TIMEOUT,
    REPO,
    SCRIPTS_DIR,
    SYSTEMD_DIR,
    diff,
    run_installer,
    snapshot,
)

STAGED = ("--no-user", "--no-systemctl", "--skip-pip")


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def actions(out: str) -> list[str]:
    """The installer's lines that report a change ("install-edge: created ...")."""
    verbs = ("created ", "installed /", "added ", "restarted ", "enabled ")
    return [line for line in out.splitlines() if line.partition(": ")[2].startswith(verbs)]


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def venv_python_runs(venv: Path) -> str:
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout.strip()


def pyvenv_cfg(venv: Path) -> dict[str, str]:
    lines = (venv / "pyvenv.cfg").read_text().splitlines()
    return {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in lines) if v}


# ---- staged installs (--root, no user, no systemctl, no pip) -------------------------------


def test_edge_staged_install_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    out = ok(run_installer("install-edge.sh", "--root", str(root), *STAGED))

    unit = root / "etc/systemd/system/poskamling-edge.service"
    assert unit.read_bytes() == (SYSTEMD_DIR / "poskamling-edge.service").read_bytes()
    assert mode(unit) == 0o644
    assert mode(root / "etc/poskamling") == 0o750
    assert mode(root / "var/lib/poskamling") == 0o750
    for example in ("edge-one-camera.yaml", "edge-two-cameras.yaml"):
        installed = root / "etc/poskamling/examples" / example
        assert installed.read_bytes() == (FIRMWARE_DIR / example).read_bytes()
        assert mode(installed) == 0o640
    assert not (root / "etc/poskamling/edge.yaml").exists(), "the real config comes from `poskamling device add`"
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists(), "--no-systemctl enables nothing"

    venv = root / "opt/poskamling/venv"
    assert venv_python_runs(venv) == str(venv)
    assert pyvenv_cfg(venv)["include-system-site-packages"] == "true", "lgpio comes from apt"
    # --skip-pip means exactly that: a working venv without the package (and without pip).
    assert "skipping pip install" in out
    assert not (venv / "bin" / "poskamling").exists()
    assert not (venv / "bin" / "pip").exists()
    assert "next: put the post's config at /etc/poskamling/edge.yaml" in out


def test_hub_staged_install_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ok(run_installer("install-hub.sh", "--root", str(root), *STAGED))
    unit = root / "etc/systemd/system/poskamling-hub.service"
    assert unit.read_bytes() == (SYSTEMD_DIR / "poskamling-hub.service").read_bytes()
    dropin = root / "etc/systemd/system/mosquitto.service.d/poskamling.conf"
    assert dropin.read_bytes() == (SYSTEMD_DIR / "mosquitto.service.d/poskamling.conf").read_bytes()
    assert not (root / "etc/systemd/system/poskamling-edge.service").exists()
    venv = root / "opt/poskamling/venv"
    assert venv_python_runs(venv) == str(venv)
    assert pyvenv_cfg(venv)["include-system-site-packages"] == "false"
    assert mode(root / "var/lib/poskamling") == 0o750


@pytest.mark.parametrize("script", ["install-edge.sh", "install-hub.sh"])
def test_second_run_changes_nothing(tmp_path: Path, script: str) -> None:
    root = tmp_path / "root"
    ok(run_installer(script, "--root", str(root), *STAGED))
    before = snapshot(root)
    out = ok(run_installer(script, "--root", str(root), *STAGED))
    assert diff(before, snapshot(root)) == []
    assert actions(out) == []


@pytest.mark.parametrize("script", ["install-edge.sh", "install-hub.sh"])
def test_changed_unit_is_updated(tmp_path: Path, script: str) -> None:
    root = tmp_path / "root"
    ok(run_installer(script, "--root", str(root), *STAGED))
    name = "poskamling-edge.service" if script == "install-edge.sh" else "poskamling-hub.service"
    unit = root / "etc/systemd/system" / name
    unit.write_text("# edited by hand\n")
    out = ok(run_installer(script, "--root", str(root), *STAGED))
    assert f"installed /etc/systemd/system/{name}" in out
    assert unit.read_bytes() == (SYSTEMD_DIR / name).read_bytes()


def test_destdir_is_the_same_as_root(tmp_path: Path) -> None:
    by_flag, by_env = tmp_path / "flag", tmp_path / "env"
    ok(run_installer("install-edge.sh", "--root", str(by_flag), *STAGED))
    ok(run_installer("install-edge.sh", *STAGED, env={"DESTDIR": str(by_env)}))

    def shape(root: Path) -> dict[str, tuple[str, int, str]]:
        return {
            path: (entry.kind, entry.mode, entry.detail)
            for path, entry in snapshot(root).items()
            if not path.startswith("opt/poskamling/venv/")  # its files name their own location
        }

    assert shape(by_flag) == shape(by_env)


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="systemctl is not installed")
@pytest.mark.parametrize(
    ("script", "unit"), [("install-edge.sh", "poskamling-edge.service"), ("install-hub.sh", "poskamling-hub.service")]
)
def test_staged_install_enables_with_systemctl_root(tmp_path: Path, script: str, unit: str) -> None:
    """Without --no-systemctl a staged install enables the unit offline (`systemctl --root`)."""
    root = tmp_path / "root"
    ok(run_installer(script, "--root", str(root), "--no-user", "--skip-pip"))
    link = root / "etc/systemd/system/multi-user.target.wants" / unit
    assert link.is_symlink() and os.readlink(link) == f"/etc/systemd/system/{unit}"
    before = snapshot(root)
    ok(run_installer(script, "--root", str(root), "--no-user", "--skip-pip"))
    assert diff(before, snapshot(root)) == []


# ---- errors: clear messages, nothing changed -----------------------------------------------


@pytest.mark.parametrize("script", ["install-edge.sh", "install-hub.sh"])
def test_root_needs_no_user(tmp_path: Path, script: str) -> None:
    proc = run_installer(script, "--root", str(tmp_path / "r"), "--no-systemctl", "--skip-pip")
    assert proc.returncode != 0
    assert "add --no-user" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_unknown_option(tmp_path: Path) -> None:
    proc = run_installer("install-edge.sh", "--root", str(tmp_path / "r"), "--frobnicate")
    assert proc.returncode != 0
    assert "unknown option '--frobnicate'" in proc.stderr
    assert "Usage:" in proc.stderr


def test_help() -> None:
    for script in ("install-edge.sh", "install-hub.sh"):
        proc = run_installer(script, "--help", python=None)
        assert proc.returncode == 0
        for option in ("--root", "--no-user", "--no-systemctl", "--skip-pip", "--python", "--source"):
            assert option in proc.stdout


def test_wrong_source(tmp_path: Path) -> None:
    proc = run_installer("install-hub.sh", "--root", str(tmp_path / "r"), *STAGED, "--source", str(tmp_path))
    assert proc.returncode != 0
    assert "is --source" in proc.stderr and "a poskamling checkout" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_old_or_missing_python(tmp_path: Path) -> None:
    proc = run_installer("install-edge.sh", "--root", str(tmp_path / "r"), *STAGED, python=str(tmp_path / "python9"))
    assert proc.returncode != 0
    assert "Python 3.11 or newer is needed" in proc.stderr
    assert not (tmp_path / "r").exists()


# ---- a real install into / with the service user, inside a private mount namespace ---------


def _can_use_mount_namespace() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, timeout=30, check=False
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not _can_use_mount_namespace(),
    reason="needs root and `unshare --mount` (user creation is tested in a private mount namespace)",
)
@pytest.mark.parametrize(("script", "extra_groups"), [("install-edge.sh", ("gpio", "video")), ("install-hub.sh", ())])
def test_install_into_slash_creates_user_and_owns_dirs(
    tmp_path: Path, script: str, extra_groups: tuple[str, ...]
) -> None:
    """Install into / for real, with /etc, /opt and /var/lib replaced by temporary copies in a
    private mount namespace: useradd, usermod and chown act for real, the host is untouched.

    First with --no-user (no user yet: a warning), then normally (creates the user, fixes
    ownership), then again (changes nothing)."""
    base = Path(sys.base_prefix)
    if any(base.is_relative_to(p) for p in (Path("/opt"), Path("/var/lib"), Path("/etc"))):
        pytest.skip(f"the test's Python lives under {base}, which the namespace replaces")
    fake_etc, fake_opt, fake_varlib = tmp_path / "etc", tmp_path / "opt", tmp_path / "varlib"
    shutil.copytree("/etc", fake_etc, symlinks=True, ignore_dangling_symlinks=True)
    shutil.rmtree(fake_etc / "poskamling", ignore_errors=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        path = fake_etc / name
        if path.exists():
            kept = [line for line in path.read_text().splitlines() if not line.startswith("poskamling:")]
            path.write_text("".join(f"{line}\n" for line in kept))
    fake_opt.mkdir()
    fake_varlib.mkdir()
    (fake_etc / ".poskamling-test-sentinel").write_text("")
    host_passwd = Path("/etc/passwd").read_bytes()
    shell = textwrap.dedent(
        """\
        set -euo pipefail
        mount --bind "$FAKE_ETC" /etc
        mount --bind "$FAKE_OPT" /opt
        mount --bind "$FAKE_VARLIB" /var/lib
        # Refuse to go on unless /etc really is the copy.
        [ -f /etc/.poskamling-test-sentinel ] || { echo "bind mount of /etc did not take" >&2; exit 97; }
        bash "$SCRIPT" --no-systemctl --skip-pip --python "$PYTHON" --no-user
        echo "=== with user"
        bash "$SCRIPT" --no-systemctl --skip-pip --python "$PYTHON"
        echo "=== again"
        bash "$SCRIPT" --no-systemctl --skip-pip --python "$PYTHON"
        echo "=== owners"
        stat -c '%U:%G %a %n' /etc/poskamling /var/lib/poskamling /opt/poskamling
        """
    )
    env = {
        **os.environ,
        "FAKE_ETC": str(fake_etc),
        "FAKE_OPT": str(fake_opt),
        "FAKE_VARLIB": str(fake_varlib),
        "SCRIPT": str(SCRIPTS_DIR / script),
        "PYTHON": sys.executable,
    }
    env.pop("DESTDIR", None)
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", shell],
        capture_output=True,
        text=True,
        env=env,
        timeout=INSTALLER_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    no_user, rest = proc.stdout.split("=== with user\n")
    with_user, rest = rest.split("=== again\n")
    again, owners = rest.split("=== owners\n")

    assert "user 'poskamling' does not exist (--no-user)" in proc.stderr
    assert "created user poskamling" not in no_user
    assert "created user poskamling" in with_user
    assert actions(again) == []
    passwd = {line.split(":")[0]: line.split(":") for line in (fake_etc / "passwd").read_text().splitlines()}
    assert passwd["poskamling"][5] == "/var/lib/poskamling"
    assert passwd["poskamling"][6] == "/usr/sbin/nologin"
    assert int(passwd["poskamling"][2]) < 1000, "a system user"
    groups = {line.split(":")[0]: line.split(":") for line in (fake_etc / "group").read_text().splitlines()}
    for group in ("gpio", "video"):
        members = groups[group][3].split(",") if group in groups else []
        if group not in extra_groups:
            assert "poskamling" not in members
        elif group in groups:
            assert "poskamling" in members, f"not in group {group}"
            assert f"added poskamling to group {group}" in with_user
        else:
            assert f"group '{group}' does not exist" in proc.stderr
    assert "root:poskamling 750 /etc/poskamling" in owners
    assert "poskamling:poskamling 750 /var/lib/poskamling" in owners
    assert "root:root 755 /opt/poskamling" in owners
    assert (fake_opt / "poskamling/venv/bin/python").exists()
    assert Path("/etc/passwd").read_bytes() == host_passwd, "the host's /etc was touched"


# ---- the pip step, for real, offline, with a stand-in project ----------------------------

FAKE_BACKEND = '''
"""A tiny PEP 517 backend so the test installs without any package index."""
import base64, hashlib, io, zipfile, pathlib

NAME, VERSION = "poskamling", "0.0.0+test"
DIST = f"{NAME}-{VERSION}"

def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {
        "poskamling_standin/__init__.py": b"def main():\\n    print('poskamling stand-in')\\n",
        f"{DIST}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"
            "Provides-Extra: edge\\nProvides-Extra: hub\\n"
        ).encode(),
        f"{DIST}.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
        f"{DIST}.dist-info/entry_points.txt": b"[console_scripts]\\nposkamling = poskamling_standin:main\\n",
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{DIST}.dist-info/RECORD,,"]
    files[f"{DIST}.dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
    wheel_name = f"{DIST}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / wheel_name, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return wheel_name
'''


def make_standin_source(tmp_path: Path) -> Path:
    """A source tree with the real units and examples but a stand-in Python package."""
    src = tmp_path / "src"
    shutil.copytree(SYSTEMD_DIR, src / "systemd")
    shutil.copytree(FIRMWARE_DIR, src / "firmware-config", ignore=shutil.ignore_patterns("mosquitto"))
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "standin_backend"\nbackend-path = ["."]\n'
    )
    (src / "standin_backend.py").write_text(FAKE_BACKEND)
    return src


@pytest.mark.slow
def test_pip_step_installs_the_command(tmp_path: Path) -> None:
    """The step --skip-pip leaves out, for real (about 15 s: ensurepip dominates).

    Only the edge installer: the hub's pip step is the same code without
    --system-site-packages, which the staged tests cover.
    """
    script = "install-edge.sh"
    src = make_standin_source(tmp_path)
    root = tmp_path / "root"
    offline = {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    args = ("--root", str(root), "--no-user", "--no-systemctl", "--source", str(src))
    out = ok(run_installer(script, *args, env=offline))
    assert f"pip install {src}[edge]" in out
    command = root / "opt/poskamling/venv/bin/poskamling"
    assert subprocess.run([str(command)], capture_output=True, text=True, timeout=60, check=True).stdout.strip() == (
        "poskamling stand-in"
    )
    # A second run reinstalls the package (how updates arrive) and leaves the rest alone.
    outside_venv = {p: e for p, e in snapshot(root).items() if not p.startswith("opt/poskamling/venv")}
    ok(run_installer(script, *args, env=offline))
    assert (
        diff(outside_venv, {p: e for p, e in snapshot(root).items() if not p.startswith("opt/poskamling/venv")}) == []
    )
    assert command.exists()


def test_repository_layout_matches_what_installers_copy() -> None:
    for path in (
        "pyproject.toml",
        "systemd/poskamling-edge.service",
        "systemd/poskamling-hub.service",
        "systemd/mosquitto.service.d/poskamling.conf",
    ):
        assert (REPO / path).is_file(), path
    for script in ("install-edge.sh", "install-hub.sh"):
        assert os.access(SCRIPTS_DIR / script, os.X_OK), f"{script} must be executable"
