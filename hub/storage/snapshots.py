"""Snapshot files: JPEGs from the posts, stored as files (not in TinyDB) with a retention limit.

Layout: `<root>/<device>/<event_id>.jpg`. A snapshot is keyed by the device whose topic it
arrived on (the identity the broker authenticated) and the event id, so it is kept whether
it arrives before or after its event, and a device can never put a picture behind another
device's event: readers ask for `(device, event_id)`, with the device taken from the stored
event or alert, never from the snapshot.

Retention is by count and by total size, oldest ARRIVAL first (the hub's own order, not the
ULID in the name: a post with a wrong clock, or a hostile one sending ids from the far
future, cannot make its files outlive everyone else's). The index is built by one scan of
the tree on first use; after that a save costs one write and O(1) bookkeeping, no glob.

A snapshot is written once: a replay of the same event after a reconnect (at-least-once
delivery) finds the file already there and does not rewrite it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path

from hub.storage.events import atomic_write_bytes
from kamling.protocol import is_valid_device_id

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
SUFFIX = ".jpg"

Key = tuple[str, str]  # (device, event_id)


class SnapshotStore:
    """JPEG files per device and event id, with count and size limits (oldest arrival evicted first)."""

    def __init__(self, root: Path, max_files: int = 10_000, max_bytes: int | None = None) -> None:
        if max_files < 1:
            raise ValueError("max_files must be at least 1")
        self.root = root
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._index: OrderedDict[Key, int] | None = None  # arrival order -> size in bytes
        self._bytes = 0
        self._holders: dict[str, set[str]] = {}  # event_id -> devices holding a snapshot of that id
        self.evicted = 0

    # -- paths -----------------------------------------------------------------------------
    @staticmethod
    def is_safe(device: str, event_id: str) -> bool:
        return is_valid_device_id(device) and bool(_SAFE_ID.match(event_id))

    def path_for(self, device: str, event_id: str) -> Path | None:
        """The file of (device, event_id), or None for ids that could escape the folder."""
        if not self.is_safe(device, event_id):
            return None
        return self.root / device / f"{event_id}{SUFFIX}"

    # -- write -----------------------------------------------------------------------------
    def save(self, device: str, event_id: str, jpeg: bytes) -> bool:
        """Store a snapshot; False when refused (unsafe id) or already stored."""
        path = self.path_for(device, event_id)
        if path is None:
            log.warning("snapshot: refusing unsafe id %r from %r", event_id[:40], device[:70])
            return False
        with self._lock:
            index = self._loaded()
            key = (device, event_id)
            if key in index and path.is_file():
                return False  # a replay: the first copy is complete (atomic write)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, jpeg)
            self._bytes -= index.pop(key, 0)
            self._add(index, key, len(jpeg))
            self._enforce_retention(index)
        return True

    # -- read ------------------------------------------------------------------------------
    def find(self, event_id: str, device: str | None = None) -> Path | None:
        """The snapshot of `event_id` taken by `device`.

        Pass the device of the stored event or alert: without it, a snapshot is returned only
        when exactly one device holds one for this id (kept for old callers).
        """
        if not _SAFE_ID.match(event_id):
            return None
        if device is not None:
            path = self.path_for(device, event_id)
            return path if path is not None and path.is_file() else None
        with self._lock:
            self._loaded()
            holders = sorted(self._holders.get(event_id, ()))
        if len(holders) != 1:
            return None
        path = self.root / holders[0] / f"{event_id}{SUFFIX}"
        return path if path.is_file() else None

    def count(self) -> int:
        with self._lock:
            return len(self._loaded())

    def total_bytes(self) -> int:
        with self._lock:
            self._loaded()
            return self._bytes

    # -- internals (lock held) -------------------------------------------------------------
    def _loaded(self) -> OrderedDict[Key, int]:
        if self._index is None:
            index: OrderedDict[Key, int] = OrderedDict()
            for key, size in self._scan():
                self._add(index, key, size)
            self._index = index
            self._enforce_retention(index)
        return self._index

    def _add(self, index: OrderedDict[Key, int], key: Key, size: int) -> None:
        index[key] = size
        self._bytes += size
        self._holders.setdefault(key[1], set()).add(key[0])

    def _forget(self, key: Key, size: int) -> None:
        self._bytes -= size
        devices = self._holders.get(key[1])
        if devices is not None:
            devices.discard(key[0])
            if not devices:
                del self._holders[key[1]]

    def _scan(self) -> list[tuple[Key, int]]:
        """One pass over the tree at start: (mtime, name) order stands for arrival order."""
        found: list[tuple[float, str, Key, int]] = []
        if self.root.is_dir():
            for folder in self.root.iterdir():
                if not folder.is_dir() or not is_valid_device_id(folder.name):
                    continue
                for path in folder.iterdir():
                    event_id = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else ""
                    if not _SAFE_ID.match(event_id):
                        continue  # temp files of an interrupted write, strays
                    try:
                        stat = path.stat()
                    except OSError:
                        continue
                    found.append((stat.st_mtime, event_id, (folder.name, event_id), stat.st_size))
        found.sort()
        return [(key, size) for _, _, key, size in found]

    def _enforce_retention(self, index: OrderedDict[Key, int]) -> None:
        while index and (len(index) > self.max_files or (self.max_bytes is not None and self._bytes > self.max_bytes)):
            if len(index) == 1:
                break  # never evict the newest picture, even if it alone is over the budget
            (device, event_id), size = index.popitem(last=False)
            self._forget((device, event_id), size)
            self.evicted += 1
            try:
                (self.root / device / f"{event_id}{SUFFIX}").unlink(missing_ok=True)
            except OSError:
                log.exception("snapshot: could not delete %s/%s", device, event_id)
