"""What every `poskamling` subcommand shares: a clear error and exit code 2, logging, the config option."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML or TOML config file", exists=False)]
DEMO_DIR = Path(".demo")


def fail(message: str) -> typer.Exit:
    """Print `message` in red on stderr; raise the returned Exit (code 2)."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def setup_logging(verbose: bool, quiet_level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else quiet_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
