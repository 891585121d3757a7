"""No snapshot without its event (issue 18): a snapshot is stored only for an event of the same post.

The edge publishes an event, then its JPEG on `snapshot/<event_id>`. The hub commits events in
groups (hub/storage/eventlog.py), so the snapshot usually arrives while its event is still on the
way to the disk. Each snapshot therefore ends in exactly one of:

* **stored** at once: its event is already stored for the same device;
* **held** in a small per-post pending area, then stored when the event commits (`committed`,
  called by ingest after each group commit), or
* **rejected** with a reason counted in ingest's `rejected` (shown by /api/health):
  `snapshot_not_own_event` (the id is another post's event), `snapshot_orphan` (no event of that
  id from that post within `window` seconds), `snapshot_pending_full` (the post already has
  `per_post` snapshots waiting, or all posts together `max_bytes`), or whatever the store refuses.

The MQTT message is settled (PUBACK) when `offer` returns either way: a held snapshot lives in
memory only. Saving and expiry run on the ingest thread (`run_due`, called from its loop), never
on the event log's writer thread, so a JPEG write never delays the acks of a commit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kamling.protocol import Channel, ProtocolError, topic

log = logging.getLogger(__name__)

RECENT_COMMITS = 10_000  # event id -> device of the latest commits; older events are looked up in the store


@dataclass(frozen=True)
class _Held:
    device: str
    event_id: str
    jpeg: bytes
    deadline: float


class SnapshotGate:
    def __init__(
        self,
        save: Callable[[str, str, bytes], None],
        owner: Callable[[str], str | None],
        reject: Callable[[str, str, str], None],
        *,
        window: float = 30.0,
        per_post: int = 8,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._save = save  # stores one snapshot; raises ProtocolError(reason) when the store refuses it
        self._owner = owner  # the device of a stored event, None when no such event is stored
        self._reject = reject  # (reason, topic, detail): ingest's counted rejection
        self.window = window
        self.per_post = per_post
        self.max_bytes = max_bytes
        self.clock = clock
        self.stored = 0
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, str] = OrderedDict()  # committed event id -> device
        self._held: OrderedDict[tuple[str, str], _Held] = OrderedDict()  # arrival order = deadline order
        self._held_ids: dict[str, set[str]] = {}  # event id -> devices holding a snapshot of it
        self._per_post: Counter[str] = Counter()
        self._held_bytes = 0
        self._ready: list[tuple[_Held, str | None]] = []  # released at a commit: (snapshot, rejection reason)

    def configure(self, window: float, per_post: int, max_bytes: int) -> None:
        with self._lock:
            self.window, self.per_post, self.max_bytes = window, per_post, max_bytes

    # -- ingest thread -----------------------------------------------------------------------
    def offer(self, device: str, event_id: str, jpeg: bytes) -> str:
        """'stored', 'held' or 'replay' (already held); raises ProtocolError to reject it now."""
        with self._lock:
            known = self._recent.get(event_id)
        if known is None:
            known = self._owner(event_id)  # outside the lock: a store read may take a moment
        if known is None:
            with self._lock:
                known = self._recent.get(event_id)  # a commit that landed since the store said no
                if known is None:
                    return self._hold(device, event_id, jpeg)
        if known != device:
            raise ProtocolError("snapshot_not_own_event", f"{event_id} is an event of another post")
        self._save(device, event_id, jpeg)
        self.stored += 1
        return "stored"

    def run_due(self) -> None:
        """Store what commits released and drop what waited too long; called from the ingest loop."""
        if not self._held and not self._ready:
            return  # the common case, without the lock
        now = self.clock()
        with self._lock:
            ready, self._ready = self._ready, []
            expired: list[_Held] = []
            while self._held:
                first = next(iter(self._held.values()))
                if first.deadline > now:
                    break
                expired.append(self._release(first.device, first.event_id))
        for held, reason in ready:
            if reason is not None:
                self._reject(reason, self._topic(held), f"{held.event_id} is an event of another post")
                continue
            try:
                self._save(held.device, held.event_id, held.jpeg)
                self.stored += 1
            except ProtocolError as exc:
                self._reject(exc.reason, self._topic(held), exc.detail)
            except Exception:  # one bad write must not lose the others' outcomes
                log.exception("snapshot %s/%s: store failed", held.device, held.event_id)
                self._reject("snapshot_write_failed", self._topic(held), "see the hub log")
        for held in expired:
            self._reject("snapshot_orphan", self._topic(held), f"no event {held.event_id} within {self.window:g} s")

    def pending(self, device: str | None = None) -> int:
        with self._lock:
            return len(self._held) if device is None else self._per_post[device]

    # -- writer thread -------------------------------------------------------------------------
    def committed(self, records: Sequence[dict[str, Any]]) -> None:
        """A group commit: remember who owns these ids, release the snapshots waiting for them."""
        with self._lock:
            for record in records:
                event_id, device = record["id"], record["device"]
                self._recent[event_id] = device
                self._recent.move_to_end(event_id)
                devices = self._held_ids.get(event_id)
                if devices:
                    for holder in list(devices):
                        held = self._release(holder, event_id)
                        self._ready.append((held, None if holder == device else "snapshot_not_own_event"))
            while len(self._recent) > RECENT_COMMITS:
                self._recent.popitem(last=False)

    # -- internals (lock held) -----------------------------------------------------------------
    def _hold(self, device: str, event_id: str, jpeg: bytes) -> str:
        key = (device, event_id)
        if key in self._held:
            return "replay"  # the edge resent it (at least once): the first copy gets the outcome
        if self._per_post[device] >= self.per_post or self._held_bytes + len(jpeg) > self.max_bytes:
            raise ProtocolError(
                "snapshot_pending_full",
                f"{self._per_post[device]} waiting for {device}, {self._held_bytes} bytes in all",
            )
        self._held[key] = _Held(device, event_id, jpeg, self.clock() + self.window)
        self._held_ids.setdefault(event_id, set()).add(device)
        self._per_post[device] += 1
        self._held_bytes += len(jpeg)
        return "held"

    def _release(self, device: str, event_id: str) -> _Held:
        held = self._held.pop((device, event_id))
        devices = self._held_ids[event_id]
        devices.discard(device)
        if not devices:
            del self._held_ids[event_id]
        self._per_post[device] -= 1
        if self._per_post[device] <= 0:
            del self._per_post[device]
        self._held_bytes -= len(held.jpeg)
        return held

    @staticmethod
    def _topic(held: _Held) -> str:
        return topic(held.device, Channel.SNAPSHOT, held.event_id)
