"""`poskamling edge doctor`: on-site checks of a post (see edge/doctor.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


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


def doctor(
    config: Annotated[Path, typer.Option("--config", "-c", help="the post's edge config")] = Path("/etc/poskamling/edge.yaml"),
    walk_test: Annotated[bool, typer.Option("--walk-test", help="send a TEST panic through the agent and wait for the hub's ack")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask whether the LED/buzzer were seen and heard")] = False,
    skip: Annotated[list[str], typer.Option("--skip", help="skip a check: button, cameras (repeatable)")] = [],  # noqa: B006
    button_timeout: Annotated[float, typer.Option(help="seconds to wait for the button press")] = 30.0,
    camera_seconds: Annotated[float, typer.Option(help="seconds to read each camera")] = 3.0,
) -> None:
    """Check this post: config, button, LED/buzzer, cameras, broker, clock, outbox disk; exit 1 on any failure.

    Stop the agent first: sudo systemctl stop poskamling-edge
    """
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
