"""`poskamling ca ...`: the hub's certificate authority and the broker's TLS certificate (run on the hub host).

Device client certificates are issued by `poskamling device add --tls`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.provisioning.pki import CertificateAuthority, PkiError
from poskamling.commands.hub_config import hub_settings

app = typer.Typer(
    help="Certificate authority for broker TLS (8883) and device client certificates.", no_args_is_help=True
)

DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="CA folder; default: the hub config's provisioning.ca_dir or <data_dir>/pki"),
]
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="the hub's config file (only read without --dir)")]
DEFAULT_CONFIG = Path("/etc/poskamling/hub.yaml")


def ca_dir(directory: Path | None, config: Path) -> Path:
    if directory is not None:
        return directory
    settings = hub_settings(config, hint="\n(or pass --dir)")
    return settings.provisioning.ca_dir or settings.data_dir / "pki"


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(2)


@app.command("init")
def init(
    directory: DirOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    name: Annotated[str, typer.Option(help="the CA's common name")] = "poskamling hub CA",
    force: Annotated[
        bool, typer.Option("--force", help="replace an existing CA (every post needs new certificates)")
    ] = False,
) -> None:
    """Create the CA (EC P-256, 10 years; key 0600 in a 0700 folder)."""
    folder = ca_dir(directory, config)
    try:
        cert = CertificateAuthority(folder).init(name, force=force)
    except (PkiError, OSError) as exc:
        raise _fail(exc) from None
    typer.echo(f"CA created: {cert} (copy to every post and point the broker's cafile at it); key stays in {folder}")


@app.command("server-cert")
def server_cert(
    name: Annotated[list[str] | None, typer.Option("--name", help="DNS name posts use for the hub (repeat)")] = None,
    ip: Annotated[list[str] | None, typer.Option("--ip", help="IP address posts use for the hub (repeat)")] = None,
    directory: DirOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """The broker's certificate (always valid for localhost and 127.0.0.1 too)."""
    ca = CertificateAuthority(ca_dir(directory, config))
    try:
        pair = ca.issue_server(list(name or []), list(ip or []))
    except (PkiError, OSError) as exc:
        raise _fail(exc) from None
    typer.echo(
        f"broker certificate: certfile {pair.cert}\nbroker key (0600): keyfile {pair.key}\ncafile {ca.cert_path}"
    )
    typer.echo("the key must be readable by the mosquitto user (chown mosquitto, mode 0600)")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="ca")
