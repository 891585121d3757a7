"""Hostile but well-formed messages from a provisioned post, and an in-process hub to feed them to (issue 18).

Shared by tests/e2e/test_hostile_content.py and bench/bench_hostile.py. A message is what a
stolen Pi can publish with its own credential on its own topics (event, status, health,
snapshot/<id>): mostly valid JSON that the contract may accept, with values chosen to break
whatever shows them later (extreme numbers, nesting near the limit, odd Unicode, markup,
spreadsheet formulas, timestamps at the edges of the calendar, wrong types), plus textual
mutations the contract must refuse (lone surrogates, NaN, huge literals, duplicate keys).

`InProcessHub` is the real HubService (real ingest, event store, alert service, registry) without
MQTT: `deliver` calls `Ingest.handle` directly and returns the message's outcome, and `render_all`
builds every view and dashboard page of what was stored. Nothing here sleeps; waits have deadlines.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from hub.ingest.mqtt_session import Inbound
from hub.paging.notify import RecordingNotifier
from hub.service import HubService
from hub.settings import HubSettings
from hub.web.render import json_text
from hub.web.routes.dashboard import TEMPLATES, page_context
from hub.web.views import alert_views, event_views, post_views
from kamling.protocol import MAX_SAFE_INTEGER, EventKind, new_event_id

UNLIMITED = {"rate": 1e9, "burst": 1e9, "panic_rate": 1e9, "panic_burst": 1e9, "quarantine_after": 0}
CHANNELS = ("event", "status", "health", "snapshot")

# -- values ----------------------------------------------------------------------------------------

ODD_TEXT = [
    "",
    " ",
    "\u202eevil.exe",
    "\u200b\u200d\ufeff",
    "e\u0301\u0301\u0301",
    "😀🇮🇩👨‍👩‍👧",
    "\U0010ffff",
    "\uffff",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><script>alert(2)</script>",
    "{{7*7}}",
    "{% raw %}",
    "${jndi:ldap://x}",
    '=HYPERLINK("http://evil","klik")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1)",
    "\t=1",
    "\r\n=1",
    "＝1+1",  # noqa: RUF001  (full-width equals: some spreadsheets fold it to "=")
    "Pos\nKamling",
    "\x1b[2J\x1b[H",
    "\x7f\x85",
    "null",
    "NaN",
    "../../etc/passwd",
    "%00",
    "' OR 1=1 --",
    "x" * 2000,
]
EXTREME_NUMBERS = [
    0,
    -0.0,
    1,
    -1,
    MAX_SAFE_INTEGER,
    -MAX_SAFE_INTEGER,
    9007199254740991.0,
    -9007199254740990.5,
    5e-324,
    2.2250738585072014e-308,
    0.1,
    1e-7,
    1e15 + 0.5,
    123456789.123456789,
]
EDGE_TIMESTAMPS = [
    "1900-01-01T00:00:00Z",
    "1900-01-01T00:00:00+23:59",
    "1901-12-13T20:45:52Z",
    "1970-01-01T00:00:00Z",
    "2038-01-19T03:14:08Z",
    "2199-12-31T23:59:59.999999999Z",
    "2199-12-31T23:59:59-23:59",
    "2026-02-29T00:00:00Z",
    "2026-11-22T15:00:00.1+07:00",
    "2026-11-22 15:00:00z",
    "2026-11-22t15:00:00Z",
    # refused by the contract
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "2026-11-22T15:00:00",
    "2026-13-01T00:00:00Z",
    "yesterday",
    "",
]


def nest(depth: int, leaf: Any) -> Any:
    """`leaf` inside `depth` levels of alternating arrays and objects."""
    value = leaf
    for level in range(depth):
        value = {"n": value} if level % 2 else [value]
    return value


@dataclass(frozen=True)
class Message:
    channel: str
    suffix: str | None
    payload: bytes
    event_id: str | None = None  # for events: the id it claims, to find it in the store

    def topic(self, device: str) -> str:
        base = f"kamling/v1/{device}/{self.channel}"
        return f"{base}/{self.suffix}" if self.suffix is not None else base


def _append(extra: str) -> Any:
    """A mutation that adds `extra` as a last member of a JSON object's text."""
    return lambda text: text[:-1] + ("," if len(text) > 2 else "") + extra + "}" if text.endswith("}") else text


MUTATIONS: list[tuple[str, Any]] = [
    ("lone surrogate", lambda text: text.replace('"', '"\\ud800', 1)),
    ("low surrogate in a key", lambda text: text.replace('{"', '{"\\udc80', 1)),
    ("NaN", _append('"zz":NaN')),
    ("Infinity", _append('"zz":-Infinity')),
    ("huge literal", _append('"zz":' + "9" * 5000)),
    ("1e400", _append('"zz":1e400')),
    ("duplicate key", _append('"zz":1,"zz":2')),
    ("NUL", lambda text: text.replace('"', '"\\u0000', 1)),
    ("too deep", _append('"zz":' + "[" * 40 + "]" * 40)),
    ("not an object", lambda text: "[" + text + "]"),
    ("not UTF-8", lambda text: text.replace('"', '"\udcff', 1)),  # encoded with surrogatepass: invalid bytes
]

REFUSED_NUMBERS = [MAX_SAFE_INTEGER + 1, -(MAX_SAFE_INTEGER + 1), 1.7976931348623157e308, 1e21, -1e300]
"""Valid JSON numbers the contract refuses (beyond +/-(2**53 - 1))."""
WRONG_TYPES: list[Any] = [None, True, False, 0, -1, 1.5, "", "1", "true", [], {}, [None], {"": None}]


def _odd_text(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.6:
        return rng.choice(ODD_TEXT)
    if pick < 0.8:  # random code points from the whole range but the surrogates
        return "".join(
            chr(rng.choice((rng.randint(1, 0x2FF), rng.randint(0x300, 0xD7FF), rng.randint(0xE000, 0x10FFFF))))
            for _ in range(rng.randint(0, 24))
        )
    if pick < 0.9:
        return "ü" * rng.randint(100, 3000)  # long, and two bytes each in UTF-8
    return "".join(
        rng.choice("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\x01\x1f") for _ in range(6)
    )


def _number(rng: random.Random) -> int | float:
    pick = rng.random()
    if pick < 0.5:
        return rng.choice(EXTREME_NUMBERS)
    if pick < 0.75:
        return rng.randint(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    return rng.uniform(-1e15, 1e15)


def _scalar(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.1:
        return None
    if pick < 0.2:
        return rng.random() < 0.5
    if pick < 0.55:
        return _number(rng)
    return _odd_text(rng)


def _json(rng: random.Random, depth: int = 0, budget: list[int] | None = None) -> Any:
    budget = budget if budget is not None else [12]
    if depth > 3 or budget[0] <= 0 or rng.random() < 0.5:
        budget[0] -= 1
        return _scalar(rng)
    if rng.random() < 0.5:
        return [_json(rng, depth + 1, budget) for _ in range(rng.randint(0, 4))]
    return {_odd_text(rng)[:40]: _json(rng, depth + 1, budget) for _ in range(rng.randint(0, 4))}


def _timestamp(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.45:
        return rng.choice(EDGE_TIMESTAMPS[:11])  # accepted
    if pick < 0.85:
        moment = datetime(1900, 1, 2, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 300 * 365.25 * 86400 - 3 * 86400))
        return moment.astimezone(timezone(timedelta(minutes=rng.randint(-1439, 1439)))).isoformat()
    if pick < 0.95:
        return rng.choice(EDGE_TIMESTAMPS[11:])  # refused
    return rng.choice([*WRONG_TYPES, 1700000000])


def _breaks(rng: random.Random) -> bool:
    """About one message in three carries one thing the contract refuses; the rest are valid."""
    return rng.random() < 0.33


def random_message(rng: random.Random, device: str) -> Message:
    """One hostile message, from `rng` alone (fast: the 100,000-message runs use this)."""
    channel = rng.choices(CHANNELS, weights=(6, 2, 3, 1))[0]
    broken = _breaks(rng)
    if channel == "snapshot":
        suffix = (
            new_event_id()
            if not broken
            else rng.choice(["..", ".", "%2e%2e", "<script>", "x" * 300, "a b", "a\u202eb"])
        )
        head = b"\xff\xd8\xff" if not broken else rng.choice([b"\xff\xd8", b"GIF89a", b""])
        return Message("snapshot", suffix, head + rng.randbytes(rng.randint(0, 2048)))
    if channel == "event":
        event_id = new_event_id()
        kind = rng.choice([k.value for k in EventKind])
        data: dict[str, Any] = {_odd_text(rng)[:40]: _json(rng) for _ in range(rng.randint(0, 5))}
        if rng.random() < 0.5:
            data |= {
                "state": rng.choice(["lost", "restored", "open", "closed", _scalar(rng)]),
                "phase": rng.choice(["start", "end", _scalar(rng)]),
                "armed": rng.choice([True, False, _scalar(rng)]),
                "boxes": [[_number(rng) for _ in range(4)] for _ in range(rng.randint(0, 4))],
            }
        if rng.random() < 0.2:
            data["deep"] = nest(rng.randint(10, 14), _scalar(rng))  # at the edge of the 16 levels
        obj: dict[str, Any] = {
            "id": event_id,
            "device": device,
            "seq": rng.choice([1, rng.randint(1, MAX_SAFE_INTEGER), MAX_SAFE_INTEGER]),
            "kind": kind,
            "ts": _timestamp(rng),
            "data": data,
            "test": rng.random() < 0.2,
        }
    elif channel == "status":
        obj = {"state": rng.choice(["online", "offline"])}
        if rng.random() < 0.7:
            obj["ts"] = _timestamp(rng)
        if rng.random() < 0.7:
            obj["version"] = _odd_text(rng)[:100]
        event_id = None
    else:
        reading = lambda: rng.choice([None, _number(rng), abs(_number(rng))])  # noqa: E731
        obj = {
            "ts": _timestamp(rng),
            "version": _odd_text(rng)[:100],
            "uptime_s": abs(_number(rng)),
            "load": [reading() for _ in range(rng.randint(0, 3))],
            "cpu_temp_c": reading(),
            "throttle": {
                _odd_text(rng)[:30]: rng.choice([True, False, _odd_text(rng)]) for _ in range(rng.randint(0, 4))
            },
            "disk": {
                "path": _odd_text(rng),
                "free_bytes": rng.randint(0, MAX_SAFE_INTEGER),
                "free_pct": rng.uniform(0, 100),
            },
            "clock_synced": rng.random() < 0.5,
            "outbox": {"depth": rng.randint(0, MAX_SAFE_INTEGER), "drops": rng.randint(0, 10)},
            "cameras": {_odd_text(rng)[:30]: reading() for _ in range(rng.randint(0, 4))},
        }
        for key in rng.sample(sorted(obj), rng.randint(0, len(obj))):
            del obj[key]
        event_id = None
    if broken:
        _break_one_field(rng, obj)
    text = json.dumps(obj, ensure_ascii=rng.random() < 0.5, allow_nan=True, separators=(",", ":"))
    if broken and rng.random() < 0.5:
        _, mutate = rng.choice([m for m in MUTATIONS if m[1] is not None])
        text = mutate(text)
    return Message(channel, None, text.encode("utf-8", "surrogatepass"), event_id)


def _break_one_field(rng: random.Random, obj: dict[str, Any]) -> None:
    pick = rng.random()
    if pick < 0.4 and obj:
        obj[rng.choice(sorted(obj))] = rng.choice(WRONG_TYPES + REFUSED_NUMBERS + [_odd_text(rng)])
    elif pick < 0.6:
        obj[_odd_text(rng)[:40] or "extra"] = _json(rng)  # an unknown field
    elif pick < 0.8 and obj:
        del obj[rng.choice(sorted(obj))]
    elif "device" in obj:
        obj["device"] = rng.choice(["pos-other", obj["device"].upper(), "", obj["device"] + "\u0000"])


def messages(device: str) -> st.SearchStrategy[Message]:
    """Hostile messages for hypothesis. Hypothesis draws a seed and `random_message` builds the
    message from it: cheap enough for 100,000 messages (hypothesis-driven draws of every value
    cost ~50 ms a message), and a failure prints the seed that reproduces it."""
    return st.integers(0, 2**64).map(lambda seed: random_message(random.Random(seed), device))


def message_batches(device: str, size: int) -> st.SearchStrategy[list[Message]]:
    def build(seed: int) -> list[Message]:
        rng = random.Random(seed)
        return [random_message(rng, device) for _ in range(size)]

    return st.integers(0, 2**64).map(build)


# -- the hub in-process ----------------------------------------------------------------------------


@dataclass
class Tally:
    tried: int = 0
    stored: int = 0
    rejected: int = 0
    applied: int = 0  # status, health and snapshots taken (they are not events: nothing to store)
    duplicate: int = 0
    dead_lettered: int = 0
    stuck: int = 0
    crashed: int = 0
    renders: int = 0
    by_channel: Counter[str] | None = None
    crashes: list[str] | None = None

    def __post_init__(self) -> None:
        self.by_channel = Counter()
        self.crashes = []

    def as_dict(self) -> dict[str, Any]:
        return {
            "tried": self.tried,
            "stored": self.stored,
            "rejected": self.rejected,
            "applied": self.applied,
            "duplicate": self.duplicate,
            "dead_lettered": self.dead_lettered,
            "stuck": self.stuck,
            "crashed": self.crashed,
            "renders": self.renders,
            "by_channel": dict(self.by_channel or {}),
            "first_crashes": (self.crashes or [])[:5],
        }


class InProcessHub:
    """The real hub without MQTT: messages go straight to `Ingest.handle`."""

    HOSTILE = "pos-curian"
    HONEST = "pos-rw01"

    def __init__(self, data_dir: Path, settle_timeout: float = 30.0) -> None:
        self.notifier = RecordingNotifier()
        settings = HubSettings(
            mqtt_password="unused",
            data_dir=data_dir,
            rate_limit=UNLIMITED,
            posts=[
                {
                    "device_id": self.HOSTILE,
                    "name": "<b>Pos</b> =1+1",
                    "village": "Desa \u202eX",
                    "lat": -7.8,
                    "lon": 110.3,
                },
                {
                    "device_id": self.HONEST,
                    "name": "Pos Kamling RW 01",
                    "village": "Sukamaju",
                    "lat": -7.81,
                    "lon": 110.4,
                },
            ],
            officers=[{"name": "officer", "urls": ["json://127.0.0.1:9/officer"]}],
        )
        self.hub = HubService(settings, notifier=self.notifier)
        self.settle_timeout = settle_timeout
        self.tally = Tally()
        self._unsettled: dict[int, Message] = {}
        self._accepted_ids: list[str] = []
        self._serial = 0

    def start(self) -> None:
        hub = self.hub
        hub.settings.data_dir.mkdir(parents=True, exist_ok=True)
        hub.store.open()
        hub.users.open()
        hub.alerts.start()
        hub.ingest.start()  # its worker reads the (empty) MQTT inbox; we call handle() ourselves

    def stop(self) -> None:
        self.hub.ingest.stop()
        self.hub.alerts.stop()
        self.hub.store.close()
        self.hub.users.close()

    def _counts(self) -> tuple[int, int, int, int]:
        ingest = self.hub.ingest
        return (
            ingest.accepted,
            ingest.duplicates,
            sum(ingest.rejected.values()),
            int(getattr(ingest, "dead_lettered", 0)),
        )

    def deliver(self, message: Message, device: str | None = None) -> None:
        """Hand one message to ingest as the MQTT adapter would; count its outcome once settled."""
        device = device or self.HOSTILE
        tally = self.tally
        tally.tried += 1
        assert tally.by_channel is not None and tally.crashes is not None
        tally.by_channel[message.channel] += 1
        self._serial += 1
        serial = self._serial
        self._unsettled[serial] = message
        before = self._counts()
        item = Inbound(
            message.topic(device), message.payload, time.monotonic(), settle=lambda: self._unsettled.pop(serial, None)
        )
        try:
            self.hub.ingest.handle(item)
        except Exception as exc:  # the worker loop would count it as internal_error: for us, a crash
            tally.crashed += 1
            tally.crashes.append(f"handle {message.channel}: {exc.__class__.__name__}: {str(exc)[:200]}")
            self._unsettled.pop(serial, None)
            return
        accepted, duplicates, rejected, dead = (a - b for a, b in zip(self._counts(), before, strict=True))
        if rejected:
            tally.rejected += 1
        elif dead:
            tally.dead_lettered += 1
        elif duplicates:
            tally.duplicate += 1
        elif accepted:
            tally.stored += 1
            if message.event_id:
                self._accepted_ids.append(message.event_id)  # `wait_settled` checks the store holds it
        else:
            tally.applied += 1

    def wait_settled(self) -> None:
        """Every message handed in is settled (PUBACK-able) within the deadline, or counted stuck."""
        deadline = time.monotonic() + self.settle_timeout
        while self._unsettled and time.monotonic() < deadline:
            time.sleep(0.002)
        assert self.tally.crashes is not None
        if self._unsettled:
            self.tally.stuck += len(self._unsettled)
            self.tally.crashes.extend(f"stuck {m.channel}: {m.payload[:80]!r}" for m in self._unsettled.values())
            self._unsettled.clear()
        lost = [i for i in self._accepted_ids if not self.hub.store.contains(i)]
        self.tally.stuck += len(lost)  # accepted and settled, yet not in the store
        self.tally.crashes.extend(f"accepted but not stored: {i}" for i in lost)
        self._accepted_ids.clear()

    def render_all(self, event_ids: list[str]) -> None:
        """Every view of what the messages left behind: the JSON of posts, alerts and these events,
        and the dashboard pages (posts, events, each open alert), in both languages."""
        hub = self.hub
        try:
            records = [r for r in (hub.store.get(i) for i in event_ids) if r is not None]
            events = event_views(records)
            posts = post_views(hub)
            alerts = alert_views(hub, [a for a in hub.alerts.all() if a.device == self.HOSTILE][:5])
            strict_json(json_text({"events": events, "posts": posts, "alerts": alerts}))
            for lang in ("id", "en"):
                context = page_context(hub, lang, None, "/")
                pages = [
                    TEMPLATES.get_template("dashboard/events.html").render(
                        context
                        | {
                            "items": events,
                            "total": len(events),
                            "page": 1,
                            "pages": 1,
                            "filters": {},
                            "posts": hub.registry.all(),
                            "kinds": [k.value for k in EventKind],
                            "newer": None,
                            "older": None,
                            "names": {p.device_id: p.name for p in hub.registry.all()},
                        }
                    ),
                    TEMPLATES.get_template("dashboard/_posts.html").render(
                        context | {"rows": posts, "map": _NO_MAP, "by_device": {p["device_id"]: p for p in posts}}
                    ),
                ]
                pages += [
                    TEMPLATES.get_template("dashboard/_alert.html").render(
                        context
                        | {"alert": alert, "post": hub.registry.get(self.HOSTILE), "snapshots": [], "outcomes": []}
                    )
                    for alert in alerts
                ]
                for page in pages:
                    page.encode("utf-8")
                    assert "<script>alert" not in page, "unescaped markup on a page"
            self.tally.renders += 1
        except Exception as exc:
            self.tally.crashed += 1
            assert self.tally.crashes is not None
            self.tally.crashes.append(f"render: {exc.__class__.__name__}: {str(exc)[:300]}")


class _NoMap:
    markers: tuple[Any, ...] = ()
    tiles: tuple[Any, ...] = ()
    width = height = 0


_NO_MAP = _NoMap()


def strict_json(text: str) -> Any:
    """Parse as a browser would, refusing NaN/Infinity; the text must also encode as UTF-8."""
    text.encode("utf-8")

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)
