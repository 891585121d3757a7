"""Running the post's agent, without the command-line toolkit: `poskamling edge` as its systemd unit runs it.

`poskamling.cli.main` calls `run_agent` directly for the plain forms the unit and a technician use
(`poskamling edge [--config PATH] [--verbose]`), so the running agent never imports Typer and Click
(about 6 MB of a post's memory; issue 17 item 5). Every other form goes through the Typer command.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from edge.agent import EdgeAgent
from edge.config import load_edge_config
from edge.hardware import PostHardware
from edge.outbox import Outbox
from kamling.runtime import ServiceRuntime, serve
from kamling.sdnotify import SdNotifier, watchdog_interval
from kamling.version import software_version

DEFAULT_CONFIG = Path("/etc/poskamling/edge.yaml")
M_ARENA_MAX = -8  # glibc's mallopt(3) parameter number


def one_malloc_arena() -> None:
    """One glibc malloc arena for the whole agent, unless MALLOC_ARENA_MAX says otherwise.

    glibc gives every thread that allocates its own arena, and memory freed in one is not reused by
    the others: the camera thread's arena held 1.3-1.5 MB of a post's RSS (bench/bench_lean_post.py,
    issue 17 item 5). The agent's few threads allocate little and rarely at the same time, so they
    lose nothing by sharing. Must run before the threads start; a C library without mallopt is left alone.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)
    except (OSError, AttributeError):
        pass


def _say(text: str) -> None:
    print(text, flush=True)  # a pipe (a test, a supervisor) sees it at once


def run_agent(config: Path, verbose: bool, announce: Callable[[str], object] = _say) -> None:
    """Load the config (ConfigError if it is not valid) and run the agent until it is stopped."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cfg = load_edge_config(config)
    one_malloc_arena()
    outbox = Outbox(cfg.data_dir / "outbox.sqlite", cfg.device_id, int(cfg.outbox_max_mb * 1024 * 1024))
    agent = EdgeAgent(cfg, PostHardware(cfg), outbox, version=software_version())
    # sd_notify: READY=1 once started, WATCHDOG=1 from the agent's loop, STOPPING=1
    runtime = ServiceRuntime(agent, SdNotifier.from_env(), watchdog_interval(), status=f"post {cfg.device_id} running")

    def started() -> None:
        announce(f"edge agent {cfg.device_id} running, broker {cfg.mqtt.host}:{cfg.mqtt.port}")

    serve(runtime, on_started=started)


def plain_agent_args(args: Sequence[str]) -> tuple[Path, bool] | None:
    """(config, verbose) when `args` (after `edge`) are only --config/-c PATH and --verbose/--no-verbose, else None."""
    config, verbose = DEFAULT_CONFIG, False
    items = list(args)
    while items:
        item = items.pop(0)
        if item in ("--config", "-c") and items and not items[0].startswith("-"):
            config = Path(items.pop(0))
        elif item.startswith("--config=") and len(item) > len("--config="):
            config = Path(item[len("--config=") :])
        elif item in ("--verbose", "--no-verbose"):
            verbose = item == "--verbose"
        else:
            return None  # --help, doctor, a typo: the Typer command answers
    return config, verbose
