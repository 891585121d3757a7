"""The `poskamling` command: one entry point for the post, the hub and the dev tools.

A post installs only the `[edge]` extra and the hub only `[hub]`, so each command group is
registered only when the packages of its extra are installed. A group whose packages are
missing still answers, with the pip command that installs them, instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Typer is imported when a command needs it: not by the running post agent
    import typer

OWN_PACKAGES = frozenset({"poskamling", "kamling", "edge", "hub"})


@dataclass(frozen=True)
class CommandGroup:
    """The commands of one module (`module.register(app)`) and the extra whose packages it needs."""

    names: tuple[str, ...]
    module: str
    extra: str


GROUPS = (
    CommandGroup(("edge",), "poskamling.commands.edge", "edge"),
    CommandGroup(("sim",), "poskamling.commands.sim", "edge"),
    CommandGroup(("hub", "token"), "poskamling.commands.hub", "hub"),
    CommandGroup(("user",), "poskamling.commands.users", "hub"),
    CommandGroup(("device",), "poskamling.commands.devices", "hub"),
    CommandGroup(("officers",), "poskamling.commands.officers", "hub"),
    CommandGroup((), "poskamling.commands.posters", "hub"),  # adds `device qr` and `officers link`
    CommandGroup(("ronda",), "poskamling.commands.ronda", "hub"),
    CommandGroup(("ca",), "poskamling.commands.ca", "hub"),
    CommandGroup(("demo",), "poskamling.commands.demo", "edge,hub"),
)


def _not_installed(name: str, extra: str, missing: str) -> Callable[[], None]:
    def command() -> None:
        from poskamling.commands.common import fail

        raise fail(
            f"`poskamling {name}` needs the {extra} extra, which is not installed here "
            f"(no module {missing!r}): pip install 'poskamling[{extra}]'"
        )

    command.__doc__ = f"(not installed here: needs pip install 'poskamling[{extra}]')"
    return command


def add_group(app: typer.Typer, group: CommandGroup) -> None:
    """Register `group`'s commands, or stand-ins that name the missing extra."""
    try:
        module = importlib.import_module(group.module)
    except ModuleNotFoundError as exc:
        missing = exc.name or "?"
        if missing.split(".")[0] in OWN_PACKAGES:
            raise  # a bug in this project, not a missing extra
        for name in group.names:
            settings = {"allow_extra_args": True, "ignore_unknown_options": True}
            app.command(name, context_settings=settings)(_not_installed(name, group.extra, missing))
        return
    module.register(app)


LEAN_COMMANDS = frozenset({"edge"})
"""Commands that register only their own group: the post's agent then never imports the hub's
packages (FastAPI, Jinja, psycopg, ...), which would cost a Pi about 50 MB (issue 17 item 5)."""


def build_app(only: str | None = None) -> typer.Typer:
    """The command with every group, or with only the group that has the command `only`."""
    import typer

    app = typer.Typer(help="Pos Kamling: connected neighbourhood security posts.", no_args_is_help=True)
    for group in GROUPS:
        if only is None or only in group.names:
            add_group(app, group)
    return app


def lean_command(argv: Sequence[str]) -> str | None:
    """The command in `argv` (without the program name) that needs only its own group, if any."""
    return argv[0] if argv and argv[0] in LEAN_COMMANDS else None


_app: typer.Typer | None = None


def __getattr__(name: str) -> typer.Typer:
    """`poskamling.cli.app`, the full command, built on first use (tests and tools import it)."""
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _app is None:
        _app = build_app()
    return _app


def main() -> None:
    argv = sys.argv[1:]
    only = lean_command(argv)
    if only == "edge":
        from poskamling.commands.edge_run import plain_agent_args, run_agent

        plain = plain_agent_args(argv[1:])
        if plain is not None:  # the agent as its systemd unit runs it: no Typer, no Click
            from kamling.configfile import ConfigError

            try:
                run_agent(*plain)
            except ConfigError as exc:
                sys.stderr.write(f"{exc}\n")
                raise SystemExit(2) from None
            return
    build_app(only)(prog_name="poskamling")


if __name__ == "__main__":
    main()
