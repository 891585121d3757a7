"""The hub under systemd: READY=1 once ingest and the web server run, WATCHDOG=1 from the ingest
loop (and only while it turns), STOPPING=1 on the way down. A fake NOTIFY_SOCKET listens."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from hub.process import HubProcess
from hub.service import HubService
from hub.web.app import create_app
from hub.web.server import WebServer
from kamling.runtime import ServiceRuntime
from poskamling.net import free_port
from poskamling.sim import SimulatedPost
from tests.support import FakeSystemd, HubHarness, post_entry, wait_for

WATCHDOG_S = 0.4  # the fake unit's WatchdogSec: pings every 0.2 s


def hub_process(harness: HubHarness) -> HubProcess:
    settings = harness.settings()
    service = HubService(settings)
    return HubProcess(service, WebServer(create_app(service), "127.0.0.1", free_port()))


def test_ready_after_the_web_server_answers_then_pings_then_stopping(
    make_hub: Callable[..., HubHarness], systemd: FakeSystemd
) -> None:
    harness = make_hub([post_entry("pos-wd1")])
    harness.stop()  # keep its settings and broker; run the hub as the `hub` command does
    process = hub_process(harness)
    runtime = ServiceRuntime(process, systemd.notifier(), WATCHDOG_S, status="hub running")
    runtime.start()
    try:
        assert systemd.wait_for_message("READY=1")[-1] == "READY=1\nSTATUS=hub running"
        assert httpx.get(f"{process.web.url}/api/health", timeout=5).status_code in (200, 401)  # up at READY
        assert [systemd.wait_for_message("WATCHDOG=1")[-1] for _ in range(5)] == ["WATCHDOG=1"] * 5
    finally:
        runtime.stop()
    assert "STOPPING=1" in systemd.drain()


def test_pings_stop_while_the_ingest_loop_hangs(
    make_hub: Callable[..., HubHarness], make_post: Callable[..., SimulatedPost], systemd: FakeSystemd
) -> None:
    harness = make_hub([post_entry("pos-wd2")])
    harness.stop()
    process = hub_process(harness)
    release, entered = threading.Event(), threading.Event()
    real_handle = process.service.ingest.handle

    def stuck_handle(item):  # type: ignore[no-untyped-def]  # a store or alert call that never returns
        if item.topic.endswith("/event"):
            entered.set()
            release.wait(60)
        return real_handle(item)

    process.service.ingest.handle = stuck_handle  # type: ignore[method-assign]
    runtime = ServiceRuntime(process, systemd.notifier(), WATCHDOG_S)
    runtime.start()
    try:
        systemd.wait_for_message("WATCHDOG=1")
        post = make_post("pos-wd2")
        wait_for(lambda: post.agent.connected, what="post connected")
        post.press()
        wait_for(entered.is_set, what="ingest loop stuck on the panic")
        systemd.drain()  # a ping may have raced the press
        # Ten whole watchdog periods without a ping: systemd would now restart the hub.
        assert systemd.receive(timeout=10 * WATCHDOG_S) is None
        release.set()
        assert systemd.wait_for_message("WATCHDOG=1")[-1] == "WATCHDOG=1"  # alive again
        wait_for(lambda: any(a.device == "pos-wd2" for a in process.service.alerts.all()), what="panic handled")
    finally:
        release.set()
        runtime.stop()
