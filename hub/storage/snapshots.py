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

The index lives in SQL (issue 12; migration 0004_snapshots): one row per stored file in
`snapshots` (device, event id, file, bytes, stored_at, and `arrival`, the post's own counter that
orders it), the per-post totals in `snapshot_posts`, kept in the same transaction. Start reads one
totals row per post, never the folder; a post's oldest first is one indexed range read; memory holds
the totals per post only, no history.

Crash safety without scanning the folder: a save commits, in ONE transaction, the eviction of its
victims, its own row, and a short journal (`snapshot_pending`: 'delete' for each victim, 'write'
for the new file) that replaces the previous save's journal. Only then are the victims' files
unlinked and the new file written (atomically, as before). So a crash can leave only
* a row whose file never landed (crash between commit and write): its 'write' entry is still in
  the journal, and at start that row is dropped when the file is not there;
* a file whose row is gone (crash between the commit and the unlink): its 'delete' entry is still
  in the journal, and at start that file is unlinked.
Start thus checks the few files of the last journal, whatever the store holds and whether the last
run stopped cleanly or was killed. A file removed by hand leaves a row without a file: find() says
None, a replay stores it again, and eviction skips the missing file; it counts in its post's quota
until it is evicted as that post's oldest. A file copied in by hand is not indexed (not served).

Upgrade: a hub upgraded from the folder-scanning release finds no 'indexed' mark in
`snapshot_state`, indexes the existing files once in (mtime, name) order (the old release's arrival
order), in batches that a crash can repeat (ON CONFLICT DO NOTHING), then sets the mark.

A snapshot is written once: a replay of the same event after a reconnect (at-least-once delivery)
finds its row and file already there.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from hub.storage.sql.database import Cursor, Database, StoreUnavailable
from hub.storage.sql.migrate import migrate
from kamling.durable import atomic_write, temp_path
from kamling.protocol import is_valid_device_id, utc_now

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
SUFFIX = ".jpg"
_CHUNK = 64  # event ids per protection query: the oldest few are usually evictable
_UPGRADE_BATCH = 5_000  # rows per transaction when indexing the folder of an older release
INDEXED = "indexed"

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
    """One post's totals, as in `snapshot_posts` (the only thing the store keeps in memory)."""

    files: int = 0
    bytes: int = 0
    last_arrival: int = 0


class SnapshotStore:
    """JPEG files per device and event id, with per-post quotas, a global backstop and held evidence."""

    def __init__(
        self,
        root: Path,
        max_files: int = 10_000,
        max_bytes: int | None = None,
        *,
        database: Database,
        post_max_files: int | None = None,
        post_max_bytes: int | None = None,
        protection: Protection | None = None,
    ) -> None:
        if max_files < 1 or (post_max_files is not None and post_max_files < 1):
            raise ValueError("file limits must be at least 1")
        self.root = root
        self.database = database
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.post_max_files = post_max_files
        self.post_max_bytes = post_max_bytes
        self.protection = protection  # set by hub/service.py once the alert side exists
        self.on_saved: Callable[[str, str], object] | None = None  # (device, event id) after a new file (issue 15)
        self._lock = threading.Lock()
        self._posts: dict[str, _Post] | None = None
        self.evicted = 0
        self.refused = 0
        self.upgraded = 0  # files of an older release indexed at this start
        self.recovered = 0  # journal entries of an interrupted save or eviction settled at this start

    def open(self) -> None:
        """Load the index now (migrations, the last journal, a one-time upgrade, quotas); else on first use."""
        with self._lock:
            self._loaded()

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

        Raises SnapshotRefused when the post's quota is full of pinned alert evidence, or when the
        database holding the index is away (`snapshot_store_unavailable`).
        """
        path = self.path_for(device, event_id)
        if path is None:
            log.warning("snapshot: refusing unsafe id %r from %r", event_id[:40], device[:70])
            return False
        with self._lock:
            try:
                saved = self._save(device, event_id, jpeg, path)
            except StoreUnavailable as exc:
                self._posts = None  # read the totals again when the database is back
                self.refused += 1
                raise SnapshotRefused("snapshot_store_unavailable", str(exc)) from None
        if saved and self.on_saved is not None:
            try:
                self.on_saved(device, event_id)
            except Exception:  # a listener must not turn a stored snapshot into a failed one
                log.exception("snapshot: on_saved listener failed for %s/%s", device, event_id)
        return saved

    def _save(self, device: str, event_id: str, jpeg: bytes, path: Path) -> bool:
        posts = self._loaded()
        stored = self._stored_size(device, event_id)
        if stored is not None:
            if path.is_file():
                return False  # a replay: the first copy is complete (atomic write)
            self._apply(device, [(event_id, stored)])  # deleted behind our back: store it again
        post = posts.get(device)
        victims = self._room_for(device, post, len(jpeg))
        self._apply(device, victims, added=(event_id, len(jpeg)))  # rows and journal first, then the files
        for victim, _ in victims:  # before the write: on a full disk the room is what lets it succeed
            self._unlink(device, victim)
        self.evicted += len(victims)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, jpeg)
        except OSError:
            self._apply(device, [(event_id, len(jpeg))])
            raise
        self._enforce_global(keep=(device, event_id))
        return True

    # -- read ------------------------------------------------------------------------------
    def find(self, event_id: str, device: str | None = None) -> Path | None:
        """The snapshot of `event_id` taken by `device`, answered from its row (and its file being there).

        Pass the device of the stored event or alert: without it, a snapshot is returned only
        when exactly one device holds one for this id (kept for old callers). While the database
        is away, a lookup with a device answers from the file alone.
        """
        if not _SAFE_ID.match(event_id):
            return None
        if device is not None:
            path = self.path_for(device, event_id)
            if path is None:
                return None
            try:
                self._ready()
                found = self._stored_size(device, event_id) is not None
            except StoreUnavailable:
                found = True  # the file alone answers
            return path if found and path.is_file() else None
        try:
            self._ready()
            rows = self.database.query("SELECT device FROM snapshots WHERE event_id = ? LIMIT 2", (event_id,))
        except StoreUnavailable:
            return None
        if len(rows) != 1:
            return None
        path = self.path_for(str(rows[0][0]), event_id)
        return path if path is not None and path.is_file() else None

    def count(self) -> int:
        with self._lock:
            return sum(post.files for post in self._loaded().values())

    def total_bytes(self) -> int:
        with self._lock:
            return sum(post.bytes for post in self._loaded().values())

    def usage(self, device: str) -> tuple[int, int]:
        """(files, bytes) one post holds."""
        with self._lock:
            post = self._loaded().get(device)
            return (post.files, post.bytes) if post is not None else (0, 0)

    # -- the index in SQL (lock held) ------------------------------------------------------
    def _ready(self) -> None:
        if self._posts is None:
            with self._lock:
                self._loaded()

    def _loaded(self) -> dict[str, _Post]:
        if self._posts is None:
            migrate(self.database)
            self._recover()
            if not self.database.query("SELECT 1 FROM snapshot_state WHERE name = ?", (INDEXED,)):
                self._index_folder()
            rows = self.database.query("SELECT device, files, bytes, last_arrival FROM snapshot_posts")
            self._posts = {str(d): _Post(int(f), int(b), int(a)) for d, f, b, a in rows}
            for device in sorted(self._posts):
                self._enforce_post(device)
            self._enforce_global(keep=None)
        return self._posts

    def _stored_size(self, device: str, event_id: str) -> int | None:
        rows = self.database.query("SELECT bytes FROM snapshots WHERE device = ? AND event_id = ?", (device, event_id))
        return int(rows[0][0]) if rows else None

    def _apply(self, device: str, removed: Sequence[tuple[str, int]], added: tuple[str, int] | None = None) -> None:
        """One transaction: drop `removed` rows, add `added`, the post's totals, and the new journal.

        The caller unlinks the removed files and writes the added one only after this commits.
        """
        post = self._posts.get(device) if self._posts is not None else None
        post = post or _Post()
        totals = _Post(
            post.files - len(removed) + (1 if added else 0),
            post.bytes - sum(size for _, size in removed) + (added[1] if added else 0),
            post.last_arrival + (1 if added else 0),
        )
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM snapshot_pending")
            for event_id, _ in removed:
                cursor.execute("DELETE FROM snapshots WHERE device = ? AND event_id = ?", (device, event_id))
                cursor.execute(
                    "INSERT INTO snapshot_pending (device, event_id, action) VALUES (?, ?, 'delete')",
                    (device, event_id),
                )
            if added is not None:
                event_id, size = added
                cursor.execute(
                    "INSERT INTO snapshots (device, event_id, file, bytes, stored_at, arrival) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        device,
                        event_id,
                        f"{device}/{event_id}{SUFFIX}",
                        size,
                        utc_now().isoformat(),
                        totals.last_arrival,
                    ),
                )
                cursor.execute(
                    "INSERT INTO snapshot_pending (device, event_id, action) VALUES (?, ?, 'write') "
                    "ON CONFLICT (device, event_id) DO UPDATE SET action = excluded.action",
                    (device, event_id),
                )
            _put_totals(cursor, device, totals)
        if self._posts is not None:
            self._posts[device] = totals

    def _unlink(self, device: str, event_id: str) -> None:
        try:
            (self.root / device / f"{event_id}{SUFFIX}").unlink(missing_ok=True)
        except OSError:
            log.exception("snapshot: could not delete %s/%s", device, event_id)

    def _recover(self) -> None:
        """Settle the journal of the last save or eviction (a crash, or a kill, came between its commit and its files)."""
        pending = self.database.query("SELECT device, event_id, action FROM snapshot_pending")
        if not pending:
            return
        missing: list[tuple[str, str]] = []
        unlinked = 0
        for device, event_id, action in pending:
            path = self.path_for(str(device), str(event_id))
            if path is None:
                continue
            if action == "delete":
                if path.exists():  # its row went, the process died before the file did
                    unlinked += 1
                    self._unlink(str(device), str(event_id))
            elif not path.is_file():
                missing.append((str(device), str(event_id)))
            try:
                temp_path(path).unlink(missing_ok=True)  # a write interrupted half-way
            except OSError:
                log.exception("snapshot: could not delete the temp file of %s/%s", device, event_id)
        with self.database.transaction() as cursor:
            for device, event_id in missing:
                cursor.execute("DELETE FROM snapshots WHERE device = ? AND event_id = ?", (device, event_id))
            for device in sorted({device for device, _ in missing}):
                _recount(cursor, device)
            cursor.execute("DELETE FROM snapshot_pending")
        self.recovered = unlinked + len(missing)
        if self.recovered:  # usually 0: the last operation had completed (the journal is kept till the next one)
            log.warning(
                "snapshot: the last stop interrupted a save or eviction: %d evicted file(s) deleted, "
                "%d row(s) without a file dropped",
                unlinked,
                len(missing),
            )

    def _index_folder(self) -> None:
        """Once, after an upgrade from the folder-scanning release: index the files already there."""
        found = self._scan()
        arrival: dict[str, int] = {}
        rows: list[tuple[str, str, str, int, str, int]] = []
        now = utc_now().isoformat()
        for (device, event_id), size in found:
            arrival[device] = arrival.get(device, 0) + 1
            rows.append((device, event_id, f"{device}/{event_id}{SUFFIX}", size, now, arrival[device]))
        for start in range(0, len(rows), _UPGRADE_BATCH):
            with self.database.transaction() as cursor:
                cursor.executemany(
                    "INSERT INTO snapshots (device, event_id, file, bytes, stored_at, arrival) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device, event_id) DO NOTHING",
                    rows[start : start + _UPGRADE_BATCH],
                )
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM snapshot_posts")
            cursor.execute(
                "INSERT INTO snapshot_posts (device, files, bytes, last_arrival) "
                "SELECT device, COUNT(*), SUM(bytes), MAX(arrival) FROM snapshots GROUP BY device"
            )
            cursor.execute("INSERT INTO snapshot_state (name, value) VALUES (?, ?)", (INDEXED, utc_now().isoformat()))
        self.upgraded = len(rows)
        if rows:
            log.warning(
                "snapshot: indexed %d file(s) of %d post(s) written before the SQL index", len(rows), len(arrival)
            )

    # -- retention (lock held) -------------------------------------------------------------
    def _evict(self, device: str, event_id: str, size: int) -> None:
        self._apply(device, [(event_id, size)])
        self._unlink(device, event_id)
        self.evicted += 1

    def _over_post(self, files: int, size: int) -> bool:
        return (self.post_max_files is not None and files > self.post_max_files) or (
            self.post_max_bytes is not None and size > self.post_max_bytes
        )

    def _over_global(self, files: int, size: int) -> bool:
        return files > self.max_files or (self.max_bytes is not None and size > self.max_bytes)

    def _holds(self, device: str, event_ids: Sequence[str]) -> Mapping[str, Hold]:
        if self.protection is None:
            return {}
        try:
            return self.protection(device, event_ids)
        except Exception:  # cannot tell what is evidence: keep everything rather than guess
            log.exception("snapshot: protection lookup failed; treating %d snapshot(s) as pinned", len(event_ids))
            return dict.fromkeys(event_ids, Hold.PINNED)

    def _candidates(self, device: str, tier: Hold, exclude: str | None = None) -> Iterator[tuple[str, int]]:
        """The post's files held exactly at `tier`, oldest arrival first, read from the index in chunks."""
        after = -1
        while True:
            rows = self.database.query(
                "SELECT event_id, bytes, arrival FROM snapshots WHERE device = ? AND arrival > ? "
                "ORDER BY arrival LIMIT ?",
                (device, after, _CHUNK),
            )
            if not rows:
                return
            after = int(rows[-1][2])
            holds = self._holds(device, [str(row[0]) for row in rows])
            for event_id, size, _ in rows:
                if event_id != exclude and holds.get(event_id, Hold.NONE) == tier:
                    yield str(event_id), int(size)

    def _room_for(self, device: str, post: _Post | None, size: int) -> list[tuple[str, int]]:
        """The post's files to evict so a new one of `size` fits its quota.

        Raises SnapshotRefused when pinned evidence fills the quota (nothing is evicted then).
        """
        if post is None or not self._over_post(post.files + 1, post.bytes + size):
            return []
        files, used = post.files + 1, post.bytes + size
        victims: list[tuple[str, int]] = []
        for tier in (Hold.NONE, Hold.LAST):
            for event_id, victim_size in self._candidates(device, tier):
                victims.append((event_id, victim_size))
                files, used = files - 1, used - victim_size
                if not self._over_post(files, used):
                    return victims
        if files == 1:
            return victims  # the new one alone is over the budget: it is kept (the newest is never evicted)
        self.refused += 1
        raise SnapshotRefused(
            "snapshot_quota_full", f"{device}: {files - 1} pinned alert snapshot(s) fill the post's quota"
        )

    def _newest(self, device: str) -> str | None:
        rows = self.database.query(
            "SELECT event_id FROM snapshots WHERE device = ? ORDER BY arrival DESC LIMIT 1", (device,)
        )
        return str(rows[0][0]) if rows else None

    def _enforce_post(self, device: str) -> None:
        """At start: bring one post within its quota (limits lowered since the files were written)."""
        assert self._posts is not None
        post = self._posts[device]
        if not self._over_post(post.files, post.bytes):
            return
        newest = self._newest(device)
        while self._over_post(post.files, post.bytes):
            victim = next(self._candidates(device, Hold.NONE, newest), None) or next(
                self._candidates(device, Hold.LAST, newest), None
            )
            if victim is None:
                log.warning("snapshot: %s is over its quota with pinned alert evidence", device)
                return
            self._evict(device, *victim)
            post = self._posts[device]

    def _enforce_global(self, keep: Key | None) -> None:
        """Backstop over all posts: evict from the post using the most, unreferenced before referenced."""
        assert self._posts is not None
        while True:
            files = sum(post.files for post in self._posts.values())
            used = sum(post.bytes for post in self._posts.values())
            if files <= 1 or not self._over_global(files, used):  # the last picture stays, even alone over budget
                return
            by_bytes = self.max_bytes is not None and used > self.max_bytes
            ranked = sorted(
                ((d, p) for d, p in self._posts.items() if p.files),
                key=lambda item: item[1].bytes if by_bytes else item[1].files,
                reverse=True,
            )
            victim: tuple[str, str, int] | None = None
            for tier in (Hold.NONE, Hold.LAST):
                for device, _ in ranked:
                    exclude = keep[1] if keep is not None and keep[0] == device else None
                    found = next(self._candidates(device, tier, exclude), None)
                    if found is not None:
                        victim = (device, *found)
                        break
                if victim is not None:
                    break
            if victim is None:
                return  # only pinned evidence and the newest picture left: over budget until alerts close
            self._evict(*victim)

    def _scan(self) -> list[tuple[Key, int]]:
        """The folder of an older release, once: (mtime, name) order stands for arrival order."""
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


def _put_totals(cursor: Cursor, device: str, totals: _Post) -> None:
    cursor.execute(
        "INSERT INTO snapshot_posts (device, files, bytes, last_arrival) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (device) DO UPDATE SET files = excluded.files, bytes = excluded.bytes, "
        "last_arrival = excluded.last_arrival",
        (device, totals.files, totals.bytes, totals.last_arrival),
    )


def _recount(cursor: Cursor, device: str) -> None:
    """One post's totals from its rows (after rows were dropped outside the usual bookkeeping)."""
    cursor.execute(
        "UPDATE snapshot_posts SET files = (SELECT COUNT(*) FROM snapshots WHERE device = ?), "
        "bytes = (SELECT COALESCE(SUM(bytes), 0) FROM snapshots WHERE device = ?) WHERE device = ?",
        (device, device, device),
    )
