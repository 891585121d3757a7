"""The hub's settings for the commands that run on the hub host (hub, user, device, officers, ca)."""

from __future__ import annotations

from pathlib import Path

from hub.settings import HubSettings, load_hub_settings
from kamling.configfile import ConfigError
from poskamling.commands.common import fail


def hub_settings(config: Path, hint: str = "") -> HubSettings:
    """The hub's validated settings from `config`, or exit 2 naming the file and field (plus `hint`)."""
    try:
        return load_hub_settings(config)
    except ConfigError as exc:
        raise fail(f"{exc}{hint}") from None
