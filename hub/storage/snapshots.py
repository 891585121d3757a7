"""Snapshot files: JPEGs from the posts, stored as files (not in TinyDB), with quotas per post.

Layout: `<root>/<device>/<event_id>.jpg`. A snapshot is keyed by the device whose topic it
arrived on (the identity the broker authenticated) and the event id, and a device can never
put a picture behind another device's event: readers ask for `(device, event_id)`, with the
device taken from the stored event or alert, never from the snapshot. (Ingest also refuses a
snapshot whose event id is not an event of that same device: hub/ingest/snapshot_gate.py.)

Retention (issue 18: one post must not be able to evict another post's evidence):

* **Per post**: at most `post_max_files` files and `post_max_bytes` bytes per device. A post
  over its quota evicts only its OWN oldest arrivals (the hub's order, not the ULID in the name:
  a post with a wrong clock, or a hostile one sending ids from the far future, cannot make its
  files outlive its other files).
* **Global backstop**: `max_files` / `max_bytes` over all posts; when exceeded, the post using
  the most (files or bytes, whichever limit is exceeded) loses its oldest first.
* **Alert evidence** (`protection`, injected by the hub's composition root so that storage
  never imports alerting): a snapshot an alert references is held. `Hold.PINNED` (the alert is
  open, or closed more recently than its keep time) is never evicted; `Hold.LAST` (closed long
  ago) goes only after every unreferenced snapshot of the same post. A post whose quota is full
  of pinned evidence gets its new snapshot refused (`SnapshotRefused`, counted by ingest as
  `snapshot_quota_full`) rather than lose the pictures of an alert still being handled.
* The newest snapshot of a post is never evicted to make room for itself, even if it alone is
  over the budget.

The index is built by one scan of the tree on first use; after that a save costs one write
and bookkeeping per evicted file, no glob. A snapshot is written once: a replay of the same
event after a reconnect (at-least-once delivery) finds the file already there.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import islice
from pathlib import Path

from kamling.durable import atomic_write
from kamling.protocol import is_valid_device_id

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
SUFFIX = ".jpg"
_CHUNK = 64  # event ids per protection query: the oldest few are usually evictable

Key = tuple[str, str]  # (device, event_id)


class Hold(IntEnum):
    """How strongly alert evidence is held against eviction (higher holds harder)."""

    NONE = 0  # no alert references it
    LAST = 1  # referenced by an alert closed longer ago than the keep time: evicted after the post's unreferenced ones
    PINNED = 2  # referenced by an open alert, or one closed recently: never evicted


Protection = Callable[[str, Sequence[str]], Mapping[str, Hold]]
"""(device, event ids) -> the hold of those ids an alert of that device references; missing ids: Hold.NONE."""


class SnapshotRefused(Exception):
    """A snapshot the store will not keep; `reason` is counted by ingest like any rejection."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def is_safe_key(device: str, event_id: str) -> bool:
    """A device id and a ULID as we write them: nothing that could leave the snapshot folder."""
    return is_valid_device_id(device) and bool(_SAFE_ID.match(event_id))


@dataclass
class _Post:
    files: OrderedDict[str, int] = field(default_factory=OrderedDict)  # event id -> size, arrival order
    bytes: int = 0


class SnapshotStore:
    """JPEG files per device and event id, with per-post quotas, a global backstop and held evidence."""

    def __init__(
        self,
        root: Path,
        max_files: int = 10_000,
        max_bytes: int | None = None,
        *,
        post_max_files: int | None = None,
        post_max_bytes: int | None = None,
        protection: Protection | None = None,
    ) -> None:
        if max_files < 1 or (post_max_files is not None and post_max_files < 1):
            raise ValueError("file limits must be at least 1")
        self.root = root
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.post_max_files = post_max_files
        self.post_max_bytes = post_max_bytes
        self.protection = protection  # set by hub/service.py once the alert side exists
        self._lock = threading.Lock()
        self._posts: dict[str, _Post] | None = None
        self._count = 0
        self._bytes = 0
        self._holders: dict[str, set[str]] = {}  # event_id -> devices holding a snapshot of that id
        self.evicted = 0
        self.refused = 0

    # -- paths -----------------------------------------------------------------------------
    @staticmethod
    def is_safe(device: str, event_id: str) -> bool:
        return is_safe_key(device, event_id)

    def path_for(self, device: str, event_id: str) -> Path | None:
        """The file of (device, event_id), or None for ids that could escape the folder."""
        if not self.is_safe(device, event_id):
            return None
        return self.root / device / f"{event_id}{SUFFIX}"

    # -- write -----------------------------------------------------------------------------
    def save(self, device: str, event_id: str, jpeg: bytes) -> bool:
        """Store a snapshot; False when refused as unsafe or already stored (a replay).

        Raises SnapshotRefused when the post's quota is full of pinned alert evidence.
        """
        path = self.path_for(device, event_id)
        if path is None:
            log.warning("snapshot: refusing unsafe id %r from %r", event_id[:40], device[:70])
            return False
        with self._lock:
            posts = self._loaded()
            post = posts.get(device)
            if post is not None and event_id in post.files:
                if path.is_file():
                    return False  # a replay: the first copy is complete (atomic write)
                self._drop(device, event_id)  # deleted behind our back: store it again
                post = posts.get(device)
            victims = self._room_for(device, post, len(jpeg))
            for victim in victims:  # before the write: on a full disk the room is what lets it succeed
                self._evict(device, victim)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, jpeg)
            self._add(device, event_id, len(jpeg))
            self._enforce_global(keep=(device, event_id))
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
            self._loaded()
            return self._count

    def total_bytes(self) -> int:
        with self._lock:
            self._loaded()
            return self._bytes

    def usage(self, device: str) -> tuple[int, int]:
        """(files, bytes) one post holds."""
        with self._lock:
            post = self._loaded().get(device)
            return (len(post.files), post.bytes) if post is not None else (0, 0)

    # -- internals (lock held) -------------------------------------------------------------
    def _loaded(self) -> dict[str, _Post]:
        if self._posts is None:
            self._posts = {}
            for (device, event_id), size in self._scan():
                self._add(device, event_id, size)
            for device in list(self._posts):
                self._enforce_post(device)
            self._enforce_global(keep=None)
        return self._posts

    def _add(self, device: str, event_id: str, size: int) -> None:
        assert self._posts is not None
        post = self._posts.setdefault(device, _Post())
        post.files[event_id] = size
        post.bytes += size
        self._count += 1
        self._bytes += size
        self._holders.setdefault(event_id, set()).add(device)

    def _drop(self, device: str, event_id: str) -> None:
        """Forget one file in the index (the caller deletes it)."""
        assert self._posts is not None
        post = self._posts[device]
        size = post.files.pop(event_id)
        post.bytes -= size
        if not post.files:
            del self._posts[device]
        self._count -= 1
        self._bytes -= size
        devices = self._holders.get(event_id)
        if devices is not None:
            devices.discard(device)
            if not devices:
                del self._holders[event_id]

    def _evict(self, device: str, event_id: str) -> None:
        self._drop(device, event_id)
        self.evicted += 1
        try:
            (self.root / device / f"{event_id}{SUFFIX}").unlink(missing_ok=True)
        except OSError:
            log.exception("snapshot: could not delete %s/%s", device, event_id)

    def _over_post(self, files: int, size: int) -> bool:
        return (self.post_max_files is not None and files > self.post_max_files) or (
            self.post_max_bytes is not None and size > self.post_max_bytes
        )

    def _over_global(self) -> bool:
        return self._count > self.max_files or (self.max_bytes is not None and self._bytes > self.max_bytes)

    def _holds(self, device: str, event_ids: Sequence[str]) -> Mapping[str, Hold]:
        if self.protection is None:
            return {}
        try:
            return self.protection(device, event_ids)
        except Exception:  # cannot tell what is evidence: keep everything rather than guess
            log.exception("snapshot: protection lookup failed; treating %d snapshot(s) as pinned", len(event_ids))
            return dict.fromkeys(event_ids, Hold.PINNED)

    def _candidates(
        self, device: str, post: _Post, tier: Hold, exclude: str | None = None
    ) -> Iterator[tuple[str, int]]:
        """The post's files held exactly at `tier`, oldest arrival first (do not mutate while iterating)."""
        items = iter(post.files.items())
        while chunk := list(islice(items, _CHUNK)):
            holds = self._holds(device, [event_id for event_id, _ in chunk])
            for event_id, size in chunk:
                if event_id != exclude and holds.get(event_id, Hold.NONE) == tier:
                    yield event_id, size

    def _room_for(self, device: str, post: _Post | None, size: int) -> list[str]:
        """The post's files to evict so a new one of `size` fits its quota.

        Raises SnapshotRefused when pinned evidence fills the quota (nothing is evicted then).
        """
        if post is None or not self._over_post(len(post.files) + 1, post.bytes + size):
            return []
        files, used = len(post.files) + 1, post.bytes + size
        victims: list[str] = []
        for tier in (Hold.NONE, Hold.LAST):
            for event_id, victim_size in self._candidates(device, post, tier):
                victims.append(event_id)
                files, used = files - 1, used - victim_size
                if not self._over_post(files, used):
                    return victims
        if files == 1:
            return victims  # the new one alone is over the budget: it is kept (the newest is never evicted)
        self.refused += 1
        raise SnapshotRefused(
            "snapshot_quota_full", f"{device}: {files - 1} pinned alert snapshot(s) fill the post's quota"
        )

    def _enforce_post(self, device: str) -> None:
        """At start: bring one post within its quota (limits lowered since the files were written)."""
        assert self._posts is not None
        post = self._posts[device]
        newest = next(reversed(post.files))
        while self._over_post(len(post.files), post.bytes):
            victim = next(self._candidates(device, post, Hold.NONE, newest), None) or next(
                self._candidates(device, post, Hold.LAST, newest), None
            )
            if victim is None:
                log.warning("snapshot: %s is over its quota with pinned alert evidence", device)
                return
            self._evict(device, victim[0])

    def _enforce_global(self, keep: Key | None) -> None:
        """Backstop over all posts: evict from the post using the most, unreferenced before referenced."""
        assert self._posts is not None
        while self._count > 1 and self._over_global():  # the last picture stays, even alone over the budget
            by_bytes = self.max_bytes is not None and self._bytes > self.max_bytes
            ranked = sorted(
                self._posts.items(), key=lambda item: item[1].bytes if by_bytes else len(item[1].files), reverse=True
            )
            victim: Key | None = None
            for tier in (Hold.NONE, Hold.LAST):
                for device, post in ranked:
                    exclude = keep[1] if keep is not None and keep[0] == device else None
                    found = next(self._candidates(device, post, tier, exclude), None)
                    if found is not None:
                        victim = (device, found[0])
                        break
                if victim is not None:
                    break
            if victim is None:
                return  # only pinned evidence and the newest picture left: over budget until alerts close
            self._evict(*victim)

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
