"""Snapshot files: JPEGs from the posts, stored as files (not in TinyDB) with a retention limit."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from hub.store import atomic_write_bytes

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


class SnapshotStore:
    def __init__(self, root: Path, max_files: int = 10_000) -> None:
        self.root = root
        self.max_files = max_files
        self._lock = threading.Lock()

    def path_for(self, device: str, event_id: str) -> Path | None:
        if not _SAFE_ID.match(event_id) or "/" in device or device.startswith("."):
            return None
        return self.root / device / f"{event_id}.jpg"

    def save(self, device: str, event_id: str, jpeg: bytes) -> None:
        path = self.path_for(device, event_id)
        if path is None:
            log.warning("snapshot: refusing unsafe id %r from %s", event_id[:40], device)
            return
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, jpeg)
            self._enforce_retention()

    def find(self, event_id: str) -> Path | None:
        if not _SAFE_ID.match(event_id):
            return None
        for path in self.root.glob(f"*/{event_id}.jpg"):
            return path
        return None

    def _enforce_retention(self) -> None:
        files = sorted(self.root.glob("*/*.jpg"), key=lambda p: p.name)  # ULIDs sort by time
        for old in files[: max(0, len(files) - self.max_files)]:
            old.unlink(missing_ok=True)
