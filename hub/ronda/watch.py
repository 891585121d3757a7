"""Ronda watch: applies the pure presence rules (hub/ronda/rules.py) to posts, on a timer (adapter).

* Check-ins arrive from ingest once committed (`observe_records`, the commit hook): each event
  is committed once, so a resend never counts twice. A check-in counts at the hub's time of
  arrival (`clock`), not the post's clock, which a post could have wrong.
* `tick()` evaluates every post (a thread does it every `interval` seconds; tests call it
  with a fake clock).
* Effects go out through two callables the composition root wires to the alert service:
  `on_unstaffed(device, details)` and `on_staffed(device, detail)`. This room sits below
  alerting and knows nothing of alerts.
* At start the night's check-ins are read back from the event log (`history`), so a restart
  neither forgets who checked in nor raises "Pos kosong" for rounds that were kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from hub.ronda.roster import RondaRoster, guards_on
from hub.ronda.rules import (
    Action,
    Checkin,
    Decision,
    Presence,
    evaluate,
    last_window,
    record_checkin,
    record_checkins,
    window_at,
)
from hub.ronda.store import RondaStore
from hub.settings import PostSettings
from kamling.protocol import EventKind, utc_now

log = logging.getLogger(__name__)

HISTORY_WINDOW = timedelta(hours=36)
"""How far back the start reads check-ins: covers a 24 h ronda that began yesterday."""
MAX_CARD_CHARS = 32


@dataclass(frozen=True)
class PostTonight:
    """One post's night, for the page and the API."""

    device: str
    name: str
    village: str
    night: str  # local date the night starts, ISO
    hours: str  # e.g. 22:00-04:00
    expected: tuple[str, ...]  # names of tonight's guards
    checkins: tuple[Checkin, ...]
    last_checkin: Checkin | None
    missed: int
    unstaffed: bool  # "Pos kosong" open now


def checkin_from(data: Any, at: datetime, roster: RondaRoster, device: str, counted: bool = False) -> Checkin:
    """A check-in event's data (hostile: any JSON object) as a Checkin, the card looked up."""
    data = data if isinstance(data, dict) else {}
    source = "card" if data.get("source") == "card" else "button"
    raw = data.get("card")
    card = raw.strip().upper()[:MAX_CARD_CHARS] if isinstance(raw, str) and raw.strip() else None
    if card is None:
        return Checkin(at, source, counted=counted)
    guard = roster.guard_by_card(card, device)
    if guard is None:
        return Checkin(at, source, card, unknown_card=True, counted=counted)
    return Checkin(at, source, card, guard.id, guard.name, counted=counted)


class RondaWatch:
    def __init__(
        self,
        store: RondaStore,
        posts: Callable[[], list[PostSettings]],
        zone: str,
        on_unstaffed: Callable[[str, dict[str, Any]], Any],
        on_staffed: Callable[[str, str], Any],
        clock: Callable[[], datetime] = utc_now,
        interval: float = 60.0,
        history: Callable[[datetime], Iterable[dict[str, Any]]] | None = None,
    ) -> None:
        self.store = store
        self.posts = posts
        self.zone = zone
        self.on_unstaffed = on_unstaffed
        self.on_staffed = on_staffed
        self.clock = clock
        self.interval = interval
        self.history = history
        self._state: dict[str, Presence] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._load_history()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ronda-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # a bad roster entry must not end the watch
                log.exception("ronda watch: evaluation failed")

    def _load_history(self) -> None:
        if self.history is None:
            return
        try:
            records = list(self.history(self.clock() - HISTORY_WINDOW))
        except Exception:
            log.exception("ronda watch: cannot read tonight's check-ins back from the event log")
            return
        records.sort(key=lambda r: str(r.get("received_at", "")))
        for record in records:
            try:
                at = datetime.fromisoformat(str(record["received_at"]))
            except (KeyError, ValueError):
                continue
            self._replay_checkin(record, at)

    # -- inputs ---------------------------------------------------------------------------------
    def observe_records(self, batch: Iterable[dict[str, Any]]) -> None:
        """Ingest's commit hook: the check-ins among committed records (walk tests never count)."""
        checkins = [r for r in batch if r.get("kind") == EventKind.CHECKIN.value and not r.get("test")]
        if not checkins:
            return
        roster = self.store.roster()  # once a batch: a commit can hold hundreds of check-ins
        posts = {p.device_id: p for p in self.posts()}
        at = self.clock()  # committed together: one moment for the batch
        hours_of = lru_cache(maxsize=None)(roster.hours_for)  # each village's hours once a batch
        by_device: dict[str, list[Checkin]] = {}
        for record in checkins:  # one fold per post: the batch's check-ins share one moment
            device = str(record.get("device", ""))
            if device in posts:
                counted = window_at(hours_of(posts[device].village), at, self.zone) is not None
                checkin = checkin_from(record.get("data"), at, roster, device, counted)
                self._log_checkin(device, checkin)
                by_device.setdefault(device, []).append(checkin)
        for device, found in by_device.items():
            post = posts[device]
            with self._lock:
                state = self._state.get(device, Presence(device))
                state, decision = record_checkins(state, hours_of(post.village), found, self.zone)
                self._state[device] = state
            self._apply(device, decision, post)

    def _replay_checkin(self, record: dict[str, Any], at: datetime) -> None:
        """A check-in from the log, at start: the night's state rebuilt, no alert raised or cleared."""
        device = str(record.get("device", ""))
        post = self._post(device)
        if post is None:
            return
        roster = self.store.roster()
        checkin = checkin_from(record.get("data"), at, roster, device)
        with self._lock:
            state = self._state.get(device, Presence(device))
            self._state[device], _ = record_checkin(state, roster.hours_for(post.village), checkin, self.zone)

    @staticmethod
    def _log_checkin(device: str, checkin: Checkin) -> None:
        if checkin.unknown_card:
            log.warning("ronda: post %s check-in with an unknown card %s (kartu tidak dikenal)", device, checkin.card)
        log.info(
            "ronda: check-in at %s by %s%s",
            device,
            checkin.guard_name or checkin.source,
            "" if checkin.counted else " (outside ronda hours: not counted)",
        )

    def tick(self, now: datetime | None = None) -> None:
        """Evaluate every post at `now` (default: the clock)."""
        now = now or self.clock()
        roster = self.store.roster()
        for post in self.posts():
            hours = roster.hours_for(post.village)
            night = last_window(hours, now, self.zone).night
            expected = bool(guards_on(roster, post.device_id, night))
            with self._lock:
                before = self._state.get(post.device_id, Presence(post.device_id))
                state, decision = evaluate(before, hours, now, self.zone, expected)
                self._state[post.device_id] = state
            self._apply(post.device_id, decision, post)

    def _apply(self, device: str, decision: Decision, post: PostSettings) -> None:
        try:
            if decision.action in (Action.RAISE, Action.UPDATE):
                log.warning("ronda: post %s unstaffed, %d round(s) missed (Pos kosong)", device, decision.missed)
                self.on_unstaffed(device, self._details(post, decision))
            elif decision.action is Action.CLEAR:
                self.on_staffed(device, decision.reason)
        except Exception:
            log.exception("ronda: could not raise or clear the unstaffed alert of %s", device)

    def _details(self, post: PostSettings, decision: Decision) -> dict[str, Any]:
        state = self._state.get(post.device_id, Presence(post.device_id))
        last = state.last_checkin
        return {
            "missed_rounds": decision.missed,
            "night": state.night.isoformat() if state.night else None,
            "last_checkin": last.at.isoformat() if last else None,
            "messages": [f"Pos kosong: {decision.missed} ronde terlewat / {decision.missed} round(s) missed"],
        }

    # -- views ----------------------------------------------------------------------------------
    def tonight(self, posts: Iterable[PostSettings] | None = None, now: datetime | None = None) -> list[PostTonight]:
        now = now or self.clock()
        roster = self.store.roster()
        views = []
        for post in posts if posts is not None else self.posts():
            hours = roster.hours_for(post.village)
            window = last_window(hours, now, self.zone)
            with self._lock:
                state = self._state.get(post.device_id, Presence(post.device_id))
            if state.night != window.night:
                state = Presence(post.device_id, window.night)
            views.append(
                PostTonight(
                    device=post.device_id,
                    name=post.name,
                    village=post.village,
                    night=window.night.isoformat(),
                    hours=f"{hours.start:%H:%M}-{hours.end:%H:%M}",
                    expected=tuple(g.name for g in guards_on(roster, post.device_id, window.night)),
                    checkins=state.checkins,
                    last_checkin=state.last_checkin,
                    missed=state.missed,
                    unstaffed=state.alert_open,
                )
            )
        return views

    def _post(self, device: str) -> PostSettings | None:
        return next((p for p in self.posts() if p.device_id == device), None)
