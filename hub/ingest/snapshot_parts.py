"""A snapshot sent in parts is joined here before the snapshot gate sees it (issue 17 item 3).

A post on a slow link sends a large JPEG as `snapshot/<event_id>.<part>.<parts>` (kamling/protocol.py
snapshot_suffix), one part at a time, so that an event it publishes meanwhile waits behind one part,
not behind the whole picture. One client's messages reach us in the order it sent them, so parts
come in order; the post sends one picture at a time, so each post has at most one picture open.

Every part ends in a definite outcome: taken (PUBACKed, held in memory), or rejected with a reason:
`snapshot_part_orphan` (no first part before it), `snapshot_part_missing` (a gap: the picture is
dropped), `too_large`, `snapshot_pending_full` (all posts' open pictures over `max_bytes`). An open
picture that gets no part for `window` seconds, or that its post abandons for another one, is
counted as `snapshot_parts_incomplete`. A post that reconnects starts its picture again from part 1,
which replaces the open one. Runs on the ingest thread only (no lock).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kamling.protocol import MAX_SNAPSHOT_BYTES, Channel, ProtocolError, topic


@dataclass
class _Open:
    event_id: str
    parts: int
    deadline: float
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0


class SnapshotParts:
    def __init__(
        self,
        reject: Callable[[str, str, str], None],
        *,
        window: float = 120.0,
        max_bytes: int = 16 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reject = reject  # (reason, topic, detail): ingest's counted rejection
        self.window = window
        self.max_bytes = max_bytes
        self.clock = clock
        self.joined = 0
        self._open: dict[str, _Open] = {}  # device -> its picture being received
        self._bytes = 0

    def add(self, device: str, event_id: str, part: int, parts: int, data: bytes) -> bytes | None:
        """The whole JPEG once its last part arrived, else None; raises ProtocolError to reject the part."""
        current = self._open.get(device)
        if part == 1:
            if current is not None:
                self._close(device)
                if current.event_id != event_id:
                    self._incomplete(device, current, "abandoned for another picture")
            current = self._open[device] = _Open(event_id, parts, 0.0)
        elif current is None or current.event_id != event_id or current.parts != parts:
            raise ProtocolError("snapshot_part_orphan", f"part {part} of {parts} of {event_id} without its first part")
        elif part <= len(current.chunks):
            return None  # a part we have, sent again by the MQTT session after a reconnect
        elif part > len(current.chunks) + 1:
            self._close(device)
            raise ProtocolError("snapshot_part_missing", f"part {part} of {event_id} after {len(current.chunks)}")
        if current.size + len(data) > MAX_SNAPSHOT_BYTES:
            self._close(device)
            raise ProtocolError("too_large", f"snapshot {event_id} in parts > {MAX_SNAPSHOT_BYTES} bytes")
        if self._bytes + len(data) > self.max_bytes:
            self._close(device)
            raise ProtocolError("snapshot_pending_full", f"{self._bytes} bytes of pictures in parts open")
        current.chunks.append(data)
        current.size += len(data)
        current.deadline = self.clock() + self.window
        self._bytes += len(data)
        if len(current.chunks) < current.parts:
            return None
        self._close(device)
        self.joined += 1
        return b"".join(current.chunks)

    def run_due(self) -> None:
        """Drop pictures whose next part is overdue; called from the ingest loop."""
        if not self._open:
            return
        now = self.clock()
        for device, current in list(self._open.items()):
            if current.deadline <= now:
                self._close(device)
                self._incomplete(device, current, f"no part for {self.window:g} s")

    def open_bytes(self) -> int:
        return self._bytes

    def _close(self, device: str) -> None:
        current = self._open.pop(device, None)
        if current is not None:
            self._bytes -= current.size

    def _incomplete(self, device: str, current: _Open, why: str) -> None:
        detail = f"{len(current.chunks)} of {current.parts} parts of {current.event_id}: {why}"
        self._reject("snapshot_parts_incomplete", topic(device, Channel.SNAPSHOT, current.event_id), detail)
