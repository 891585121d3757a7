"""The `poskamling` command: demo, hub, edge agent, simulated posts, tokens."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from kamling.cli_common import fail, hub_settings
from kamling.configfile import ConfigError

app = typer.Typer(help="Pos Kamling: connected neighbourhood security posts.", no_args_is_help=True)
sim_app = typer.Typer(help="Simulated posts (mock GPIO pins) for demos and tests.", no_args_is_help=True)
edge_app = typer.Typer(help="The edge agent that runs on a post's Raspberry Pi.")
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
app.add_typer(edge_app, name="edge")
app.add_typer(token_app, name="token")

from kamling.cli_users import app as user_app  # noqa: E402

app.add_typer(user_app, name="user")
from kamling.cli_devices import app as device_app  # noqa: E402

app.add_typer(device_app, name="device")
from kamling.cli_stream import stream_app  # noqa: E402

sim_app.add_typer(stream_app)  # adds `sim stream`
app.add_typer(__import__("kamling.cli_officers", fromlist=["app"]).app, name="officers")
edge_app.command("doctor")(__import__("kamling.cli_doctor", fromlist=["doctor"]).doctor)  # poskamling edge doctor

app.add_typer(__import__("kamling.cli_ca", fromlist=["app"]).app, name="ca")

DEMO_DIR = Path(".demo")
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML or TOML config file", exists=False)]


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _wait_for_signal() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()


@app.command()
def demo(
    posts: Annotated[int, typer.Option(help="how many simulated posts (1-5)")] = 3,
    http_port: Annotated[int, typer.Option(help="port of the hub's web server")] = 8000,
    workdir: Annotated[Path, typer.Option("--dir", help="demo state folder (recreated)")] = DEMO_DIR,
    verbose: bool = False,
) -> None:
    """Run everything on this machine: private broker, hub on http://127.0.0.1:8000, simulated posts."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from kamling.broker import BrokerError
    from kamling.demo import DemoOptions, run_demo

    try:
        run_demo(DemoOptions(workdir=workdir.resolve(), posts=posts, http_port=http_port))
    except (BrokerError, RuntimeError, OSError) as exc:
        raise fail(f"demo could not start: {exc}") from None


@app.command()
def hub(config: ConfigOption = Path("/etc/poskamling/hub.yaml"), verbose: bool = False) -> None:
    """Run the hub: MQTT ingest, event log, alerts and the web API."""
    _logging(verbose)
    from hub.api import create_app
    from hub.process import HubProcess
    from hub.server import WebServer
    from hub.service import HubService
    from kamling.runtime import ServiceRuntime, serve  # sd_notify: READY=1, WATCHDOG=1 from the ingest loop
    from kamling.sdnotify import SdNotifier, watchdog_interval

    settings = hub_settings(config)
    service = HubService(settings)
    web = WebServer(create_app(service), settings.http_host, settings.http_port, log_level="info")
    runtime = ServiceRuntime(HubProcess(service, web), SdNotifier.from_env(), watchdog_interval(), status="hub running")
    serve(runtime, on_started=lambda: typer.echo(f"hub running: {web.url} (API docs at {web.url}/docs after logging in)"))


@edge_app.callback(invoke_without_command=True)
def edge(ctx: typer.Context, config: ConfigOption = Path("/etc/poskamling/edge.yaml"), verbose: bool = False) -> None:
    """Run the edge agent (GPIOZERO_PIN_FACTORY=mock runs it on a laptop)."""
    if ctx.invoked_subcommand is not None:
        return
    _logging(verbose)
    from edge.agent import EdgeAgent
    from edge.config import load_edge_config
    from edge.hardware import PostHardware
    from edge.outbox import Outbox
    from hub.service import software_version

    try:
        cfg = load_edge_config(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    outbox = Outbox(cfg.data_dir / "outbox.sqlite", cfg.device_id, int(cfg.outbox_max_mb * 1024 * 1024))
    agent = EdgeAgent(cfg, PostHardware(cfg), outbox, version=software_version())
    from kamling.runtime import ServiceRuntime, serve  # sd_notify: READY=1, WATCHDOG=1 from the agent loop, STOPPING=1
    from kamling.sdnotify import SdNotifier, watchdog_interval

    runtime = ServiceRuntime(agent, SdNotifier.from_env(), watchdog_interval(), status=f"post {cfg.device_id} running")
    serve(runtime, on_started=lambda: typer.echo(f"edge agent {cfg.device_id} running, broker {cfg.mqtt.host}:{cfg.mqtt.port}"))


@sim_app.command("press")
def sim_press(
    device: Annotated[str, typer.Argument(help="device id of the simulated post, e.g. pos-rw01")],
    workdir: Annotated[Path, typer.Option("--dir", help="the running demo's folder")] = DEMO_DIR,
) -> None:
    """Press the panic button of a simulated post in the running demo."""
    from edge.sim import send_control

    sock = workdir / "sim.sock"
    if not sock.exists():
        raise fail(f"no running demo found ({sock} missing): start one with `poskamling demo`")
    reply = send_control(sock, f"press {device}")
    typer.echo(reply)
    if reply.startswith("error"):
        raise typer.Exit(1)


@sim_app.command("leds")
def sim_leds(workdir: Annotated[Path, typer.Option("--dir", help="the running demo's folder")] = DEMO_DIR) -> None:
    """Show the status LED of every simulated post in the running demo."""
    from edge.sim import send_control

    sock = workdir / "sim.sock"
    if not sock.exists():
        raise fail(f"no running demo found ({sock} missing): start one with `poskamling demo`")
    typer.echo(send_control(sock, "leds"))


@sim_app.command("run")
def sim_run(
    configs: Annotated[list[Path], typer.Argument(help="edge config files, one per simulated post")],
    control: Annotated[Optional[Path], typer.Option(help="UNIX socket for `press` commands")] = None,
    verbose: bool = False,
) -> None:
    """Run real edge agents on mock GPIO pins from edge config files."""
    _logging(verbose)
    from edge.config import load_edge_config
    from edge.sim import SimControl, SimulatedPost

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
        _wait_for_signal()
    finally:
        if ctl:
            ctl.stop()
        for post in posts.values():
            post.stop()


@token_app.command("new")
def token_new(
    name: Annotated[str, typer.Option(help="who uses the token")],
    role: Annotated[str, typer.Option(help="viewer, operator, technician or admin")] = "operator",
) -> None:
    """Create an API token; prints the token once and the line to add to the hub config."""
    from hub.auth import ROLES, new_token

    if role not in ROLES:
        raise fail(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    token, digest = new_token()
    typer.echo(f"token (shown once): {token}")
    typer.echo("add to hub config under api_tokens:")
    typer.echo(f"  - {{name: {name}, role: {role}, sha256: {digest}}}")


def main() -> None:
    app(prog_name="poskamling")


if __name__ == "__main__":
    sys.exit(main())
