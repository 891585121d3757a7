"""What every `poskamling` subcommand shares: a clear error and exit code 2, and the hub settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kamling.configfile import ConfigError

if TYPE_CHECKING:
    from hub.settings import HubSettings


def fail(message: str) -> typer.Exit:
    """Print `message` in red on stderr; raise the returned Exit (code 2)."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def hub_settings(config: Path, hint: str = "") -> HubSettings:
    """The hub's validated settings from `config`, or exit 2 naming the file and field (plus `hint`)."""
    from hub.settings import load_hub_settings

    try:
        return load_hub_settings(config)
    except ConfigError as exc:
        raise fail(f"{exc}{hint}") from None
