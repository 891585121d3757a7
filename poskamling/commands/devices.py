"""`poskamling device ...`: provision, list, revoke and rotate post devices (run on the hub host)."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from hub.provisioning.provisioner import Provisioner, ProvisionError
from poskamling.commands.hub_config import hub_settings

T = TypeVar("T")

app = typer.Typer(help="Post devices: broker credentials, ACL and edge configs.", no_args_is_help=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="the hub's config file")]
DEFAULT_CONFIG = Path("/etc/poskamling/hub.yaml")
EDGE_TLS_DIR = Path("/etc/poskamling/tls")
TlsOption = Annotated[
    bool, typer.Option("--tls", help="also issue a client certificate from the hub CA (`poskamling ca init` first)")
]
TlsDirOption = Annotated[Path, typer.Option("--tls-dir", help="folder of ca.crt and the device's cert/key on the post")]


def _provisioner(config: Path) -> Provisioner:
    return Provisioner(hub_settings(config), actor=f"cli:{getpass.getuser()}")


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except (ProvisionError, KeyError, ValueError, OSError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


@app.command("add")
def add(
    device_id: Annotated[str, typer.Argument(help="device id, e.g. pos-rw05-sukamaju")],
    name: Annotated[str, typer.Option(help="post name shown to people, e.g. 'Pos Kamling RW 05'")],
    village: Annotated[str, typer.Option(help="desa/kelurahan")] = "",
    lat: Annotated[float | None, typer.Option(help="latitude (WGS84)")] = None,
    lon: Annotated[float | None, typer.Option(help="longitude (WGS84)")] = None,
    camera: Annotated[list[str] | None, typer.Option(help="camera id at the post (repeat)")] = None,
    tls: TlsOption = False,
    tls_dir: TlsDirOption = EDGE_TLS_DIR,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Register a post device, create its broker credential and write its edge config (0600)."""
    issued = _run(
        lambda: _provisioner(config).add(
            device_id, name, village, lat, lon, camera or [], tls=tls, edge_tls_dir=tls_dir
        )
    )
    typer.echo(f"device {device_id} provisioned; broker reloaded")
    if tls:
        typer.echo(
            f"TLS: copy ca.crt, {device_id}.crt and {device_id}.key from {issued.edge_config.parent} to {tls_dir} on the post"
        )
    typer.echo(f"edge config (holds the password; copy to the post as /etc/poskamling/edge.yaml): {issued.edge_config}")


@app.command("list")
def list_devices(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Provisioned devices and their status."""
    provisioner = _provisioner(config)
    blocked = provisioner.blocked()
    for d in provisioner.list():
        status = "blocked" if d.device_id in blocked else d.status
        typer.echo(
            f"{d.device_id:<24} {status:<15} {d.village:<16} {d.name}  (credential {d.credential_issued_at[:19]})"
        )
    for device_id in sorted(set(blocked) - {d.device_id for d in provisioner.list()}):
        typer.echo(f"{device_id:<24} {'blocked':<15} (listed in the hub settings, not provisioned)")


@app.command("revoke")
def revoke(
    device_id: str,
    config: ConfigOption = DEFAULT_CONFIG,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Remove the credential at once, reload the broker, disconnect the device, mark it decommissioned."""
    if not yes:
        typer.confirm(f"Revoke {device_id}? The post will stop reporting", abort=True)
    _run(lambda: _provisioner(config).revoke(device_id))
    typer.echo(f"device {device_id} revoked and disconnected; marked decommissioned")


@app.command("unblock")
def unblock(device_id: str, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Lift a block (flood quarantine): the device reconnects with its existing credential."""
    _run(lambda: _provisioner(config).unblock(device_id))
    typer.echo(f"device {device_id} unblocked; broker reloaded. Resolve its flood alert on the dashboard.")


@app.command("rotate")
def rotate(
    device_id: str, tls: TlsOption = False, tls_dir: TlsDirOption = EDGE_TLS_DIR, config: ConfigOption = DEFAULT_CONFIG
) -> None:
    """Issue a new credential and edge config; the old credential stops working at once."""
    issued = _run(lambda: _provisioner(config).rotate(device_id, tls=tls, edge_tls_dir=tls_dir))
    typer.echo(f"new edge config for {device_id}: {issued.edge_config}")


@app.command("hub-credential")
def hub_credential(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """A new broker password for the hub itself; prints it once for the hub config (mqtt_password)."""
    password = _run(lambda: _provisioner(config).hub_credential())
    typer.echo(f"hub broker password (shown once; put it in mqtt_password): {password}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="device")
