"""`poskamling demo`: broker, hub and simulated posts on this machine (needs both extras)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from poskamling.broker import BrokerError
from poskamling.commands.common import DEMO_DIR, fail, setup_logging
from poskamling.demo import DemoOptions, run_demo


def demo(
    posts: Annotated[int, typer.Option(help="how many simulated posts (1-5)")] = 3,
    http_port: Annotated[int, typer.Option(help="port of the hub's web server")] = 8000,
    workdir: Annotated[Path, typer.Option("--dir", help="demo state folder (recreated)")] = DEMO_DIR,
    verbose: bool = False,
) -> None:
    """Run everything on this machine: private broker, hub on http://127.0.0.1:8000, simulated posts."""
    setup_logging(verbose, quiet_level=logging.WARNING)
    try:
        run_demo(DemoOptions(workdir=workdir.resolve(), posts=posts, http_port=http_port))
    except (BrokerError, RuntimeError, OSError) as exc:
        raise fail(f"demo could not start: {exc}") from None


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)
