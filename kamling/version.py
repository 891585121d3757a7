"""The installed software version, as posts report it in telemetry and the hub shows it."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "poskamling"
UNKNOWN = "dev"
"""What a source tree that was never installed reports."""


def software_version(distribution: str = DISTRIBUTION) -> str:
    """The installed distribution's version, or "dev" when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return UNKNOWN
