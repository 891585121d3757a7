"""`poskamling edge` loads only the post's code (issue 17 item 5): no hub, web or camera packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("hub", "fastapi", "starlette", "jinja2", "psycopg", "uvicorn", "apprise", "cv2", "numpy")

PROBE = textwrap.dedent(
    """\
    import json, sys
    from poskamling import cli
    sys.argv = ["poskamling", *json.loads(sys.argv[1])]
    try:
        cli.main()
    except SystemExit:
        pass
    print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))))
    """
)


def loaded_by(args: list[str]) -> list[str]:
    """Top-level heavy packages imported by running `poskamling <args>` in a fresh interpreter."""
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GPIOZERO_PIN_FACTORY": "mock"}
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_edge_command_never_imports_the_hub_or_opencv(tmp_path: Path) -> None:
    # a config that fails validation: the command gets as far as loading it, then stops
    (tmp_path / "edge.yaml").write_text("device_id: NOT VALID\n")
    assert loaded_by(["edge", "--config", str(tmp_path / "edge.yaml")]) == []
    assert loaded_by(["edge", "--help"]) == []


def test_the_full_command_still_has_every_group() -> None:
    assert {"hub", "fastapi"} <= set(loaded_by(["--help"]))  # the probe itself works
    from poskamling.cli import app

    names = {command.name for command in app.registered_commands} | {group.name for group in app.registered_groups}
    assert {"edge", "hub", "device", "user", "sim", "demo"} <= names
