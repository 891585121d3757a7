"""`poskamling edge`: run the post's agent, and `edge doctor`, the technician's on-site checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kamling.configfile import ConfigError
from poskamling.commands.common import ConfigOption, fail
from poskamling.commands.edge_run import run_agent

app = typer.Typer(help="The edge agent that runs on a post's Raspberry Pi.")


class TerminalPrompt:
    """Talks to the technician on the terminal; `assume_yes` answers every question yes."""

    def __init__(self, assume_yes: bool = False) -> None:
        self.assume_yes = assume_yes

    def say(self, text: str) -> None:
        typer.echo(text)

    def confirm(self, question: str) -> bool:
        if self.assume_yes:
            typer.echo(f"{question} yes")
            return True
        return typer.confirm(question, default=True)


@app.callback(invoke_without_command=True)
def edge(ctx: typer.Context, config: ConfigOption = Path("/etc/poskamling/edge.yaml"), verbose: bool = False) -> None:
    """Run the edge agent (GPIOZERO_PIN_FACTORY=mock runs it on a laptop)."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        run_agent(config, verbose, announce=typer.echo)
    except ConfigError as exc:
        raise fail(str(exc)) from None


@app.command("doctor")
def doctor(
    config: Annotated[Path, typer.Option("--config", "-c", help="the post's edge config")] = Path(
        "/etc/poskamling/edge.yaml"
    ),
    walk_test: Annotated[
        bool, typer.Option("--walk-test", help="send a TEST panic through the agent and wait for the hub's ack")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="do not ask whether the LED/buzzer were seen and heard")
    ] = False,
    skip: Annotated[list[str], typer.Option("--skip", help="skip a check: button, cameras (repeatable)")] = [],  # noqa: B006
    button_timeout: Annotated[float, typer.Option(help="seconds to wait for the button press")] = 30.0,
    camera_seconds: Annotated[float, typer.Option(help="seconds to read each camera")] = 3.0,
) -> None:
    """Check this post: config, button, LED/buzzer, cameras, broker, clock, outbox disk; exit 1 on any failure.

    Stop the agent first: sudo systemctl stop poskamling-edge
    """
    # Imported here: the doctor reads cameras (OpenCV, NumPy), which the agent without a camera never loads.
    from edge.doctor import DoctorOptions, exit_code, render_table, run_doctor

    options = DoctorOptions(
        button_timeout=button_timeout,
        camera_seconds=camera_seconds,
        walk_test=walk_test,
        interactive_outputs=not yes,
        skip=frozenset(skip),
    )
    results = run_doctor(config, TerminalPrompt(assume_yes=yes), options)
    typer.echo("")
    typer.echo(render_table(results))
    raise typer.Exit(exit_code(results))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="edge")
