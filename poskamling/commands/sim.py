"""`poskamling sim ...`: simulated posts, real edge agents on mock pins, for demos, tests and benchmarks.

`sim stream` raises N events; the count is a total over restarts: after a SIGKILL (a power cut)
the command started again with the same config continues from the outbox's last seq, so the hub
must end up with seqs 1..N of the device exactly once.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Annotated

import typer

from edge.config import load_edge_config
from edge.outbox import Outbox
from kamling.configfile import ConfigError
from kamling.protocol import EventKind
from kamling.runtime import termination_event, wait_for_termination
from poskamling.commands.common import DEMO_DIR, fail, setup_logging
from poskamling.sim import SimControl, SimulatedPost, send_control

app = typer.Typer(help="Simulated posts (mock GPIO pins) for demos, tests and benchmarks.", no_args_is_help=True)


def _emit(**fields: object) -> None:
    typer.echo(json.dumps(fields), nl=True)


@app.command("stream")
def stream(
    config: Annotated[Path, typer.Argument(help="edge config file of the simulated post")],
    count: Annotated[int, typer.Option(help="total events of this device, over restarts")] = 100,
    rate: Annotated[float, typer.Option(help="events per second; 0 = as fast as possible")] = 50.0,
    kinds: Annotated[str, typer.Option(help="comma-separated event kinds, used in turn")] = "motion",
    wait_acked: Annotated[bool, typer.Option(help="wait until the hub acked every event")] = True,
    linger: Annotated[bool, typer.Option(help="keep running (online) after the stream, until SIGTERM")] = False,
    verbose: bool = False,
) -> None:
    """Run a simulated post and raise `count` events at `rate`; prints JSON lines on progress."""
    setup_logging(verbose, quiet_level=logging.WARNING)
    try:
        cfg = load_edge_config(config)
        chosen = [EventKind(k.strip()) for k in kinds.split(",") if k.strip()]
    except (ConfigError, ValueError) as exc:
        raise fail(str(exc)) from None
    stop = termination_event()

    post = SimulatedPost(cfg)
    post.start()
    monitor = Outbox(cfg.data_dir / "outbox.sqlite", cfg.device_id)  # a second, read-mostly connection
    monitor.open()
    try:
        start_seq = monitor.last_seq()
        _emit(event="started", device=cfg.device_id, last_seq=start_seq, depth=monitor.depth(), pid=os.getpid())
        interval = 1.0 / rate if rate > 0 else 0.0
        began = time.monotonic()
        for n in range(max(0, count - start_seq)):
            if stop.is_set():
                break
            kind = chosen[(start_seq + n) % len(chosen)]
            post.agent.raise_event(kind, {"stream": True})
            if interval:
                delay = began + (n + 1) * interval - time.monotonic()
                if delay > 0:
                    stop.wait(delay)
        while not stop.is_set() and monitor.last_seq() < count:
            stop.wait(0.05)
        _emit(event="stored", device=cfg.device_id, last_seq=monitor.last_seq(), depth=monitor.depth())
        if wait_acked:
            while not stop.is_set() and monitor.depth() > 0:
                stop.wait(0.05)
            if not stop.is_set():
                _emit(event="acked", device=cfg.device_id, last_seq=monitor.last_seq(), stats=post.agent.stats)
        if linger:
            stop.wait()
    finally:
        monitor.close()
        post.stop()


@app.command("press")
def press(
    device: Annotated[str, typer.Argument(help="device id of the simulated post, e.g. pos-rw01")],
    workdir: Annotated[Path, typer.Option("--dir", help="the running demo's folder")] = DEMO_DIR,
) -> None:
    """Press the panic button of a simulated post in the running demo."""
    reply = send_control(_control_socket(workdir), f"press {device}")
    typer.echo(reply)
    if reply.startswith("error"):
        raise typer.Exit(1)


@app.command("leds")
def leds(workdir: Annotated[Path, typer.Option("--dir", help="the running demo's folder")] = DEMO_DIR) -> None:
    """Show the status LED of every simulated post in the running demo."""
    typer.echo(send_control(_control_socket(workdir), "leds"))


@app.command("run")
def run(
    configs: Annotated[list[Path], typer.Argument(help="edge config files, one per simulated post")],
    control: Annotated[Path | None, typer.Option(help="UNIX socket for `press` commands")] = None,
    verbose: bool = False,
) -> None:
    """Run real edge agents on mock GPIO pins from edge config files."""
    setup_logging(verbose)
    try:
        posts = {cfg.device_id: SimulatedPost(cfg) for cfg in (load_edge_config(p) for p in configs)}
    except ConfigError as exc:
        raise fail(str(exc)) from None
    for post in posts.values():
        post.start()
    ctl = SimControl(control, posts) if control else None
    if ctl:
        ctl.start()
    try:
        wait_for_termination()
    finally:
        if ctl:
            ctl.stop()
        for post in posts.values():
            post.stop()


def _control_socket(workdir: Path) -> Path:
    sock = workdir / "sim.sock"
    if not sock.exists():
        raise fail(f"no running demo found ({sock} missing): start one with `poskamling demo`")
    return sock


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="sim")
