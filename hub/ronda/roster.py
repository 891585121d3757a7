"""Pure ronda roster: the residents who keep the night watch (*ronda malam*) at each post.

Values in, values out; no clock, no storage (hub/ronda/store.py keeps them in TinyDB).

* A **guard** belongs to one post and watches on some nights of the week (`nights`, the weekday
  the night *starts*: a Saturday-night watch that ends at 04:00 on Sunday is night 5).
* A **dated change** puts a guard on (`on`) or off (`off`) one night, beating the weekly pattern
  (a swap is one `off` and one `on`).
* Each **village** (desa/kelurahan) has its ronda hours, 22:00-04:00 local time unless set:
  an end not after the start runs past midnight. The round interval and its grace period are
  per village too.
"""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kamling.protocol import DEVICE_ID_PATTERN

GUARD_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
CARD_ID_PATTERN = r"^[0-9A-Fa-f]{4,32}$"
"""What a 125 kHz reader types: 10 decimal digits on most, some type hex; never anything else."""
PHONE_PATTERN = r"^\+?[0-9][0-9 -]{5,19}$"
DEFAULT_START = time(22, 0)
DEFAULT_END = time(4, 0)
DEFAULT_ROUND_MINUTES = 60
DEFAULT_GRACE_MINUTES = 10


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def same_village(a: str, b: str) -> bool:
    """Village names as people type them: case and surrounding blanks do not matter."""
    return a.strip().casefold() == b.strip().casefold()


class RondaHours(_Value):
    """When a village's posts are expected to be staffed, and how often a guard checks in."""

    village: str = Field(min_length=1, max_length=120, description="desa/kelurahan, as in the posts' settings")
    start: time = Field(default=DEFAULT_START, description="local start of the ronda, e.g. 22:00")
    end: time = Field(default=DEFAULT_END, description="local end; not after start: the next morning")
    round_minutes: int = Field(
        default=DEFAULT_ROUND_MINUTES, ge=5, le=360, description="a check-in is expected this often"
    )
    grace_minutes: int = Field(default=DEFAULT_GRACE_MINUTES, ge=0, le=120, description="how late a round may be")


class Guard(_Value):
    """A resident on the post's ronda roster."""

    id: str = Field(pattern=GUARD_ID_PATTERN, description="short stable id, e.g. 'budi-rw01'")
    name: str = Field(min_length=1, max_length=120, description="name shown on the dashboard")
    device: str = Field(pattern=DEVICE_ID_PATTERN, description="the post (device id) the guard watches at")
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN, description="optional phone number")
    card_id: str | None = Field(default=None, pattern=CARD_ID_PATTERN, description="optional 125 kHz card number")
    nights: tuple[int, ...] = Field(default=(), max_length=7, description="weekdays the guard's night starts, 0 Monday")
    active: bool = Field(default=True, description="inactive guards are never expected")

    @field_validator("nights")
    @classmethod
    def _nights_ok(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 <= day <= 6 for day in value):
            raise ValueError("nights are weekdays 0 (Monday) to 6 (Sunday)")
        return tuple(sorted(set(value)))

    @field_validator("card_id")
    @classmethod
    def _card_upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value


class ChangeKind(StrEnum):
    ON = "on"  # an extra night, or covering for someone
    OFF = "off"  # away this night


class GuardChange(_Value):
    """A dated exception to a guard's weekly nights."""

    id: str = Field(min_length=1, max_length=40)
    guard_id: str = Field(pattern=GUARD_ID_PATTERN)
    night: date = Field(description="local date the night starts")
    kind: ChangeKind
    note: str = Field(default="", max_length=300)


class RondaRoster(_Value):
    guards: tuple[Guard, ...] = ()
    changes: tuple[GuardChange, ...] = ()
    hours: tuple[RondaHours, ...] = ()

    def hours_for(self, village: str) -> RondaHours:
        """The village's ronda hours, or the defaults (22:00-04:00, rounds of 60 min, 10 min grace)."""
        for entry in self.hours:
            if same_village(entry.village, village):
                return entry
        return RondaHours(village=village or "-")

    def guard(self, guard_id: str) -> Guard | None:
        return next((g for g in self.guards if g.id == guard_id), None)

    def guard_by_card(self, card: str, device: str | None = None) -> Guard | None:
        """The guard holding `card`, preferring the post's own guards (a card may be shared by mistake)."""
        wanted = card.strip().upper()
        holders = [g for g in self.guards if g.card_id == wanted]
        own = [g for g in holders if g.device == device]
        found = own or holders
        return found[0] if found else None


def guards_on(roster: RondaRoster, device: str, night: date) -> list[Guard]:
    """The guards expected at `device` on the night that starts on `night`: weekly nights, then dated changes."""
    changes = {c.guard_id: c.kind for c in roster.changes if c.night == night}
    expected = []
    for guard in roster.guards:
        if guard.device != device or not guard.active:
            continue
        change = changes.get(guard.id)
        if change is ChangeKind.OFF:
            continue
        if change is ChangeKind.ON or night.weekday() in guard.nights:
            expected.append(guard)
    return expected
