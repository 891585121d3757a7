"""`poskamling hub`: run the hub; `poskamling token new`: an API bearer token for its config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.accounts.auth import ROLES, new_token
from hub.process import HubProcess
from hub.service import HubService
from hub.web.app import create_app
from hub.web.server import WebServer
from kamling.runtime import ServiceRuntime, serve
from kamling.sdnotify import SdNotifier, watchdog_interval
from poskamling.commands.common import ConfigOption, fail, setup_logging
from poskamling.commands.hub_config import hub_settings

token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)


def hub(config: ConfigOption = Path("/etc/poskamling/hub.yaml"), verbose: bool = False) -> None:
    """Run the hub: MQTT ingest, event log, alerts and the web API."""
    setup_logging(verbose)
    settings = hub_settings(config)
    service = HubService(settings)
    web = WebServer(create_app(service), settings.http_host, settings.http_port, log_level="info")
    # sd_notify: READY=1 once ingest and the web server run, WATCHDOG=1 from the ingest loop
    runtime = ServiceRuntime(HubProcess(service, web), SdNotifier.from_env(), watchdog_interval(), status="hub running")
    serve(runtime, on_started=lambda: typer.echo(f"hub running: {web.url} (API docs at {web.url}/docs after logging in)"))


@token_app.command("new")
def token_new(
    name: Annotated[str, typer.Option(help="who uses the token")],
    role: Annotated[str, typer.Option(help="viewer, operator, technician or admin")] = "operator",
) -> None:
    """Create an API token; prints the token once and the line to add to the hub config."""
    if role not in ROLES:
        raise fail(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    token, digest = new_token()
    typer.echo(f"token (shown once): {token}")
    typer.echo("add to hub config under api_tokens:")
    typer.echo(f"  - {{name: {name}, role: {role}, sha256: {digest}}}")


def register(root: typer.Typer) -> None:
    root.command("hub")(hub)
    root.add_typer(token_app, name="token")
