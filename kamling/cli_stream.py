"""`poskamling sim stream`: a real edge agent on mock pins that streams N events (fault tests, benchmarks).

The count is a total over restarts: after a SIGKILL (a power cut) the command started again
with the same config continues from the outbox's last seq, so the hub must end up with
seqs 1..N of the device exactly once.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

stream_app = typer.Typer(help="Stream events from simulated posts (fault tests, benchmarks).", no_args_is_help=True)


def _emit(**fields: object) -> None:
    typer.echo(json.dumps(fields), nl=True)


@stream_app.command("stream")
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
    import logging

    from edge.config import load_edge_config
    from edge.outbox import Outbox
    from edge.sim import SimulatedPost
    from kamling.configfile import ConfigError
    from kamling.protocol import EventKind

    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    try:
        cfg = load_edge_config(config)
        chosen = [EventKind(k.strip()) for k in kinds.split(",") if k.strip()]
    except (ConfigError, ValueError) as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    post = SimulatedPost(cfg)
    post.start()
    monitor = Outbox(cfg.data_dir / "outbox.sqlite", cfg.device_id)  # a second, read-mostly connection
    monitor.open()
    try:
        start_seq = monitor.last_seq()
        _emit(event="started", device=cfg.device_id, last_seq=start_seq, depth=monitor.depth(), pid=_pid())
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


def _pid() -> int:
    import os

    return os.getpid()
