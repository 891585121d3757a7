"""Several brokers (issue 13): a post's status merged across them, replies routed to where the post is,
and offline alerts held while a post may be moving between brokers. No broker needed here; the real
brokers are in tests/e2e/test_hub_presence.py."""

from __future__ import annotations

import queue
from datetime import UTC, datetime

from hub.ingest.brokers import BrokerLossHold, BrokerSet
from hub.posts.registry import PostRegistry
from hub.settings import HubSettings, PostSettings
from tests.support import wait_for

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
A, B = "10.0.0.1:1883", "10.0.0.2:1883"


def registry(*devices: str) -> PostRegistry:
    return PostRegistry([PostSettings(device_id=d, name=d, village="Sukamaju") for d in devices])


def test_a_post_is_online_while_it_is_online_on_any_broker() -> None:
    posts = registry("pos-1")
    assert posts.set_status("pos-1", True, NOW, broker=A) is True
    assert posts.set_status("pos-1", True, NOW, broker=B) is False  # it moved: still online
    assert posts.set_status("pos-1", False, NOW, broker=A) is False  # A's Last Will after the move
    assert posts.state("pos-1").online is True and posts.state("pos-1").brokers == {B}
    assert posts.set_status("pos-1", False, NOW, broker=B) is True  # gone from every broker
    assert posts.state("pos-1").online is False


def test_forgetting_a_lost_broker_names_the_posts_that_were_on_it_alone() -> None:
    posts = registry("pos-1", "pos-2", "pos-3")
    posts.set_status("pos-1", True, NOW, broker=A)
    posts.set_status("pos-2", True, NOW, broker=A)
    posts.set_status("pos-2", True, NOW, broker=B)
    posts.set_status("pos-3", True, NOW, broker=B)
    assert posts.forget_broker(A, NOW) == ["pos-1"]
    assert [posts.state(d).online for d in ("pos-1", "pos-2", "pos-3")] == [False, True, True]


def test_replies_go_through_the_broker_the_post_is_on() -> None:
    settings = HubSettings(
        mqtt_password="unused", mqtt_host="10.0.0.1", mqtt_other_brokers=[{"host": "10.0.0.2", "port": 1883}]
    )
    posts = registry("pos-1", "pos-2")
    brokers = BrokerSet(settings, queue.Queue(), posts)
    first, second = brokers.sessions
    assert (first.broker, second.broker) == (A, B)
    first.connected = second.connected = True
    posts.set_status("pos-1", True, NOW, broker=B)
    assert brokers.route("kamling/v1/pos-1/ack") == [second]
    assert brokers.route("kamling/v1/pos-2/ack") == [first, second]  # not known anywhere: every broker
    assert brokers.route("homeassistant/sensor/x/config") == [first, second]  # not a post's topic
    second.connected = False
    assert brokers.route("kamling/v1/pos-1/ack") == [first]  # its broker is out of reach: the others
    assert brokers.brokers == {A: True, B: False} and brokers.connected


def test_posts_of_a_lost_broker_get_a_grace_to_move_and_then_alert() -> None:
    posts = registry("pos-1", "pos-2")
    raised: list[str] = []
    hold = BrokerLossHold(posts, raised.append, grace=0.2, clock=lambda: NOW)
    posts.set_status("pos-1", True, NOW, broker=A)
    posts.set_status("pos-2", True, NOW, broker=A)
    hold.lost(A)
    posts.set_status("pos-2", True, NOW, broker=B)  # pos-2 moves to B within the grace
    wait_for(lambda: raised == ["pos-1"], what="only the post that did not move alerts")
    hold.stop()


def test_no_alert_storm_while_the_hub_hears_no_broker_at_all() -> None:
    posts = registry("pos-1")
    raised: list[str] = []
    reachable = {"any": False}
    asked: list[bool] = []

    def any_broker_up() -> bool:
        asked.append(reachable["any"])
        return reachable["any"]

    hold = BrokerLossHold(posts, raised.append, grace=0.1, clock=lambda: NOW, any_broker_up=any_broker_up)
    posts.set_status("pos-1", True, NOW, broker=A)
    hold.lost(A)
    wait_for(lambda: len(asked) >= 2, what="checked twice while no broker was in sight")
    assert raised == []  # held, not paged
    reachable["any"] = True  # a broker is back, the post is not: now it is the post's absence
    wait_for(lambda: raised == ["pos-1"], what="alert once the hub hears a broker again")
    hold.stop()


def test_an_offline_while_a_broker_is_out_of_sight_waits_then_alerts_unless_it_returns() -> None:
    posts = registry("pos-1", "pos-2")
    raised: list[str] = []
    every = {"up": True}
    hold = BrokerLossHold(posts, raised.append, grace=0.2, clock=lambda: NOW, every_broker_up=lambda: every["up"])
    assert hold.defer("pos-1") is False  # every broker in sight: alert now (the caller does)
    every["up"] = False
    posts.set_status("pos-1", False, NOW, broker=B)
    posts.set_status("pos-2", False, NOW, broker=B)
    assert hold.defer("pos-1") is True and hold.defer("pos-2") is True
    posts.set_status("pos-2", True, NOW, broker=A)  # it was moving to the broker the hub could not see
    wait_for(lambda: raised == ["pos-1"], what="the one that did not come back alerts")
    hold.stop()
