"""The agent as a systemd service: a fake NOTIFY_SOCKET receives what the agent really sends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from kamling.runtime import ServiceRuntime, WatchdogPacer, serve
from kamling.sdnotify import SdNotifier
from tests.support import FakeSystemd, wait_for

WATCHDOG_S = 0.4  # WatchdogSec of the fake unit: pings every 0.2 s


def test_pacer_pings_at_half_the_interval() -> None:
    pacer = WatchdogPacer(10.0)
    assert pacer.due(100.0)  # at once
    assert not pacer.due(104.9)
    assert pacer.due(105.0)
    assert not WatchdogPacer(None).due(0.0)  # no WatchdogSec: never


def test_agent_sends_ready_then_repeated_watchdog_then_stopping(make_post, systemd: FakeSystemd) -> None:
    post = make_post("pos-rt01", start=False)
    runtime = ServiceRuntime(post.agent, systemd.notifier(), WATCHDOG_S, status="post pos-rt01 running")
    runtime.start()
    try:
        first = systemd.wait_for_message("READY=1")
        assert first[-1] == "READY=1\nSTATUS=post pos-rt01 running"
        pings = [systemd.wait_for_message("WATCHDOG=1")[-1] for _ in range(5)]
        assert pings == ["WATCHDOG=1"] * 5
        post.press()  # the agent keeps pinging while it works
        wait_for(lambda: post.agent.outbox.last_seq() == 1, what="panic stored")
        assert systemd.wait_for_message("WATCHDOG=1")[-1] == "WATCHDOG=1"
    finally:
        runtime.stop()
    assert "STOPPING=1" in systemd.drain()
    assert post.agent.link is None  # the agent really stopped


def test_watchdog_pings_stop_while_the_agent_loop_hangs(make_post, systemd: FakeSystemd) -> None:
    post = make_post("pos-rt02", start=False)
    runtime = ServiceRuntime(post.agent, systemd.notifier(), WATCHDOG_S)
    release = threading.Event()
    entered = threading.Event()
    real_add = post.agent.outbox.add

    def stuck_add(*args, **kwargs):  # a disk write that never returns, on the agent's loop
        entered.set()
        release.wait(60)
        return real_add(*args, **kwargs)

    post.agent.outbox.add = stuck_add  # type: ignore[method-assign]
    runtime.start()
    try:
        systemd.wait_for_message("WATCHDOG=1")
        post.press()
        wait_for(entered.is_set, what="agent loop stuck in the outbox write")
        systemd.drain()  # a ping may have raced the press
        # Ten whole watchdog periods without a single ping: systemd would now restart the agent.
        assert systemd.receive(timeout=10 * WATCHDOG_S) is None
        pings_while_hung = runtime.pings
        release.set()
        assert systemd.wait_for_message("WATCHDOG=1")[-1] == "WATCHDOG=1"  # alive again
        wait_for(lambda: runtime.pings > pings_while_hung, what="ping counted")
    finally:
        release.set()
        runtime.stop()


def test_no_notify_socket_means_no_pings_and_no_errors(make_post) -> None:
    post = make_post("pos-rt03", start=False)
    runtime = ServiceRuntime(post.agent, SdNotifier.from_env({}), WATCHDOG_S)
    done = threading.Event()
    serve(
        runtime,
        wait=lambda: wait_for(lambda: post.agent.connected, what="agent connected") and None,
        on_started=done.set,
    )
    assert done.is_set() and runtime.pings == 0 and post.agent.link is None


def test_edge_command_notifies_systemd_and_stops_on_sigterm(broker, tmp_path: Path, systemd: FakeSystemd) -> None:
    """The real `poskamling edge` process on mock pins, as systemd would run it."""
    from tests.support import add_device

    password = add_device(broker, "pos-rt04")
    config = tmp_path / "edge.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "device_id": "pos-rt04",
                "mqtt": {"host": broker.host, "port": broker.port, "password": password},
                "panic_button": {"pin": 17},
                "data_dir": str(tmp_path / "data"),
            }
        )
    )
    env = os.environ | {
        "GPIOZERO_PIN_FACTORY": "mock",
        "NOTIFY_SOCKET": systemd.env_value,
        "WATCHDOG_USEC": str(int(WATCHDOG_S * 1_000_000)),
    }
    env.pop("WATCHDOG_PID", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "poskamling.cli", "edge", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert systemd.wait_for_message("READY=1")[-1].startswith("READY=1")
        for _ in range(3):
            assert systemd.wait_for_message("WATCHDOG=1")[-1] == "WATCHDOG=1"
        process.send_signal(signal.SIGTERM)
        assert systemd.wait_for_message("STOPPING=1")[-1] == "STOPPING=1"
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
