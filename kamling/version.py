"""The installed software version, as posts report it in telemetry and the hub shows it."""

from __future__ import annotations

import functools
from importlib import metadata

DISTRIBUTION = "poskamling"
UNKNOWN = "dev"
"""What a source tree that was never installed reports."""


@functools.cache
def software_version(distribution: str = DISTRIBUTION) -> str:
    """The installed distribution's version, or "dev" when it is not installed.

    Read once per process (a post reports it with every health message; the lookup scans the import
    path and parses the package metadata): an upgrade restarts the service anyway."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return UNKNOWN
