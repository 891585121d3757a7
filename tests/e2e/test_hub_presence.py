"""Issue 13, first part: hubs announce themselves, posts tell "no hub" from "no broker", posts fail over
between brokers and come back. Real Mosquittos, real hubs (in-process and `poskamling hub` processes),
real edge agents on mock pins."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import BrokerAddress
from hub.provisioning.broker_files import new_secret
from kamling.protocol import EventKind
from poskamling.broker import MosquittoBroker
from poskamling.httpsink import NotificationSink
from poskamling.sim import SimulatedPost
from tests.fault.rig import HubProcess
from tests.support import HUB_USER, HubHarness, add_device, add_monitor, post_entry, wait_for


def test_post_shows_no_hub_while_its_hub_is_dead_and_keeps_the_panic(
    broker: MosquittoBroker, sink: NotificationSink, make_post: Callable[..., SimulatedPost], tmp_path: Path
) -> None:
    hub = HubProcess(tmp_path / "hub", broker, ["pos-hp01"], sink.url("officer"))
    hub.start()
    try:
        wait_for(lambda: hub.health().get("hubs", {}).get("hub", {}).get("state") == "online", what="hub presence")
        post = make_post("pos-hp01")
        wait_for(lambda: post.led_state() == "connected", what="post connected, hub online")

        hub.kill()  # SIGKILL: Mosquitto publishes the hub's Last Will
        wait_for(lambda: post.led_state() == "no_hub", timeout=30, what="post LED shows 'no hub'")
        assert post.agent.connected  # the broker is still there: not the 'disconnected' pattern

        post.press()
        wait_for(lambda: post.led_state() == "panic_pending", what="panic waits in the outbox")
        hub.start()  # the same data dir and store: the panic is delivered when the hub is back
        page = sink.wait_for(lambda r: r.path == "/officer", timeout=30)
        assert page is not None, hub.log_tail()
        wait_for(lambda: not post.agent.outbox.has_pending(EventKind.PANIC), timeout=20, what="the panic acked")
        wait_for(lambda: post.led_state() not in ("no_hub", "panic_pending"), what="hub presence back on the LED")
    finally:
        hub.stop()


def test_two_hubs_list_each_other_in_health(broker: MosquittoBroker, sink: NotificationSink, tmp_path: Path) -> None:
    posts = [post_entry("pos-hp02")]
    officers = [{"name": "officer", "urls": [sink.url("officer")]}]
    duty_desk = {"fallback_urls": [sink.url("piket")], "sector_lost_after": 1.0}
    hub_a = HubHarness(broker, sink, tmp_path / "hub-a", posts, officers, extra={"hub_id": "hub-a"} | duty_desk)
    # Each hub has a broker account of its own: Mosquitto uses the user name as client id, so two hubs
    # sharing one account would take each other's session over.
    broker.accounts["poskamling-hub-b"] = password_b = new_secret()
    broker.hub_users.append("poskamling-hub-b")
    broker.reload()
    second = {"hub_id": "hub-b", "mqtt_username": "poskamling-hub-b", "mqtt_client_id": "poskamling-hub-b"}
    hub_b = HubHarness(broker, sink, tmp_path / "hub-b", posts, officers, extra=second | {"mqtt_password": password_b})
    hub_a.start()
    hub_b.start()
    try:
        with hub_a.client(None) as client_a, hub_b.client(None) as client_b:

            def states(client: object) -> dict[str, str]:
                body = client.get("/api/health").json()  # type: ignore[attr-defined]
                return {hub_id: peer["state"] for hub_id, peer in body["hubs"].items()}

            wait_for(lambda: states(client_a) == {"hub-a": "online", "hub-b": "online"}, what="A sees both")
            wait_for(lambda: states(client_b) == {"hub-a": "online", "hub-b": "online"}, what="B sees both")
            assert client_a.get("/api/health").json()["hub_id"] == "hub-a"
            hub_b.stop()
            wait_for(lambda: states(client_a) == {"hub-a": "online", "hub-b": "offline"}, what="A sees B leave")
            page = sink.wait_for(lambda r: r.path == "/piket", timeout=20)  # the duty desk is told, once
            assert page is not None and "HUB CADANGAN MATI" in page.body["title"], page
            assert hub_a.service is not None
            (lost,) = [a for a in hub_a.service.alerts.all() if a.kind == "peer_hub_lost"]
            assert lost.details["gone"] == ["hub-b"]
    finally:
        hub_a.stop()
        hub_b.stop()


@pytest.fixture
def broker_b(tmp_path: Path) -> Iterator[MosquittoBroker]:
    instance = MosquittoBroker(tmp_path / "broker-b", accounts={HUB_USER: new_secret()})
    instance.start()
    yield instance
    instance.stop()


def retained_status(broker: MosquittoBroker, device_id: str) -> str | None:
    """The retained status of a post on one broker, read by a monitor account (None: nothing retained)."""
    user, password = add_monitor(broker)
    got: dict[str, str] = {}
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        got["state"] = json.loads(message.payload)["state"]
        done.set()

    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(f"kamling/v1/{device_id}/status", 1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        done.wait(3)  # retained messages arrive at once after the SUBACK
    finally:
        client.disconnect()
        client.loop_stop()
    return got.get("state")


def test_post_fails_over_to_the_second_broker_and_returns_to_the_first(
    broker: MosquittoBroker,
    broker_b: MosquittoBroker,
    sink: NotificationSink,
    make_post: Callable[..., SimulatedPost],
    tmp_path: Path,
) -> None:
    device = "pos-hp03"
    password = add_device(broker, device)
    broker_b.accounts[device] = password  # the sector's brokers share the device credentials
    broker_b.reload()
    hub = HubProcess(tmp_path / "hub", broker, [device], sink.url("officer"))  # this hub serves broker A only
    hub.start()
    try:
        mqtt_cfg = make_post(device, start=False).config.mqtt.model_copy(
            update={"failover": [BrokerAddress(host=broker_b.host, port=broker_b.port)], "primary_retry": 1.0}
        )
        post = make_post(device, mqtt=mqtt_cfg)
        wait_for(lambda: post.led_state() == "connected", what="post on broker A with its hub")

        broker.kill()
        link = post.agent.link
        assert link is not None
        wait_for(lambda: link.current == 1 and link.connected, timeout=30, what="post moved to broker B")
        # B is up but no hub serves it: the guard sees "no hub", and events wait in the outbox.
        wait_for(lambda: post.led_state() == "no_hub", timeout=15, what="'no hub' on broker B")
        assert retained_status(broker_b, device) == "online"
        post.press()
        wait_for(lambda: post.agent.outbox.has_pending(EventKind.PANIC), what="panic kept in the outbox")

        broker.restart()  # A is back: the post returns to it, and its hub gets the panic
        wait_for(lambda: link.current == 0 and link.connected, timeout=30, what="post back on broker A")
        page = sink.wait_for(lambda r: r.path == "/officer", timeout=40)
        assert page is not None, hub.log_tail()
        wait_for(
            lambda: not post.agent.outbox.has_pending(EventKind.PANIC), timeout=20, what="panic acked through broker A"
        )
        assert retained_status(broker_b, device) == "offline"  # it said goodbye to B when it left
        assert link.failovers >= 2
    finally:
        hub.stop()


def test_a_hub_on_both_brokers_follows_a_post_that_fails_over_without_a_false_offline(
    broker: MosquittoBroker,
    broker_b: MosquittoBroker,
    sink: NotificationSink,
    make_hub: Callable[..., HubHarness],
    make_post: Callable[..., SimulatedPost],
) -> None:
    """Broker A dies: the post moves to B, where the hub also listens; its panic is paged and acked
    through B; A returns and the post moves back (make before break). The post never looks offline
    to the hub (no offline alert, no page), and a post that really vanishes still alerts."""
    device, other = "pos-hp04", "pos-hp05"
    broker_b.accounts[HUB_USER] = broker.accounts[HUB_USER]  # the hub's one account, on both brokers
    for name in (device, other):
        broker_b.accounts[name] = add_device(broker, name)
    broker_b.reload()
    hub = make_hub(
        [post_entry(device), post_entry(other)],
        mqtt_other_brokers=[{"host": broker_b.host, "port": broker_b.port}],
        broker_loss_grace=20.0,
        offline_hold_after_connect=1.0,  # the restart hold (issue 17) kept short: this test is about the brokers
    )
    viewer = hub.client("viewer")
    wait_for(lambda: all(viewer.get("/api/health").json()["brokers"].values()), what="hub on both brokers")
    failover = [BrokerAddress(host=broker_b.host, port=broker_b.port)]
    posts = {}
    for name in (device, other):
        mqtt_cfg = make_post(name, start=False).config.mqtt.model_copy(
            update={"failover": failover, "primary_retry": 1.0}
        )
        posts[name] = make_post(name, mqtt=mqtt_cfg)
    post = posts[device]
    wait_for(lambda: hub.service.registry.state(device).online, what="post online at the hub")

    broker.kill()
    link = post.agent.link
    assert link is not None
    wait_for(lambda: link.current == 1 and link.connected, timeout=30, what="post moved to broker B")
    wait_for(lambda: hub.service.registry.state(device).online, timeout=20, what="the hub hears it on B")
    wait_for(lambda: post.led_state() == "connected", timeout=20, what="post sees the hub on B")
    post.press()
    page = sink.wait_for(lambda r: r.path == "/officer" and "PANIK" in r.body.get("title", ""), timeout=30)
    assert page is not None
    wait_for(lambda: not post.agent.outbox.has_pending(EventKind.PANIC), timeout=20, what="acked through broker B")

    broker.restart()
    wait_for(lambda: link.current == 0 and link.connected, timeout=40, what="post back on broker A")
    wait_for(
        lambda: hub.service.registry.state(device).brokers == frozenset({f"{broker.host}:{broker.port}"}),
        timeout=20,
        what="the hub hears it on A alone",
    )
    offline = [a for a in hub.service.alerts.all() if a.kind == "offline"]
    assert offline == [], f"false offline alerts: {offline}"

    posts[other].stop()  # a real disappearance: its offline status, at once
    wait_for(
        lambda: [a.device for a in hub.service.alerts.all() if a.kind == "offline"] == [other],
        timeout=20,
        what="a post that really went away still alerts",
    )
