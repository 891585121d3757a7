"""`poskamling ronda ...`: the residents' night watch per post: guards, their nights, dated changes, village hours.

Edits the hub's ronda file (<data_dir>/ronda.json) directly; a running hub reads the change at
its next evaluation (the file is shared under a lock and replaced atomically). Tonight's
check-ins are on the dashboard's Ronda page and at /api/ronda.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from hub.duty.roster import WEEKDAYS, parse_weekday
from hub.ronda.roster import Guard, RondaHours
from hub.ronda.store import RondaError, RondaStore
from poskamling.commands.common import fail
from poskamling.commands.hub_config import hub_settings

app = typer.Typer(
    help="Ronda malam: guards per post, their nights, dated changes, village ronda hours.", no_args_is_help=True
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="the hub's YAML or TOML config file")]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="the hub's data folder (instead of --config)")]
DEFAULT_CONFIG = Path("/etc/poskamling/hub.yaml")


def _store(config: Path, data_dir: Path | None) -> Any:

    folder = data_dir or hub_settings(config).data_dir
    return RondaStore(folder / "ronda.json")


def _checked(action: Any) -> Any:
    """Run `action`; a validation or roster error becomes a one-line message and exit code 2."""

    try:
        return action()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(f"{'.'.join(str(p) for p in first['loc']) or 'input'}: {first['msg']}") from None
    except (RondaError, ValueError) as exc:
        raise fail(str(exc)) from None


def _nights(value: str) -> tuple[int, ...]:
    """'mon,wed,sat', 'senin,rabu', '0,2,5', 'all' or '' (no weekly nights: dated changes only)."""
    if value.strip().casefold() in ("all", "semua"):
        return tuple(range(7))
    return tuple(parse_weekday(part) for part in value.split(",") if part.strip())


def _clock(value: str, name: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise fail(f"--{name}: {value!r} is not a time; use e.g. 22:00") from None


@app.command("list")
def list_roster(
    post: Annotated[str | None, typer.Option(help="only this post (device id)")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    data_dir: DataDirOption = None,
) -> None:
    """Guards with their nights and dated changes, and the village hours set."""
    roster = _store(config, data_dir).roster()
    guards = [g for g in roster.guards if post is None or g.device == post]
    if not guards:
        typer.echo("no guards" + (f" at {post}" if post else ""))
    for g in sorted(guards, key=lambda g: (g.device, g.id)):
        nights = ",".join(WEEKDAYS[d] for d in g.nights) or "-"
        extras = "".join(f" {label} {value}" for label, value in (("phone", g.phone), ("card", g.card_id)) if value)
        typer.echo(f"{g.device:<16} {g.id:<14} {g.name} nights {nights}{extras}{'' if g.active else ' INACTIVE'}")
        for c in roster.changes:
            if c.guard_id == g.id:
                typer.echo(f"    {c.kind.value:<3} {c.id}: night of {c.night.isoformat()} {c.note}")
    for h in roster.hours:
        typer.echo(
            f"hours {h.village}: {h.start:%H:%M}-{h.end:%H:%M}, a round every {h.round_minutes} min, "
            f"{h.grace_minutes} min grace"
        )


@app.command("add")
def add(
    guard_id: Annotated[str, typer.Argument(help="short id, e.g. budi-rw01")],
    name: Annotated[str, typer.Option(help="the guard's name")],
    post: Annotated[str, typer.Option(help="the post's device id, e.g. pos-rw01")],
    nights: Annotated[
        str, typer.Option(help="weekly nights: mon,wed,sat or senin,rabu or all (the day the night starts)")
    ] = "",
    phone: Annotated[str | None, typer.Option(help="phone number, e.g. +62812...")] = None,
    card: Annotated[str | None, typer.Option(help="125 kHz card number, as the reader types it")] = None,
    inactive: Annotated[bool, typer.Option(help="keep on the list but never expect")] = False,
    config: ConfigOption = DEFAULT_CONFIG,
    data_dir: DataDirOption = None,
) -> None:
    """Add or replace a guard."""
    store = _store(config, data_dir)
    guard = _checked(
        lambda: Guard(
            id=guard_id, name=name, device=post, phone=phone, card_id=card, nights=_nights(nights), active=not inactive
        )
    )
    _checked(lambda: store.put_guard(guard))
    typer.echo(f"guard {guard.id} saved")


@app.command("remove")
def remove(guard_id: str, config: ConfigOption = DEFAULT_CONFIG, data_dir: DataDirOption = None) -> None:
    """Remove a guard with their dated changes."""
    if not _store(config, data_dir).remove_guard(guard_id):
        raise fail(f"no guard {guard_id!r}")
    typer.echo(f"guard {guard_id} removed")


NightOption = Annotated[str, typer.Option(help="local date the night starts, e.g. 2026-11-22")]
NoteOption = Annotated[str, typer.Option(help="why, e.g. 'sakit' or 'tukar dengan Budi'")]


def _change(kind: str, guard_id: str, night: str, note: str, config: Path, data_dir: Path | None) -> None:
    try:
        day = date.fromisoformat(night)
    except ValueError:
        raise fail(f"--night: {night!r} is not a date; use e.g. 2026-11-22") from None
    store = _store(config, data_dir)
    added = _checked(lambda: store.add_change(guard_id=guard_id, night=day, kind=kind, note=note))
    typer.echo(f"change {added.id} added")


@app.command("on")
def on(
    guard_id: str,
    night: NightOption,
    note: NoteOption = "",
    config: ConfigOption = DEFAULT_CONFIG,
    data_dir: DataDirOption = None,
) -> None:
    """A dated change: the guard watches this night (an extra night, or covering for someone)."""
    _change("on", guard_id, night, note, config, data_dir)


@app.command("off")
def off(
    guard_id: str,
    night: NightOption,
    note: NoteOption = "",
    config: ConfigOption = DEFAULT_CONFIG,
    data_dir: DataDirOption = None,
) -> None:
    """A dated change: the guard is away this night."""
    _change("off", guard_id, night, note, config, data_dir)


@app.command("unchange")
def unchange(change_id: str, config: ConfigOption = DEFAULT_CONFIG, data_dir: DataDirOption = None) -> None:
    """Remove a dated change (its id is in `ronda list`)."""
    if not _store(config, data_dir).remove_change(change_id):
        raise fail(f"no change {change_id!r}")
    typer.echo(f"change {change_id} removed")


@app.command("hours")
def hours(
    village: Annotated[str, typer.Argument(help="desa/kelurahan, as in the posts' settings")],
    start: Annotated[str, typer.Option(help="local start of the ronda")] = "22:00",
    end: Annotated[str, typer.Option(help="local end (not after start: the next morning)")] = "04:00",
    round_minutes: Annotated[int, typer.Option("--round", help="a check-in is expected every this many minutes")] = 60,
    grace: Annotated[int, typer.Option(help="minutes a round may be late before it counts as missed")] = 10,
    config: ConfigOption = DEFAULT_CONFIG,
    data_dir: DataDirOption = None,
) -> None:
    """Set a village's ronda hours, round interval and grace period."""
    value = _checked(
        lambda: RondaHours(
            village=village,
            start=_clock(start, "start"),
            end=_clock(end, "end"),
            round_minutes=round_minutes,
            grace_minutes=grace,
        )
    )
    _store(config, data_dir).set_hours(value)
    typer.echo(
        f"hours {value.village}: {value.start:%H:%M}-{value.end:%H:%M}, round {value.round_minutes} min, "
        f"grace {value.grace_minutes} min"
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="ronda")
