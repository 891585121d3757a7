"""Live updates for the dashboard: a ring buffer of changes served as Server-Sent Events.

`LiveFeed` is the core: every alert change and every post status change becomes one
`LiveEvent` with an increasing id, kept in a bounded ring buffer. A browser that lost its
connection reconnects with `Last-Event-ID` (EventSource does this by itself) and gets what
it missed; if the buffer no longer reaches back that far, it gets a `reset` and reloads
everything. Alert events carry the alert's whole state, so applying one twice is harmless.

Village scope (issue 15): the feed is one for the hub, the filter is per connection. A stream of
an account limited to villages carries only the events of its villages' posts (`visible_to`): an
event names its post by `device` (alerts) or `device_id` (posts); one naming none (other than the
`sync` and `reset` markers) goes to whole-hub accounts only, so a new kind of event leaks nothing
by default. Skipped ids do not matter: a reconnect resumes after the last id the browser got.

Post status is observed, not pushed: every open stream compares the registry with the
last snapshot about once a second (`observe_posts`), so the registry needs no hook and a
hub without viewers does no work.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse

from hub.service import HubService
from hub.web.deps import Viewer, scope
from hub.web.render import json_text
from hub.web.scope import Posts, Scope
from hub.web.views import alert_view, camera_state, post_view

__all__ = ["LiveEvent", "LiveFeed", "camera_state", "create_live_router", "post_snapshot"]

RETRY_MS = 2000
"""How long a browser waits before it reconnects a dropped stream."""
PING_SECONDS = 15
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class LiveEvent:
    id: int
    kind: str  # alert, post, reset, sync
    data: dict[str, Any]


class LiveFeed:
    """Thread-safe ring buffer of changes; wakes waiting streams on their own event loops.

    Ids sent to browsers are `<epoch>.<n>`: the epoch is new for every feed (hub start), so
    an id remembered from before a restart can never be mistaken for a current one.
    """

    def __init__(self, size: int = 1000, epoch: str | None = None) -> None:
        self.size = size
        self.epoch = epoch or secrets.token_hex(4)
        self._events: deque[LiveEvent] = deque(maxlen=size)
        self._next_id = 1
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._posts: dict[str, tuple[Any, ...]] | None = None

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    def publish(self, kind: str, data: dict[str, Any]) -> LiveEvent:
        with self._lock:
            event = LiveEvent(self._next_id, kind, data)
            self._next_id += 1
            self._events.append(event)
            waiters = list(self._waiters)
        for loop, flag in waiters:
            try:
                loop.call_soon_threadsafe(flag.set)
            except RuntimeError:  # that loop is closed: its stream is gone
                pass
        return event

    def since(self, last_id: int) -> list[LiveEvent] | None:
        """Events after `last_id`; None when some were already dropped (the client must reload)."""
        with self._lock:
            if last_id < 0 or last_id >= self._next_id:
                return None
            oldest = self._events[0].id if self._events else self._next_id
            if last_id < oldest - 1:
                return None
            return [e for e in self._events if e.id > last_id]

    def observe_posts(self, snapshot: Mapping[str, tuple[Any, ...]], describe: Callable[[str], dict[str, Any]]) -> int:
        """Publish a `post` event for each post whose snapshot tuple changed; the first call only records."""
        with self._lock:
            previous, self._posts = self._posts, dict(snapshot)
        if previous is None:
            return 0
        changed = [d for d, value in snapshot.items() if previous.get(d) != value]
        for device in changed:
            self.publish("post", describe(device))
        return len(changed)

    def subscribe(self, loop: asyncio.AbstractEventLoop, flag: asyncio.Event) -> None:
        with self._lock:
            self._waiters.add((loop, flag))

    def unsubscribe(self, loop: asyncio.AbstractEventLoop, flag: asyncio.Event) -> None:
        with self._lock:
            self._waiters.discard((loop, flag))

    # -- the SSE wire form ----------------------------------------------------------------------
    def wire_id(self, event_id: int) -> str:
        return f"{self.epoch}.{event_id}"

    def parse_wire_id(self, value: str | None) -> int | None:
        """The event number in a Last-Event-ID of this feed; -1 for a foreign or bad id; None if absent."""
        if value is None or not value.strip():
            return None
        epoch, _, number = value.strip().partition(".")
        if epoch != self.epoch or not number.isdigit():
            return -1
        return int(number)

    def to_sse(self, event: LiveEvent) -> dict[str, Any]:
        # Strict JSON whatever the payload holds (no NaN, no lone surrogates, bounded depth): the
        # browser's JSON.parse would otherwise throw on every later event of the stream (issue 18).
        data = json_text(event.data, ensure_ascii=True)
        return {"id": self.wire_id(event.id), "event": event.kind, "data": data, "retry": RETRY_MS}

    def start(self, last_id: int | None) -> tuple[list[LiveEvent], int]:
        """What a (re)connecting stream sends first, and the id to continue after.

        No Last-Event-ID: a `sync` marker (the page then loads the current state itself).
        A known id: the events missed since. An id too old or from another hub run: `reset`.
        """
        if last_id is None:
            cursor = self.last_id
            return [LiveEvent(cursor, "sync", {})], cursor
        return self.follow(last_id)

    def follow(self, cursor: int) -> tuple[list[LiveEvent], int]:
        """Events after `cursor`, or a `reset` if they are no longer all in the buffer."""
        missed = self.since(cursor)
        if missed is None:
            cursor = self.last_id
            return [LiveEvent(cursor, "reset", {})], cursor
        return missed, (missed[-1].id if missed else cursor)


MARKERS = frozenset({"sync", "reset"})
"""Events about the stream itself, not about a post: every connection gets them."""


def visible_to(seen: Scope, posts: Posts, event: LiveEvent) -> bool:
    """Whether a connection with scope `seen` may receive `event` (see the module doc)."""
    if seen.whole_hub or event.kind in MARKERS:
        return True
    device = event.data.get("device", event.data.get("device_id"))
    return device is not None and seen.covers_device(posts, device)


# -- wiring to the hub --------------------------------------------------------------------------


def post_snapshot(hub: HubService) -> dict[str, tuple[Any, ...]]:
    """What the live view shows per post, as comparable tuples (last_seen is left out: it ticks)."""
    result = {}
    for post in hub.registry.all():
        state = hub.registry.state(post.device_id)
        result[post.device_id] = (state.online, camera_state(state.health))
    return result


def create_live_router(hub: HubService, feed: LiveFeed | None = None) -> APIRouter:
    """GET /api/stream for this hub; subscribes the feed to the hub's alert changes."""
    live = feed or LiveFeed()
    hub.alerts.listeners.append(lambda alert: live.publish("alert", alert_view(hub, alert)))
    commands = getattr(hub, "commands", None)  # hub/posts/commands.py: results of commands to posts (issue 15)
    if commands is not None:
        commands.listeners.append(lambda command: live.publish("command", command.view()))
    # an evidence picture stored after its alert changed (issue 15): open alert pages fetch the strip again
    hub.alerts.picture_listeners.append(lambda alert: live.publish("alert", alert_view(hub, alert)))
    router = APIRouter(tags=["live"])

    def observe() -> None:
        live.observe_posts(post_snapshot(hub), lambda device: post_view(hub, device))

    async def events(request: Request, last_id: int | None, seen: Scope) -> AsyncIterator[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        flag = asyncio.Event()
        live.subscribe(loop, flag)
        try:
            observe()
            batch, cursor = live.start(last_id)
            while True:
                for event in batch:
                    if visible_to(seen, hub.registry, event):
                        yield live.to_sse(event)
                if await request.is_disconnected():
                    return
                try:
                    await asyncio.wait_for(flag.wait(), POLL_SECONDS)
                except TimeoutError:
                    pass
                flag.clear()
                observe()
                batch, cursor = live.follow(cursor)
        finally:
            live.unsubscribe(loop, flag)

    @router.get("/api/stream", summary="Server-Sent Events: alert and post changes, replay after Last-Event-ID")
    async def stream(
        request: Request,
        who: Viewer,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> EventSourceResponse:
        """Only the caller's villages' alerts and posts for an account limited to villages."""
        return EventSourceResponse(
            events(request, live.parse_wire_id(last_event_id), scope(who)),
            ping=PING_SECONDS,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    router.live_feed = live  # type: ignore[attr-defined]  # for tests and diagnostics
    return router
