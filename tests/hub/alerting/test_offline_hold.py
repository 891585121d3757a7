"""The offline hold's rules (pure) and its thread adapter with a fake link and registry."""

from __future__ import annotations

import threading

from hub.alerting.offline_hold import OfflineHold, OfflineHoldRules
from tests.support import wait_for


def test_an_offline_in_steady_state_is_due_after_the_settle_time() -> None:
    rules = OfflineHoldRules(settle=3, after_connect=60)
    rules.link(True, 1, now=0)
    rules.offline("pos-a", now=100)
    assert rules.due(102) == []
    assert rules.due(103) == ["pos-a"]
    assert rules.pending == {}


def test_offlines_after_a_reconnect_wait_for_the_end_of_the_window() -> None:
    rules = OfflineHoldRules(settle=3, after_connect=60)
    rules.link(True, 1, now=0)
    rules.link(False, 1, now=100)  # the broker went away
    rules.offline("pos-a", now=100)  # its Last Will, seen as the hub lost the broker
    assert rules.due(150) == []  # the hub is not connected: held
    rules.link(True, 2, now=150)  # reconnected: a new window opens
    rules.offline("pos-b", now=151)  # retained offline read back at the reconnect
    assert rules.due(209) == []
    assert rules.due(210) == ["pos-a", "pos-b"]


def test_a_post_back_online_leaves_the_hold() -> None:
    rules = OfflineHoldRules(settle=3, after_connect=60)
    rules.link(True, 1, now=0)
    rules.offline("pos-a", now=10)
    rules.online("pos-a")
    assert rules.due(1000) == []


def test_the_hub_start_is_a_connect_too() -> None:
    rules = OfflineHoldRules(settle=0, after_connect=60)
    rules.offline("pos-a", now=0)  # before the first connect
    assert rules.due(1) == []
    rules.link(True, 1, now=5)
    assert rules.due(64) == []
    assert rules.due(65) == ["pos-a"]


def test_the_adapter_raises_only_for_posts_still_offline() -> None:
    now = [0.0]
    offline = {"pos-a": True, "pos-b": True}
    raised: list[str] = []
    link = {"connected": True, "connects": 1}
    hold = OfflineHold(
        settle=1,
        after_connect=10,
        link=lambda: (link["connected"], link["connects"]),
        still_offline=lambda device: offline[device],
        raise_offline=raised.append,
        clock=lambda: now[0],
    )
    hold.start()
    try:
        hold.offline("pos-a")
        hold.offline("pos-b")
        offline["pos-b"] = False  # came back, its online status not seen yet
        now[0] = 20.0
        wait_for(lambda: not hold.pending(), what="the hold released both")
        wait_for(lambda: hold.released + hold.dropped == 2, what="both decided")
        assert raised == ["pos-a"]
        assert hold.dropped == 1
    finally:
        hold.stop()


def test_one_failing_alert_does_not_stop_the_others() -> None:
    raised: list[str] = []
    done = threading.Event()

    def raise_offline(device: str) -> None:
        if device == "pos-a":
            raise RuntimeError("store down")
        raised.append(device)
        done.set()

    hold = OfflineHold(0, 0, link=lambda: (True, 1), still_offline=lambda _d: True, raise_offline=raise_offline)
    hold.start()
    try:
        hold.offline("pos-a")
        hold.offline("pos-b")
        assert done.wait(10)
        assert raised == ["pos-b"]
    finally:
        hold.stop()
