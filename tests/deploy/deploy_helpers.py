"""Helpers for the deployment tests: unit-file parsing, tree snapshots, running installers."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SYSTEMD_DIR = REPO / "systemd"
FIRMWARE_DIR = REPO / "firmware-config"
SCRIPTS_DIR = REPO / "scripts"
INSTALLER_TIMEOUT = 240


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit file as {section: [(key, value), ...]}, keeping repeated keys in order.

    (configparser cannot: systemd allows a key several times, e.g. DeviceAllow=.)
    """
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path}:{number}: assignment outside a section"
        assert "=" in line, f"{path}:{number}: not KEY=VALUE: {raw!r}"
        assert not line.endswith("\\"), f"{path}:{number}: continuation lines are not expected here"
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [value for k, value in unit.get(section, []) if k == key]


def value(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> str | None:
    """The effective (last) value of a key, like systemd for single-valued settings."""
    found = values(unit, section, key)
    return found[-1] if found else None


def words(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> set[str]:
    """All space-separated items of a list-valued key over all its lines."""
    return {item for line in values(unit, section, key) for item in line.split()}


@dataclass(frozen=True)
class Entry:
    kind: str  # "dir", "file", "link"
    mode: int
    mtime_ns: int
    detail: str  # file: sha256, link: target, dir: ""


def snapshot(root: Path) -> dict[str, Entry]:
    """Everything under `root` (without following links): what a second install must not change."""
    result: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if path.is_symlink():
                result[rel] = Entry("link", st.st_mode, st.st_mtime_ns, os.readlink(path))
            elif path.is_dir():
                result[rel] = Entry("dir", st.st_mode, st.st_mtime_ns, "")
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                result[rel] = Entry("file", st.st_mode, st.st_mtime_ns, digest)
    return result


def diff(before: dict[str, Entry], after: dict[str, Entry]) -> list[str]:
    changes = [f"removed {p}" for p in sorted(before.keys() - after.keys())]
    changes += [f"added {p}" for p in sorted(after.keys() - before.keys())]
    changes += [
        f"changed {p}: {before[p]} -> {after[p]}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]
    ]
    return changes


def run_installer(
    script: str, *args: str, env: dict[str, str] | None = None, python: str | None = sys.executable
) -> subprocess.CompletedProcess[str]:
    """Run scripts/<script> with `args` (plus `--python`, unless python=None); never raises on failure."""
    full_env = {key: val for key, val in os.environ.items() if key != "DESTDIR"}
    full_env.update(env or {})
    argv = ["bash", str(SCRIPTS_DIR / script), *args]
    if python is not None:
        argv += ["--python", python]
    return subprocess.run(argv, capture_output=True, text=True, env=full_env, timeout=INSTALLER_TIMEOUT, check=False)
