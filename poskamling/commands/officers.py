"""`poskamling officers ...`: officers, weekly shifts, leave, swaps, the duty desk, who is on duty.

Edits the hub's roster file (<data_dir>/roster.json) directly; a running hub sees the change
at its next page (the file is shared under a lock and replaced atomically).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from hub.alerting.service import RosterResolver
from hub.duty.officers import FALLBACK_ID, OfficerStore, RosterError
from hub.duty.roster import WEEKDAYS, Officer, duty_chain, parse_weekday
from kamling.protocol import utc_now
from kamling.redact import redact_url
from poskamling.commands.common import fail
from poskamling.commands.hub_config import hub_settings

app = typer.Typer(help="Officers and the duty roster (who is paged, when).", no_args_is_help=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="the hub's YAML or TOML config file")]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="the hub's data folder (instead of --config)")]
DEFAULT_CONFIG = Path("/etc/poskamling/hub.yaml")


def _store(config: Path, data_dir: Path | None):

    folder = data_dir or hub_settings(config).data_dir
    return OfficerStore(folder / "roster.json")


def _when(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{value!r} is not a date-time; use e.g. 2026-11-22T22:00+07:00") from None
    if moment.tzinfo is None:
        raise fail(f"{value!r} needs a timezone, e.g. 2026-11-22T22:00+07:00")
    return moment


def _guard(action):

    try:
        return action()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(f"{'.'.join(str(p) for p in first['loc']) or 'input'}: {first['msg']}") from None
    except (RosterError, ValueError) as exc:
        raise fail(str(exc)) from None


@app.command("list")
def list_officers(config: ConfigOption = DEFAULT_CONFIG, data_dir: DataDirOption = None) -> None:
    """Show officers, shifts, overrides and the fallback (contact URLs hidden)."""
    roster = _store(config, data_dir).roster()
    if not roster.officers and roster.fallback is None:
        typer.echo("no roster stored: the officers in the hub settings are paged (always on duty)")
    for o in sorted(roster.officers, key=lambda o: (o.level, o.id)):
        villages = ", ".join(o.villages) or "all villages"
        extra = " always on duty" if o.always_on_duty else ""
        typer.echo(
            f"{o.id:<12} L{o.level} {o.rank + ' ' if o.rank else ''}{o.name} [{villages}] "
            f"{' '.join(redact_url(u) for u in o.urls)} ({o.language}){extra}{'' if o.active else ' INACTIVE'}"
        )
        for s in roster.shifts:
            if s.officer_id == o.id:
                typer.echo(f"    shift {s.id}: {WEEKDAYS[s.weekday]} {s.start:%H:%M}-{s.end:%H:%M}")
        for v in roster.overrides:
            if v.officer_id == o.id:
                typer.echo(f"    {v.kind.value:<3} {v.id}: {v.start.isoformat()} .. {v.end.isoformat()} {v.note}")
    if roster.fallback:
        typer.echo(f"fallback: {roster.fallback.name} {' '.join(redact_url(u) for u in roster.fallback.urls)}")


@app.command("add")
def add(
    officer_id: Annotated[str, typer.Argument(help="short id, e.g. agus")],
    name: Annotated[str, typer.Option(help="name in messages, e.g. 'Bripka Agus'")],
    url: Annotated[list[str], typer.Option(help="apprise URL (repeatable): tgram://, whatsapp://, mailto://")],
    rank: Annotated[str, typer.Option(help="e.g. Bhabinkamtibmas, Kanit Binmas, Kapolsek")] = "",
    village: Annotated[list[str] | None, typer.Option(help="village covered (repeatable); none: all")] = None,
    level: Annotated[int, typer.Option(help="escalation level: 1 village officer, 2 Kanit, 3 Kapolsek")] = 1,
    language: Annotated[str, typer.Option(help="id or en")] = "id",
    always_on_duty: Annotated[bool, typer.Option(help="on duty without shifts (unless on leave)")] = False,
    config: ConfigOption = DEFAULT_CONFIG,
    data_dir: DataDirOption = None,
) -> None:
    """Add or replace an officer."""
    officer = _guard(
        lambda: Officer(
            id=officer_id,
            name=name,
            rank=rank,
            villages=tuple(village or ()),
            urls=tuple(url),
            language=language,
            level=level,
            always_on_duty=always_on_duty,
        )
    )
    _store(config, data_dir).put_officer(officer)
    typer.echo(f"officer {officer.id} saved")


@app.command("remove")
def remove(officer_id: str, config: ConfigOption = DEFAULT_CONFIG, data_dir: DataDirOption = None) -> None:
    """Remove an officer with their shifts and overrides."""
    if not _store(config, data_dir).remove_officer(officer_id):
        raise fail(f"no officer {officer_id!r}")
    typer.echo(f"officer {officer_id} removed")


@app.command("shift")
def shift(
    officer_id: str,
    day: Annotated[str, typer.Option(help="day the shift starts: mon..sun, senin..minggu or 0-6")],
    start: Annotated[str, typer.Option(help="local start, e.g. 22:00")],
    end: Annotated[str, typer.Option(help="local end, e.g. 06:00 (not after start: next day)")],
    config: ConfigOption = DEFAULT_CONFIG,
    data_dir: DataDirOption = None,
) -> None:
    """Add a weekly recurring shift."""
    store = _store(config, data_dir)
    added = _guard(lambda: store.add_shift(officer_id=officer_id, weekday=parse_weekday(day), start=start, end=end))
    typer.echo(f"shift {added.id} added")


def _override(kind: str, officer_id: str, start: str, end: str, note: str, config: Path, data_dir: Path | None) -> None:
    store = _store(config, data_dir)
    added = _guard(
        lambda: store.add_override(officer_id=officer_id, kind=kind, start=_when(start), end=_when(end), note=note)
    )
    typer.echo(f"override {added.id} added")


FromOption = Annotated[str, typer.Option("--from", help="start, e.g. 2026-11-22T22:00+07:00")]
ToOption = Annotated[str, typer.Option("--to", help="end (exclusive)")]


@app.command("leave")
def leave(
    officer_id: str,
    start: FromOption,
    end: ToOption,
    note: str = "cuti",
    config: ConfigOption = DEFAULT_CONFIG,
    data_dir: DataDirOption = None,
) -> None:
    """An officer is off duty for a period (leave, sick)."""
    _override("off", officer_id, start, end, note, config, data_dir)


@app.command("extra")
def extra(
    officer_id: str,
    start: FromOption,
    end: ToOption,
    note: str = "",
    config: ConfigOption = DEFAULT_CONFIG,
    data_dir: DataDirOption = None,
) -> None:
    """An officer is on duty for a period outside their shifts."""
    _override("on", officer_id, start, end, note, config, data_dir)


@app.command("swap")
def swap(
    away: str,
    covering: str,
    start: FromOption,
    end: ToOption,
    note: str = "",
    config: ConfigOption = DEFAULT_CONFIG,
    data_dir: DataDirOption = None,
) -> None:
    """COVERING takes AWAY's duty for a period."""
    store = _store(config, data_dir)
    _guard(lambda: store.swap(away, covering, _when(start), _when(end), note))
    typer.echo(f"{covering} covers for {away}")


@app.command("unset")
def unset(entry_id: str, config: ConfigOption = DEFAULT_CONFIG, data_dir: DataDirOption = None) -> None:
    """Remove a shift or an override by its id."""
    store = _store(config, data_dir)
    if not (store.remove_entry("shifts", entry_id) or store.remove_entry("overrides", entry_id)):
        raise fail(f"no shift or override {entry_id!r}")
    typer.echo(f"{entry_id} removed")


@app.command("fallback")
def fallback(
    url: Annotated[list[str], typer.Option(help="apprise URL of the Polsek duty desk (repeatable)")],
    name: str = "Piket Polsek",
    language: str = "id",
    config: ConfigOption = DEFAULT_CONFIG,
    data_dir: DataDirOption = None,
) -> None:
    """Set the fallback contact, paged when no village officer is on duty."""
    officer = _guard(
        lambda: Officer(id=FALLBACK_ID, name=name, urls=tuple(url), language=language, always_on_duty=True)
    )
    _store(config, data_dir).set_fallback(officer)
    typer.echo("fallback saved")


@app.command("on-duty")
def on_duty(
    device: Annotated[str, typer.Argument(help="the post's device id")],
    at: Annotated[str | None, typer.Option(help="moment to ask about (default: now)")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Who would be paged for a post, level by level."""
    settings = hub_settings(config)
    post = next((p for p in settings.posts if p.device_id == device), None)
    if post is None:
        raise fail(f"no post {device!r} in {config}")
    moment = _when(at) if at else utc_now()
    roster = RosterResolver(settings, OfficerStore(settings.data_dir / "roster.json")).roster()
    chain = duty_chain(roster, post.village, moment, settings.timezone)
    if not chain:
        raise fail(f"nobody would be paged for {device} at {moment.isoformat()}")
    for step, level in enumerate(chain, start=1):
        typer.echo(f"step {step}: " + ", ".join(f"{o.name} ({o.rank or 'L' + str(o.level)})" for o in level))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="officers")
