"""`poskamling edge` loads only the post's code (issue 17 item 5): no hub, web or camera packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("hub", "fastapi", "starlette", "jinja2", "psycopg", "uvicorn", "apprise", "cv2", "numpy", "typer", "click")

PROBE = textwrap.dedent(
    """\
    import json, sys
    from poskamling import cli
    sys.argv = ["poskamling", *json.loads(sys.argv[1])]
    try:
        cli.main()
    except SystemExit as exc:
        print("exit", exc.code, file=sys.stderr)
    print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))))
    """
)


def loaded_by(args: list[str]) -> tuple[list[str], str]:
    """(top-level heavy packages imported, stderr) by running `poskamling <args>` in a fresh interpreter."""
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GPIOZERO_PIN_FACTORY": "mock"}
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result, done.stderr


def test_the_edge_command_never_imports_the_hub_or_opencv(tmp_path: Path) -> None:
    # a config that fails validation: the command gets as far as loading it, then stops
    (tmp_path / "edge.yaml").write_text("device_id: NOT VALID\n")
    for args in (["--config", str(tmp_path / "edge.yaml")], [f"--config={tmp_path / 'edge.yaml'}", "--verbose"]):
        loaded, stderr = loaded_by(["edge", *args])
        assert loaded == [], "the running agent needs neither the hub, OpenCV (no camera) nor Typer"
        assert "device_id" in stderr and "exit 2" in stderr, stderr  # the config error names the field
    loaded, stderr = loaded_by(["edge", "--help"])
    assert "typer" in loaded and set(loaded) <= {"typer", "click"} and "exit 0" in stderr  # help: Typer, no hub
    loaded, stderr = loaded_by(["edge", "--config", str(tmp_path / "edge.yaml"), "--bogus"])
    assert "exit 2" in stderr and "--bogus" in stderr  # anything else is Typer's to answer


def test_the_full_command_still_has_every_group() -> None:
    assert {"hub", "fastapi", "typer"} <= set(loaded_by(["--help"])[0])  # the probe itself works
    from poskamling.cli import app

    names = {command.name for command in app.registered_commands} | {group.name for group in app.registered_groups}
    assert {"edge", "hub", "device", "user", "sim", "demo"} <= names
