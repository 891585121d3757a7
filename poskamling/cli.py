"""The `poskamling` command: one entry point for the post, the hub and the dev tools.

A post installs only the `[edge]` extra and the hub only `[hub]`, so each command group is
registered only when the packages of its extra are installed. A group whose packages are
missing still answers, with the pip command that installs them, instead of a traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import typer

from poskamling.commands.common import fail

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


def build_app() -> typer.Typer:
    app = typer.Typer(help="Pos Kamling: connected neighbourhood security posts.", no_args_is_help=True)
    for group in GROUPS:
        add_group(app, group)
    return app


app = build_app()


def main() -> None:
    app(prog_name="poskamling")


if __name__ == "__main__":
    main()
