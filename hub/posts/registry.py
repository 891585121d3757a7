"""Post registry: which devices exist, what post they are, and whether they are online."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from hub.settings import PostSettings


@dataclass(frozen=True, slots=True)
class PostState:
    online: bool | None = None  # None: not heard from since the hub started
    last_seen: datetime | None = None
    status_since: datetime | None = None
    version: str | None = None
    health: dict[str, Any] = field(default_factory=dict)
    last_seq: int = 0
    seq_gaps: int = 0
    brokers: frozenset[str] = frozenset()  # the brokers it says it is online on (issue 13: merged status)


class PostRegistry:
    """Thread-safe lookups of posts and their live state."""

    def __init__(self, posts: list[PostSettings]) -> None:
        self._posts = {p.device_id: p for p in posts}
        self._state: dict[str, PostState] = {}
        self._lock = threading.Lock()

    def get(self, device: str) -> PostSettings | None:
        return self._posts.get(device)

    def all(self) -> list[PostSettings]:
        return sorted(self._posts.values(), key=lambda p: p.name)

    def add(self, post: PostSettings) -> None:
        with self._lock:
            self._posts[post.device_id] = post

    def remove(self, device: str) -> None:
        with self._lock:
            self._posts.pop(device, None)
            self._state.pop(device, None)

    def state(self, device: str) -> PostState:
        return self._state.get(device, PostState())

    def set_status(
        self, device: str, online: bool, now: datetime, version: str | None = None, broker: str = ""
    ) -> bool:
        """Record online/offline as said on one broker; True when the post's merged state changed.

        A post is online while it is online on any broker: the `offline` Last Will a broker keeps after
        the post moved to another broker does not make it offline (issue 13)."""
        with self._lock:
            old = self._state.get(device, PostState())
            brokers = old.brokers | {broker} if online else old.brokers - {broker}
            merged = bool(brokers)
            changed = old.online != merged
            self._state[device] = replace(
                old,
                online=merged,
                brokers=brokers,
                last_seen=now if online else old.last_seen,
                status_since=now if changed else old.status_since,
                version=version or old.version,
            )
            return changed

    def forget_broker(self, broker: str, now: datetime) -> list[str]:
        """The hub lost its session to `broker`: what it said there no longer counts. Returns the posts
        that were online on it alone and are now offline (the caller decides when that is an alarm)."""
        gone: list[str] = []
        with self._lock:
            for device, old in list(self._state.items()):
                if broker not in old.brokers:
                    continue
                brokers = old.brokers - {broker}
                if not brokers:
                    gone.append(device)
                self._state[device] = replace(
                    old,
                    brokers=brokers,
                    online=bool(brokers),
                    status_since=old.status_since if brokers else now,
                )
        return gone

    def seen(self, device: str, now: datetime, seq: int | None = None) -> int:
        """Note traffic from a device; returns how many seqs were skipped (a gap) if any."""
        with self._lock:
            old = self._state.get(device, PostState())
            gap = 0
            last_seq = old.last_seq
            if seq is not None:
                if old.last_seq and seq > old.last_seq + 1:
                    gap = seq - old.last_seq - 1
                last_seq = max(old.last_seq, seq)
            # Positional, not replace(): this runs for every event (replace() costs ~4x as much).
            self._state[device] = PostState(
                old.online, now, old.status_since, old.version, old.health, last_seq, old.seq_gaps + gap, old.brokers
            )
            return gap

    def set_health(self, device: str, health: dict[str, Any], now: datetime) -> None:
        with self._lock:
            old = self._state.get(device, PostState())
            self._state[device] = replace(old, health=health, last_seen=now)

    def prime_seqs(self, last_seqs: dict[str, int]) -> None:
        with self._lock:
            for device, seq in last_seqs.items():
                self._state[device] = replace(self._state.get(device, PostState()), last_seq=seq)
