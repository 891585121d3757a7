"""Pure figures for "Ronda & Sambang" and the weekly village report (issue 14). Values in, values out.

What goes in: the posts, the ronda roster, check-in moments per post, police visits, alerts, a
week (or a list of nights) and `now`. What comes out: per post and per village, ronda compliance
(rounds kept / rounds expected), visits, incidents and response times, and which posts are *rawan*
(incidents in the last 30 days and no police visit in the last 7). The routes
(hub/web/routes/ronda_sambang.py) only fetch the inputs and render the outputs.

Why it lives in `community/`: the report joins the residents' night watch (ronda), the police's
visits (sambang) and the alerts; this room already sits above `alerting` and `ronda` in the
layer contract, so no new room or contract is needed.

Ronda compliance follows the presence rules (hub/ronda/rules.py) rather than a second
definition: a rostered night expects `(end - start) // round` rounds; its check-ins inside the
hours are replayed through `record_checkin`, and the rounds the rules count as missed by the end
of the hours (plus grace) are subtracted, and no more rounds are kept than there were check-ins
(a guard drifting 9 minutes later each round misses none by the rules, but checks in 5 times in
6 hours: 5 of 6). A guard who checks in every round keeps them all; one check-in at 23:30 on a
22:00-04:00 night keeps 1 of 6. Only nights with a guard rostered count,
judged by today's roster (its weekly nights and dated changes): the roster keeps no history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.alerting.reports import (  # the incident definition is shared with the reports page
    INCIDENT_KINDS,
    AlertTimes,
    PostLabel,
    alert_times,
    false_alarms,
    incidents,
    summarize,
)
from hub.alerting.rules import Alert
from hub.community.store import Visit
from hub.ronda.roster import RondaHours, RondaRoster, guards_on, same_village
from hub.ronda.rules import Checkin, Presence, missed_rounds, record_checkin, window_at
from hub.settings import PostSettings
from kamling.protocol import EventKind

RAWAN_INCIDENT_DAYS = 30
RAWAN_VISIT_DAYS = 7
RECENT_NIGHTS = 7


# -- weeks and nights ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    """An ISO week in local time: Monday 00:00 to the next Monday 00:00; its nights start Monday to Sunday."""

    year: int
    number: int
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def nights(self) -> tuple[date, ...]:
        first = self.start.date()
        return tuple(first + timedelta(days=d) for d in range(7))


def _week(year: int, number: int, zone: str) -> Week:
    monday = date.fromisocalendar(year, number, 1)  # ValueError for week 53 of a 52-week year
    tz = ZoneInfo(zone)
    start = datetime.combine(monday, time(0), tzinfo=tz)
    return Week(year, number, start, datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz))


def week_containing(moment: datetime, zone: str) -> Week:
    year, number, _ = moment.astimezone(ZoneInfo(zone)).isocalendar()
    return _week(year, number, zone)


def last_full_week(now: datetime, zone: str) -> Week:
    """The report's default: the last week whose Sunday has ended, in local time."""
    return week_containing(week_containing(now, zone).start - timedelta(days=1), zone)


def parse_week(label: str, zone: str) -> Week:
    """`2026-W47` (what an HTML `<input type=week>` sends) as a Week; ValueError otherwise."""
    text = label.strip()
    year_text, sep, number_text = text.partition("-W")
    if not sep or len(year_text) != 4 or not year_text.isdigit() or not number_text.isdigit() or len(number_text) > 2:
        raise ValueError(f"not an ISO week like 2026-W47: {label!r}")
    return _week(int(year_text), int(number_text), zone)


def recent_nights(hours: RondaHours, now: datetime, zone: str, count: int = RECENT_NIGHTS) -> tuple[date, ...]:
    """The last `count` nights whose hours (plus grace) are over at `now`, oldest first."""
    tz = ZoneInfo(zone)
    grace = timedelta(minutes=hours.grace_minutes)
    night = now.astimezone(tz).date()
    for _ in range(3):  # tonight may not have started, or not ended; one of the three before has
        window = _night_window(hours, night, zone)
        if window[1] + grace <= now:
            break
        night -= timedelta(days=1)
    return tuple(night - timedelta(days=back) for back in range(count - 1, -1, -1))


def _night_window(hours: RondaHours, night: date, zone: str) -> tuple[datetime, datetime]:
    start = datetime.combine(night, hours.start, tzinfo=ZoneInfo(zone))
    window = window_at(hours, start, zone)  # the night starting at `start` holds its own start
    assert window is not None and window.night == night
    return window.start, window.end


# -- check-ins and ronda compliance --------------------------------------------------------------------


def _moment(value: Any) -> datetime | None:
    """A stored time as an aware datetime, or None (stored rows are not trusted; a naive time is UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment


def checkins_by_post(records: Iterable[Mapping[str, Any]]) -> dict[str, list[datetime]]:
    """Check-in moments per post from stored event records: at the hub's arrival time (`received_at`),
    as the ronda watch counts them; walk tests and rows without a readable time are left out."""
    found: dict[str, list[datetime]] = {}
    for record in records:
        if record.get("kind") != EventKind.CHECKIN.value or record.get("test"):
            continue
        moment = _moment(record.get("received_at"))
        device = record.get("device")
        if moment is None or not isinstance(device, str):
            continue
        found.setdefault(device, []).append(moment)
    for moments in found.values():
        moments.sort()
    return found


@dataclass(frozen=True)
class NightRounds:
    night: date
    expected: int
    kept: int
    checkins: int  # check-ins inside the hours

    @property
    def missed(self) -> int:
        return self.expected - self.kept


def night_rounds(hours: RondaHours, night: date, checkins: Iterable[datetime], zone: str) -> NightRounds:
    """One rostered night, judged by the presence rules once its hours (and grace) are over."""
    start, end = _night_window(hours, night, zone)
    step = timedelta(minutes=hours.round_minutes)
    expected = (end - start) // step
    inside = sorted(c for c in checkins if start <= c < end)
    state = Presence("-")
    for moment in inside:
        state, _ = record_checkin(state, hours, Checkin(moment), zone)
    window = window_at(hours, start, zone)
    assert window is not None
    missed = state.missed_before + missed_rounds(
        hours, window, state.reference or start, end + timedelta(minutes=hours.grace_minutes)
    )
    return NightRounds(night, expected, max(0, min(expected - missed, len(inside))), len(inside))


@dataclass(frozen=True)
class Compliance:
    expected: int = 0
    kept: int = 0
    nights: int = 0  # nights with a guard rostered

    @property
    def ratio(self) -> float | None:
        return self.kept / self.expected if self.expected else None

    @property
    def percent(self) -> int | None:
        ratio = self.ratio
        return None if ratio is None else round(ratio * 100)

    def __add__(self, other: Compliance) -> Compliance:
        return Compliance(self.expected + other.expected, self.kept + other.kept, self.nights + other.nights)


def post_compliance(
    roster: RondaRoster, post: PostSettings, nights: Iterable[date], checkins: Sequence[datetime], zone: str
) -> tuple[Compliance, list[NightRounds]]:
    """Rounds kept / expected at one post over `nights` (only nights with a guard on the roster)."""
    hours = roster.hours_for(post.village)
    rows = [night_rounds(hours, night, checkins, zone) for night in nights if guards_on(roster, post.device_id, night)]
    return Compliance(sum(r.expected for r in rows), sum(r.kept for r in rows), len(rows)), rows


# -- incidents and response times ------------------------------------------------------------------------


def opened_within(alerts: Iterable[Alert], since: datetime, until: datetime) -> list[Alert]:
    return [a for a in alerts if since <= a.opened_at < until]


# -- rawan: incidents and no visit ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rawan:
    device: str
    incidents: int  # in the last RAWAN_INCIDENT_DAYS
    last_visit: datetime | None


def rawan_posts(
    posts: Iterable[PostSettings], alerts: Iterable[Alert], last_visits: Mapping[str, datetime | None], now: datetime
) -> list[Rawan]:
    """Posts with incidents in the last 30 days and no police visit in the last 7: the ones to visit
    first, most incidents first."""
    recent = incidents(opened_within(alerts, now - timedelta(days=RAWAN_INCIDENT_DAYS), now + timedelta(seconds=1)))
    counts: dict[str, int] = {}
    for alert in recent:
        counts[alert.device] = counts.get(alert.device, 0) + 1
    since = now - timedelta(days=RAWAN_VISIT_DAYS)
    found = []
    for post in posts:
        last = last_visits.get(post.device_id)
        if counts.get(post.device_id) and (last is None or last < since):
            found.append(Rawan(post.device_id, counts[post.device_id], last))
    return sorted(found, key=lambda r: (-r.incidents, r.device))


# -- per post and per village ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PostFigures:
    device: str
    name: str
    village: str
    compliance: Compliance
    nights: tuple[NightRounds, ...]
    visits: int
    visits_flagged: int  # far from the post, or no location
    last_visit: datetime | None
    incidents: int
    incidents_by_kind: dict[str, int]
    false_alarms: int
    response: dict[str, Any]  # hub.alerting.reports.summarize row of this post's incidents (empty: none)


@dataclass(frozen=True)
class VillageFigures:
    village: str
    since: datetime
    until: datetime
    posts: tuple[PostFigures, ...]
    compliance: Compliance
    visits: int
    visits_flagged: int
    incidents: tuple[AlertTimes, ...]  # each incident with its times, oldest first
    incidents_by_kind: dict[str, int]
    false_alarms: int
    response: dict[str, Any]  # summarize row of the village's incidents
    response_by_kind: tuple[dict[str, Any], ...] = field(default=())

    @property
    def incident_count(self) -> int:
        return len(self.incidents)


def _by_kind(alerts: Iterable[Alert]) -> dict[str, int]:
    counts = {k.value: 0 for k in INCIDENT_KINDS}
    for alert in alerts:
        counts[alert.kind.value] = counts.get(alert.kind.value, 0) + 1
    return counts


def _response(times: Sequence[AlertTimes], key: str) -> dict[str, Any]:
    rows = summarize(times, lambda _: key, "group")
    return rows[0] if rows else {}


def village_figures(
    village: str,
    posts: Iterable[PostSettings],
    nights: Sequence[date],
    since: datetime,
    until: datetime,
    roster: RondaRoster,
    checkins: Mapping[str, Sequence[datetime]],
    visits: Iterable[Visit],
    alerts: Iterable[Alert],
    zone: str,
) -> VillageFigures:
    """A village over `nights` (ronda) and [since, until) (visits, incidents): per post and in total."""
    own = sorted((p for p in posts if same_village(p.village, village)), key=lambda p: (p.name, p.device_id))
    devices = {p.device_id for p in own}
    labels = {p.device_id: PostLabel(p.name, p.village) for p in own}
    chosen_alerts = [a for a in opened_within(alerts, since, until) if a.device in devices]
    village_incidents = incidents(chosen_alerts)
    village_false = false_alarms(chosen_alerts)
    times = [alert_times(a, labels) for a in village_incidents]
    week_visits = [v for v in visits if v.post in devices and since <= v.at < until]
    rows = []
    for post in own:
        compliance, night_rows = post_compliance(roster, post, nights, checkins.get(post.device_id, ()), zone)
        post_visits = [v for v in week_visits if v.post == post.device_id]
        post_incidents = [a for a in village_incidents if a.device == post.device_id]
        rows.append(
            PostFigures(
                device=post.device_id,
                name=post.name,
                village=post.village,
                compliance=compliance,
                nights=tuple(night_rows),
                visits=len(post_visits),
                visits_flagged=sum(1 for v in post_visits if v.flag),
                last_visit=max((v.at for v in post_visits), default=None),
                incidents=len(post_incidents),
                incidents_by_kind=_by_kind(post_incidents),
                false_alarms=sum(1 for a in village_false if a.device == post.device_id),
                response=_response([t for t in times if t.device == post.device_id], post.device_id),
            )
        )
    total = Compliance()
    for row in rows:
        total = total + row.compliance
    return VillageFigures(
        village=village,
        since=since,
        until=until,
        posts=tuple(rows),
        compliance=total,
        visits=len(week_visits),
        visits_flagged=sum(1 for v in week_visits if v.flag),
        incidents=tuple(times),
        incidents_by_kind=_by_kind(village_incidents),
        false_alarms=len(village_false),
        response=_response(times, village),
        response_by_kind=tuple(summarize(times, lambda t: t.kind, "kind")),
    )


CSV_COLUMNS = (
    "week",
    "village",
    "device",
    "post",
    "nights",
    "rounds_expected",
    "rounds_kept",
    "compliance_pct",
    "visits",
    "visits_flagged",
    "incidents",
    "panic",
    "tamper",
    "incident",
    "report",
    "manual",
    "false_alarms",
    "acknowledged",
    "tta_median_s",
    "tta_max_s",
    "resolved",
    "ttr_median_s",
    "ttr_max_s",
)
"""The CSV's columns (hub/i18n.py `vr_csv_<column>` names them in the reader's language)."""


def _csv_row(
    week: str,
    village: str,
    device: str,
    post: str,
    compliance: Compliance,
    visits: int,
    flagged: int,
    count: int,
    kinds: Mapping[str, int],
    false: int,
    response: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "week": week,
        "village": village,
        "device": device,
        "post": post,
        "nights": compliance.nights,
        "rounds_expected": compliance.expected,
        "rounds_kept": compliance.kept,
        "compliance_pct": compliance.percent,
        "visits": visits,
        "visits_flagged": flagged,
        "incidents": count,
        **{k.value: kinds.get(k.value, 0) for k in INCIDENT_KINDS},
        "false_alarms": false,
        "acknowledged": response.get("acknowledged", 0),
        "tta_median_s": response.get("tta_median"),
        "tta_max_s": response.get("tta_max"),
        "resolved": response.get("resolved", 0),
        "ttr_median_s": response.get("ttr_median"),
        "ttr_max_s": response.get("ttr_max"),
    }


def csv_rows(figures: VillageFigures, week: str, total_label: str) -> list[dict[str, Any]]:
    """One row per post, then the village's total (device empty, post `total_label`)."""
    rows = [
        _csv_row(
            week,
            p.village,
            p.device,
            p.name,
            p.compliance,
            p.visits,
            p.visits_flagged,
            p.incidents,
            p.incidents_by_kind,
            p.false_alarms,
            p.response,
        )
        for p in figures.posts
    ]
    rows.append(
        _csv_row(
            week,
            figures.village,
            "",
            total_label,
            figures.compliance,
            figures.visits,
            figures.visits_flagged,
            figures.incident_count,
            figures.incidents_by_kind,
            figures.false_alarms,
            figures.response,
        )
    )
    return rows
