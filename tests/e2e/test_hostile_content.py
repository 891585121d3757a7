"""Issue 18, "every view renders every stored value": a stolen post sends hostile but well-formed
messages on all its topics; whatever the hub accepts, every page, API route and the live stream
still answer, and another post's panic still pages.

Two variants with the same generator (tests/e2e/hostile_messages.py):
* through a real Mosquitto with the post's own credential into the real hub (HTTP, SSE, a real
  edge agent for the honest post), fewer examples;
* in-process, straight into `Ingest.handle`, many more examples, every view and page rendered
  after each batch. bench/bench_hostile.py runs the same at >= 100,000 messages.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from paho.mqtt.enums import CallbackAPIVersion
from starlette.routing import Mount

from kamling.protocol import Event, EventKind, new_event_id, utc_now
from poskamling.broker import MosquittoBroker
from tests.e2e.hostile_messages import UNLIMITED, InProcessHub, Message, message_batches, messages, strict_json
from tests.hub.web.test_dashboard import login
from tests.support import HubHarness, add_device, post_entry, wait_for

pytestmark = pytest.mark.e2e

HOSTILE, HONEST = "pos-curian", "pos-rw01"
BROKER_EXAMPLES = 120
FAST_EXAMPLES = 100
FAST_BATCH = 30  # messages per example: 3,000 in the in-process variant
HYPOTHESIS = {
    "deadline": None,
    "database": None,
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    "suppress_health_check": list(HealthCheck),
}


# -- in-process: many messages, every view after each batch -----------------------------------------


def test_many_hostile_messages_in_process_leave_every_view_rendering(tmp_path: Path) -> None:
    world = InProcessHub(tmp_path / "hub")
    world.start()
    try:

        @settings(max_examples=FAST_EXAMPLES, **HYPOTHESIS)
        @given(message_batches(HOSTILE, FAST_BATCH))
        def batch(items: list[Message]) -> None:
            for message in items:
                world.deliver(message)
            world.wait_settled()
            world.render_all([m.event_id for m in items if m.event_id])
            assert world.tally.crashed == 0 and world.tally.stuck == 0, world.tally.as_dict()

        batch()
        tally = world.tally
        assert tally.tried >= FAST_EXAMPLES and tally.rejected > 0 and tally.stored > 0 and tally.applied > 0
        # the honest post's panic still pages, after all of that
        panic = Event(id=new_event_id(), device=HONEST, seq=1, kind=EventKind.PANIC, ts=utc_now())
        world.deliver(Message("event", None, panic.to_payload(), panic.id), device=HONEST)
        wait_for(lambda: any("Pos Kamling RW 01" in title for _, title, _ in world.notifier.sent), what="honest page")
        world.wait_settled()
        assert world.hub.store.contains(panic.id) and tally.crashed == 0 and tally.stuck == 0
        print("in-process hostile messages:", json.dumps(tally.as_dict()))
    finally:
        world.stop()


# -- through the real broker and the real hub -------------------------------------------------------


class DevicePublisher:
    """A bare MQTT client on the hostile post's own credential (what a stolen Pi can do)."""

    def __init__(self, broker: MosquittoBroker, device: str) -> None:
        self.device = device
        self.pubacks = 0
        self._lock = threading.Lock()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv5)
        client.username_pw_set(device, broker.accounts.get(device) or add_device(broker, device))
        client.on_publish = self._on_publish
        client.connect(broker.host, broker.port)
        client.loop_start()
        self.client = client

    def _on_publish(self, *_args: Any) -> None:
        with self._lock:
            self.pubacks += 1

    def publish(self, message: Message) -> None:
        info = self.client.publish(message.topic(self.device), message.payload, qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), f"broker did not take {message.channel}"

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class StreamReader:
    """Reads /api/stream in the background; every data line must be strict JSON."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.events: list[tuple[str, str]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            with self.client.stream("GET", "/api/stream", timeout=httpx.Timeout(10, read=60)) as response:
                kind = ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        kind = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        self.events.append((kind, line.split(":", 1)[1].strip()))
                    if self.stop.is_set():
                        return
        except httpx.HTTPError:  # the hub stops while the stream is open
            return


def get_routes(app: Any) -> list[str]:
    """Every GET path of the app, through included routers of any FastAPI version."""
    found: list[str] = []

    def visit(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, Mount):
                continue
            if hasattr(route, "effective_candidates"):
                candidates = route.effective_candidates
                visit(list(candidates() if callable(candidates) else candidates))
            elif "GET" in (getattr(route, "methods", None) or ()):
                found.append(route.path)

    visit(list(app.routes))
    return sorted(set(found))


def concrete_paths(path: str, ids: dict[str, list[str]]) -> list[str]:
    """`path` with every {param} filled by real ids from the store (several each), or a placeholder."""
    names = re.findall(r"\{([^}:]+)(?::[^}]*)?\}", path)
    if not names:
        return [path]
    choices = {name: ids.get(name) or ["01JDZZZZZZZZZZZZZZZZZZZZZZ"] for name in names}
    count = max(len(values) for values in choices.values())
    result = []
    for index in range(min(count, 5)):
        filled = path
        for name, values in choices.items():
            filled = re.sub(r"\{" + name + r"(?::[^}]*)?\}", values[index % len(values)], filled)
        result.append(filled)
    return result


def answers(client: httpx.Client, path: str) -> httpx.Response:
    response = client.get(path, follow_redirects=False)
    assert response.status_code < 500, f"GET {path} answered {response.status_code}: {response.text[:300]}"
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/json"):
        strict_json(response.content.decode("utf-8"))
    elif kind.startswith("text/"):
        response.content.decode("utf-8")
        assert "<script>alert" not in response.text, f"GET {path} shows unescaped markup"
    return response


@pytest.fixture
def world(
    make_hub: Callable[..., HubHarness], make_post: Callable[..., Any], broker: MosquittoBroker
) -> Iterator[dict[str, Any]]:
    hub = make_hub(
        [post_entry(HOSTILE, "<b>Pos Curian</b> =1+1"), post_entry(HONEST, "Pos Kamling RW 01")], rate_limit=UNLIMITED
    )
    honest = make_post(HONEST)
    hostile = DevicePublisher(broker, HOSTILE)
    client, _ = login(hub, "admin1", "admin")
    api = hub.client("admin")
    wait_for(
        lambda: api.get("/api/posts").status_code == 200 and hub.service.registry.state(HONEST).online,
        what="honest online",
    )
    yield {"hub": hub, "honest": honest, "hostile": hostile, "client": client, "api": api}
    hostile.stop()


def test_hostile_messages_through_the_broker_break_no_page_and_no_panic(world: dict[str, Any]) -> None:
    hub, hostile, client, api = world["hub"], world["hostile"], world["client"], world["api"]
    service = hub.service
    stream = StreamReader(hub.client("viewer"))
    wait_for(lambda: stream.events, what="the live stream's first event")
    tried = 0
    sentinel_seq = [10**12]

    def counts() -> int:
        ingest = service.ingest
        return (
            ingest.accepted
            + ingest.duplicates
            + sum(ingest.rejected.values())
            + int(getattr(ingest, "dead_lettered", 0))
        )

    def barrier() -> None:
        """A valid event after the hostile one, on the same connection: once it is stored, the
        hostile message before it was handled (one MQTT session, one ingest queue, in order)."""
        sentinel_seq[0] += 1
        event = Event(id=new_event_id(), device=HOSTILE, seq=sentinel_seq[0], kind=EventKind.CHECKIN, ts=utc_now())
        hostile.publish(Message("event", None, event.to_payload(), event.id))
        wait_for(lambda: service.store.contains(event.id), timeout=15, what="the barrier event stored (else: stuck)")

    @settings(max_examples=BROKER_EXAMPLES, **HYPOTHESIS)
    @given(messages(HOSTILE))
    def one(message: Message) -> None:
        nonlocal tried
        before = counts()
        hostile.publish(message)
        barrier()
        tried += 1
        handled = counts() - before - 1  # the barrier is one
        if message.channel == "event":
            # stored, or rejected with a reason, or a duplicate, or dead-lettered: never nothing
            assert handled >= 1 or (message.event_id and service.store.contains(message.event_id)), message
        for path in (
            f"/api/events?device={HOSTILE}&limit=50",
            "/api/posts",
            "/api/alerts",
            f"/events?device={HOSTILE}",
            "/posts",
        ):
            answers(client, path)

    one()
    # every GET route, with path parameters from the store
    events = api.get("/api/events", params={"limit": 1000}).json()["items"]
    alerts = api.get("/api/alerts").json()
    ids = {
        "alert_id": [a["id"] for a in alerts][:5],
        "event_id": [e["id"] for e in events if isinstance(e.get("id"), str) and e["id"]][:5],
        "section": ["alerts", "per_post", "per_village", "per_officer", "weekly"],
        "token": ["not-a-token"],
        "device_id": [HOSTILE, HONEST],
        "device": [HOSTILE, HONEST],
    }
    paths = [p for route in get_routes(hub.web.app) for p in concrete_paths(route, ids)]
    assert len(paths) > 15
    for path in paths:
        if path == "/api/stream":
            continue  # read by StreamReader
        answers(client, path)
        answers(api, path)
    for lang in ("id", "en"):
        for alert in alerts[:5]:
            answers(client, f"/alerts/{alert['id']}?lang={lang}")
        answers(client, f"/events?lang={lang}")
        answers(client, f"/posts?fragment=1&lang={lang}")

    # another post's panic still pages, through its real edge agent
    pages_before = len([r for r in hub.sink.received if "Pos Kamling RW 01" in json.dumps(r.body)])
    world["honest"].press()
    wait_for(
        lambda: len([r for r in hub.sink.received if "Pos Kamling RW 01" in json.dumps(r.body)]) > pages_before,
        timeout=20,
        what="the honest post's panic paged",
    )
    # the live stream carried strict JSON throughout, alerts of the hostile post included
    deadline = time.monotonic() + 10
    while not any(kind == "alert" for kind, _ in stream.events) and time.monotonic() < deadline:
        time.sleep(0.05)
    stream.stop.set()
    assert any(kind == "alert" for kind, _ in stream.events)
    for _kind, data in stream.events:
        strict_json(data)
    print(f"through the broker: {tried} hostile messages, rejected {dict(service.ingest.rejected)}")
