"""`poskamling user ...`: hub accounts for the dashboard and API. The first admin is made here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hub.accounts.users import UserError, UserStore
from poskamling.commands.hub_config import hub_settings

app = typer.Typer(help="Hub user accounts (admin, operator, technician, viewer).", no_args_is_help=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="the hub's config file")]


def _store(config: Path) -> UserStore:
    store = UserStore(hub_settings(config).data_dir / "users.json")
    store.open()
    return store


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="login name, e.g. operator1")],
    role: Annotated[str, typer.Option(help="admin, operator, technician or viewer")],
    config: ConfigOption = Path("/etc/poskamling/hub.yaml"),
    password_stdin: Annotated[bool, typer.Option(help="read the password from standard input")] = False,
    village: Annotated[
        list[str] | None,
        typer.Option(
            help=(
                "limit the account to this village (repeat for more): its ronda roster, police visits and "
                "residents' reports; alerts, events and the live console are not scoped yet; default: all"
            )
        ),
    ] = None,
) -> None:
    """Create a user; asks for the password (never a default)."""
    store = _store(config)
    try:
        user = store.create(username, _read_password(password_stdin), role, tuple(village or ()))  # type: ignore[arg-type]
    except UserError as exc:
        typer.secho(f"cannot add user: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    scope = f", villages: {', '.join(user.villages)}" if user.villages else ""
    typer.echo(f"user {user.username} ({user.role}{scope}) created")


@app.command("list")
def list_users(config: ConfigOption = Path("/etc/poskamling/hub.yaml")) -> None:
    """List users and their roles."""
    store = _store(config)
    for user in store.all():
        scope = f"  villages: {', '.join(user.villages)}" if user.villages else ""
        typer.echo(f"{user.username:<20} {user.role:<11} {'disabled' if user.disabled else 'active'}{scope}")
    store.close()


@app.command("passwd")
def passwd(
    username: str,
    config: ConfigOption = Path("/etc/poskamling/hub.yaml"),
    password_stdin: Annotated[bool, typer.Option(help="read the password from standard input")] = False,
) -> None:
    """Set a user's password."""
    store = _store(config)
    try:
        store.set_password(username, _read_password(password_stdin))
    except UserError as exc:
        typer.secho(f"cannot set password: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    typer.echo(f"password of {username} changed")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="user")
