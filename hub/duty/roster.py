"""Pure duty roster: who is on duty for a post at a given moment, and the escalation chain.

Values in, values out; no clock, no storage. Weekly shifts are in the hub's local time
(WIB/WITA/WIT, no daylight saving in Indonesia); a shift whose end is not after its start
runs past midnight into the next day. Dated overrides (leave, swaps, extra duty) beat the
weekly pattern, and leave beats everything. When nobody at the first level is on duty for
the post's village, the fallback contact (the Polsek duty desk) takes that place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.i18n import weekday_names

OFFICER_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_urls(urls: list[str]) -> list[str]:
    for url in urls:
        scheme, sep, rest = url.partition("://")
        if not sep or not scheme.isascii() or not scheme.replace("+", "").isalnum() or not rest:
            raise ValueError("each contact must be an apprise URL such as tgram://, whatsapp://, mailto://, json://")
    return urls


class Officer(_Value):
    """A person (or desk) who can be paged."""

    id: str = Field(pattern=OFFICER_ID_PATTERN, description="short stable id, e.g. 'agus'")
    name: str = Field(min_length=1, max_length=120, description="name shown in messages, e.g. 'Bripka Agus'")
    rank: str = Field(default="", max_length=60, description="rank or role, e.g. 'Bhabinkamtibmas', 'Kanit Binmas'")
    villages: tuple[str, ...] = Field(default=(), max_length=200, description="desa/kelurahan covered; empty: all")
    urls: tuple[str, ...] = Field(min_length=1, max_length=10, description="contact channels as apprise URLs")
    language: str = Field(default="id", pattern=r"^(id|en)$", description="language of this officer's messages")
    level: int = Field(default=1, ge=1, le=9, description="escalation level: 1 village officer, 2 Kanit, 3 Kapolsek")
    always_on_duty: bool = Field(default=False, description="on duty whenever not on leave, without shifts")
    active: bool = Field(default=True, description="inactive officers are never paged")

    @field_validator("urls")
    @classmethod
    def _urls_ok(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_urls(list(value)))

    def covers(self, village: str) -> bool:
        if not self.villages:
            return True
        wanted = village.strip().casefold()
        return any(v.strip().casefold() == wanted for v in self.villages)


class Shift(_Value):
    """A weekly recurring shift of one officer, in local time."""

    id: str = Field(min_length=1, max_length=40, description="shift id")
    officer_id: str = Field(pattern=OFFICER_ID_PATTERN, description="whose shift")
    weekday: int = Field(ge=0, le=6, description="day the shift starts: 0 Monday .. 6 Sunday")
    start: time = Field(description="local start time, e.g. 22:00")
    end: time = Field(description="local end time; not after start means the next day (start == end: 24 h)")

    def covers(self, local: datetime) -> bool:
        """True when the naive local time falls inside this shift (either of two candidate days)."""
        moment = local.replace(tzinfo=None)
        for back in (0, 1):
            day = moment.date() - timedelta(days=back)
            if day.weekday() != self.weekday:
                continue
            begin = datetime.combine(day, self.start)
            end_day = day if self.end > self.start else day + timedelta(days=1)
            if begin <= moment < datetime.combine(end_day, self.end):
                return True
        return False


class OverrideKind(StrEnum):
    OFF = "off"  # leave, sick, swapped away
    ON = "on"  # extra duty, swapped in


class Override(_Value):
    """A dated exception to the weekly pattern."""

    id: str = Field(min_length=1, max_length=40, description="override id")
    officer_id: str = Field(pattern=OFFICER_ID_PATTERN, description="whose duty changes")
    kind: OverrideKind = Field(description="off (leave) or on (extra duty)")
    start: datetime = Field(description="from (with timezone)")
    end: datetime = Field(description="until, exclusive (with timezone)")
    note: str = Field(default="", max_length=300, description="reason, e.g. 'cuti', 'tukar dengan Aipda Sari'")

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a timezone, e.g. 2026-11-22T22:00:00+07:00")
        return value

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


class Roster(_Value):
    """Everything needed to answer "who is on duty": a snapshot, not a store."""

    officers: tuple[Officer, ...] = ()
    shifts: tuple[Shift, ...] = ()
    overrides: tuple[Override, ...] = ()
    fallback: Officer | None = None


def is_on_duty(roster: Roster, officer: Officer, at: datetime, zone: str) -> bool:
    if not officer.active:
        return False
    overrides = [o for o in roster.overrides if o.officer_id == officer.id and o.covers(at)]
    if any(o.kind is OverrideKind.OFF for o in overrides):
        return False
    if overrides or officer.always_on_duty:
        return True
    local = at.astimezone(ZoneInfo(zone))
    return any(s.officer_id == officer.id and s.covers(local) for s in roster.shifts)


def on_duty(roster: Roster, village: str, at: datetime, zone: str) -> list[Officer]:
    """Officers on duty at `at` who cover `village`, lowest level first, then by name."""
    chosen = [o for o in roster.officers if o.covers(village) and is_on_duty(roster, o, at, zone)]
    return sorted(chosen, key=lambda o: (o.level, o.name))


def duty_chain(roster: Roster, village: str, at: datetime, zone: str) -> list[list[Officer]]:
    """The escalation chain for a post: one group per level, in order; the fallback fills level 1."""
    groups: dict[int, list[Officer]] = {}
    for officer in on_duty(roster, village, at, zone):
        groups.setdefault(officer.level, []).append(officer)
    chain = [groups[level] for level in sorted(groups)]
    if roster.fallback is not None and 1 not in groups:
        chain.insert(0, [roster.fallback])
    return chain


def parse_weekday(value: str | int) -> int:
    """0-6, or a name: mon, senin, tue, selasa, ..."""
    if isinstance(value, int) or value.isdigit():
        day = int(value)
        if 0 <= day <= 6:
            return day
        raise ValueError(f"weekday {value} out of range 0 (Monday) .. 6 (Sunday)")
    names = {name: i for i, name in enumerate(WEEKDAYS)}
    names.update({n.casefold(): i for i, n in enumerate(weekday_names("id"))})
    key = value.strip().casefold()[:3] if value.strip().casefold()[:3] in names else value.strip().casefold()
    if key not in names:
        raise ValueError(f"unknown weekday {value!r}; use mon..sun or senin..minggu")
    return names[key]


def names(officers: Iterable[Officer]) -> list[str]:
    return [o.name for o in officers]
