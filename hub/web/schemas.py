"""Response models of the JSON API (`response_model=`): the OpenAPI schema says what each route returns.

The views (hub/web/views.py) build every value JSON-safe from whatever the store holds (issue 18),
so fields whose stored value a hostile or old post may have made odd are typed loosely (Any):
a model must never turn a row the view could show into a 500.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# -- /api/events, /api/alerts, /api/alerts/{id}, the health route's database block (issue 12) --------


class EventOut(BaseModel):
    """A stored event (hub/web/views.py event_view): the wire Event's fields plus `received_at`;
    any further field a record holds is passed through."""

    model_config = ConfigDict(extra="allow")

    id: Any = None
    device: Any = None
    seq: Any = None
    kind: Any = None
    ts: Any = None
    data: Any = None
    test: Any = None
    received_at: Any = None


class EventPage(BaseModel):
    items: list[EventOut]
    total: int = Field(description="matches, counted up to 10,000 (see total_capped)")
    total_capped: bool = Field(description="true: there are more than `total` matches")
    limit: int
    offset: int
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null: no more")


class TimelineEntryOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    ts: Any = None
    action: Any = None
    actor: Any = None
    detail: Any = None


class AlertOut(BaseModel):
    """An alert with its timeline (hub/web/views.py alert_view); `error` marks a row that could not be shown."""

    model_config = ConfigDict(extra="allow")

    id: Any = None
    device: Any = None
    kind: Any = None
    severity: Any = None
    state: Any = None
    opened_at: Any = None
    updated_at: Any = None
    test: bool = False
    event_ids: list[Any] = []
    evidence: list[Any] = Field(default=[], description="pictures from around the press: event_id, offset_s")
    timeline: list[TimelineEntryOut] = []
    paged: list[Any] = []
    acknowledged_by: Any = None
    acknowledged_at: Any = None
    ack_channel: Any = None
    resolved_at: Any = None
    outcome: Any = None
    note: Any = None
    details: Any = None
    escalation_level: Any = None
    next_due: Any = None
    assigned_to: Any = Field(default=None, description="the officer an operator assigned (name)")
    assigned_id: Any = None
    open: bool = False
    post_name: Any = None
    village: Any = None


class DatabaseHealth(BaseModel):
    """The SQL store in /api/health: `available` false while the database is away (the hub then
    pages from memory and acks nothing until it returns)."""

    url: str = Field(description="the store's URL without credentials")
    available: bool
    error: str | None = None
    alerts_unsaved: int = Field(default=0, description="alerts the alert writer keeps and retries")


class IngestHealth(BaseModel):
    """Whether ingest keeps up: the oldest message waiting for its PUBACK, queues, dead letters."""

    oldest_unacked_seconds: float
    queue_depth: int
    log_backlog: int
    workers_alive: bool
    dead_letters: int = Field(description="held in the dead-letter store (data_dir/deadletters.sqlite)")
    dead_lettered: int = Field(description="new dead letters since start")
    dead_letter_resends: int = Field(description="resends of dead-lettered messages PUBACKed and dropped since start")
    dead_letter_write_failures: int


class HubPeer(BaseModel):
    """One hub's retained presence as this hub last saw it (issue 13)."""

    state: Literal["online", "offline"]
    since: datetime = Field(description="when this hub saw the state change")
    version: str | None = None


class HealthOut(BaseModel):
    """GET /api/health: `status` is "degraded" while ingest lags or the database is away."""

    status: Literal["ok", "degraded"]
    ingest: IngestHealth
    version: str
    mqtt_connected: bool = Field(description="the hub's session to at least one broker is up")
    brokers: dict[str, bool] = Field(description="every broker of the sector (host:port) and whether the hub is on it")
    posts: int
    posts_online: int
    events_accepted: int
    events_duplicate: int
    rejected: dict[str, int] = Field(description="messages refused, by reason code (docs/protocol.md)")
    seq_gaps: dict[str, int] = Field(description="per post: seq numbers never received (lost events)")
    clock_skewed: dict[str, int] = Field(description="per post: events stored with a post clock far from the hub's")
    log_backlog: int
    store_damaged: list[str] = Field(description="damaged data files found and set aside, with what was done")
    database: DatabaseHealth | None = Field(description="the SQL store; null when the hub runs on another store")
    hub_id: str = Field(description="this hub's id (settings hub_id)")
    hubs: dict[str, HubPeer] = Field(
        description="every hub seen on the broker, this one included, by hub id (kamling/v1/_hub/<id>/status)"
    )


# -- every other JSON route (issue 16): posts, alert actions, admin, auth, roster, ronda, sambang, lapor, reports --
# Values the hub validated on the way in (settings, roster entries, accounts, its own counters) are typed;
# values a post sent or an old store may hold are Any, documented by their description.


class Removed(BaseModel):
    """What a DELETE answers: the id that is gone."""

    removed: str


class OpenAlertSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: Any
    kind: Any
    severity: Any
    state: Any


class PostOut(BaseModel):
    """A post with its live state (hub/web/views.py post_view): its settings, then what it last reported.
    `error` (extra) marks a post that could not be shown; further settings fields pass through."""

    model_config = ConfigDict(extra="allow")

    device_id: Any = Field(description="the post's device id")
    name: Any
    village: Any
    lat: Any = Field(description="latitude (WGS84) or null")
    lon: Any = Field(description="longitude (WGS84) or null")
    online: bool | None = Field(description="null: the post has not been heard from since the hub started")
    last_seen: Any = Field(description="ISO-8601 time the hub last heard the post, or null")
    status_since: Any = Field(description="ISO-8601 time of the last online/offline change, or null")
    version: Any = Field(description="software version the post reports (as sent)")
    health: Any = Field(description="the post's last health telemetry, as sent (JSON-safe): an object")
    last_seq: Any = Field(description="the last event sequence number received")
    seq_gaps: Any = Field(description="sequence numbers never received (lost events)")
    camera: str | None = Field(description="camera state from the health telemetry, or null")
    open_alerts: list[Any] = Field(description="ids of the post's open alerts, newest first")
    open_alert_summaries: list[OpenAlertSummary]


class UserOut(BaseModel):
    username: str
    role: str
    created_at: Any = Field(description="ISO-8601, as stored")
    disabled: bool


class UserCreated(BaseModel):
    username: str
    role: str


class UserState(BaseModel):
    username: str
    disabled: bool


class AuditEntryOut(BaseModel):
    """One audit record; every field as stored (the log is append-only and read back as written)."""

    model_config = ConfigDict(extra="allow")

    ts: Any = None
    actor: Any = None
    action: Any = None
    target: Any = None
    ok: Any = None
    client: Any = None
    detail: Any = None


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    key: str
    at: str = Field(description="ISO-8601, hub clock")
    device: str | None
    topic: str
    event_id: str | None
    reason: str
    error_class: str
    error: str
    payload: str = Field(description="UTF-8 text, or base64 when payload_encoding is base64")
    payload_encoding: str
    payload_size: int = Field(description="bytes received")
    payload_truncated: bool
    resends: int
    durable: bool


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    total: int
    limit: int
    offset: int
    evicted: int = Field(description="oldest letters dropped to stay within dead_letter_max")
    resends: int = Field(description="copies of dead letters received and not stored again")


class CameraOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    description: str


class DeviceOut(BaseModel):
    """A provisioned device (no secrets: the broker keeps only a hash)."""

    model_config = ConfigDict(extra="allow")

    device_id: str
    name: str
    village: str
    lat: float | None
    lon: float | None
    cameras: list[CameraOut]
    status: str = Field(description="active or decommissioned")
    created_at: str
    credential_issued_at: str
    revoked_at: str | None
    client_cert_serial: str | None


class DeviceUnblocked(BaseModel):
    device_id: str
    blocked: bool


class DevicesReloaded(BaseModel):
    added: list[str] = Field(description="devices new or changed in the devices file")
    removed: list[str]


class LoginOut(BaseModel):
    username: str
    role: str
    csrf_token: str = Field(description="send as X-CSRF-Token on every unsafe request of this session")


class LogoutOut(BaseModel):
    status: str


class MeOut(BaseModel):
    username: str
    role: str
    villages: list[str] = Field(default_factory=list, description="the villages this account is limited to; empty: all")
    csrf_token: str | None = Field(description="null for a bearer token (no session)")


class OfficerOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    rank: str
    villages: list[str]
    urls: list[str] = Field(description="contact channels, redacted (the secrets are never listed)")
    language: str
    level: int
    always_on_duty: bool
    active: bool


class ShiftOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    officer_id: str
    weekday: int = Field(description="0 Monday .. 6 Sunday (day the shift starts)")
    start: str = Field(description="local time, HH:MM:SS")
    end: str = Field(description="local time, HH:MM:SS; not after start: the next day")


class OverrideOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    officer_id: str
    kind: str = Field(description="off (leave) or on (extra duty)")
    start: str = Field(description="ISO-8601 with offset")
    end: str = Field(description="ISO-8601 with offset, exclusive")
    note: str


class RosterOut(BaseModel):
    officers: list[OfficerOut]
    shifts: list[ShiftOut]
    overrides: list[OverrideOut]
    fallback: OfficerOut | None = Field(description="the Polsek duty desk, paged when no one else is")
    timezone: str


class OnDutyOfficer(BaseModel):
    id: str
    name: str
    rank: str
    level: int
    rostered: bool = Field(description="on a shift or an extra duty at that time (else always on duty)")


class OnDutyOut(BaseModel):
    device: str
    village: str
    at: str = Field(description="ISO-8601")
    chain: list[list[OnDutyOfficer]] = Field(description="escalation levels in order, each the officers paged together")


class GuardOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    device: str
    phone: str | None
    card_id: str | None
    nights: list[int] = Field(description="weekdays the guard's night starts, 0 Monday")
    active: bool


class GuardChangeOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    guard_id: str
    night: str = Field(description="local date the night starts, YYYY-MM-DD")
    kind: str = Field(description="on (extra night) or off (away)")
    note: str


class RondaHoursOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    village: str
    start: str = Field(description="local time, HH:MM:SS")
    end: str = Field(description="local time, HH:MM:SS; not after start: the next morning")
    round_minutes: int
    grace_minutes: int


class RondaRosterOut(BaseModel):
    guards: list[GuardOut]
    changes: list[GuardChangeOut]
    hours: list[RondaHoursOut]
    timezone: str


class CheckinOut(BaseModel):
    at: str = Field(description="ISO-8601")
    source: str = Field(description="button or card")
    card: Any = Field(description="the card number the post read, or null")
    guard_id: str | None
    guard_name: str | None
    unknown_card: bool
    counted: bool = Field(description="inside the ronda hours")


class PostTonightOut(BaseModel):
    device: str
    name: str
    village: str
    night: str = Field(description="local date the night starts, YYYY-MM-DD")
    hours: str = Field(description="e.g. 22:00-04:00")
    expected: list[str] = Field(description="names of tonight's guards")
    checkins: list[CheckinOut]
    last_checkin: CheckinOut | None
    missed_rounds: int
    unstaffed: bool = Field(description="the post is unstaffed now (Pos kosong)")


class RondaTonightOut(BaseModel):
    timezone: str
    posts: list[PostTonightOut]


class VisitOut(BaseModel):
    id: str
    post: str
    officer: str
    officer_name: str
    at: str = Field(description="ISO-8601")
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    distance_m: float | None = Field(description="from the post, when both positions are known")
    flag: str | None = Field(description="why the visit needs a look (far, no location), or null")
    note: str
    photo: bool
    via: str = Field(description="how the officer was recognised: session or link")


class ResidentReportOut(BaseModel):
    id: str
    post: str
    at: str = Field(description="ISO-8601")
    category: str
    text: str
    phone: str | None
    lat: float | None
    lon: float | None
    location_shared: bool
    photo: bool
    alert_id: str
    outcome: str | None = Field(description="escalated, false_report, closed; null while its alert is open")
    closed_at: str | None
    closed_by: str | None


class ReportCounts(BaseModel):
    """Residents' reports by outcome; further outcomes pass through as counts of their own."""

    model_config = ConfigDict(extra="allow")

    open: int
    escalated: int
    false_report: int
    closed: int
    total: int


class AlertTimesRow(BaseModel):
    """One alert in the report; fields copied from the stored alert are as stored (JSON-safe)."""

    model_config = ConfigDict(extra="allow")

    alert_id: Any
    device: Any
    post: Any
    village: Any
    kind: Any
    severity: Any
    test: Any
    opened_at: Any = Field(description="ISO-8601")
    state: Any
    acknowledged_by: Any
    ack_channel: Any
    escalation_level: Any
    time_to_ack: float | None = Field(description="seconds")
    time_to_resolve: float | None = Field(description="seconds")
    outcome: Any


class SummaryRow(BaseModel):
    """Counts and times (seconds) of one group; the group's key is `device`, `village` or `officer`."""

    model_config = ConfigDict(extra="allow")

    alerts: int
    acknowledged: int
    resolved: int
    escalated: int
    real: int
    false_alarm: int
    tta_mean: float | None
    tta_median: float | None
    tta_max: float | None
    ttr_mean: float | None
    ttr_median: float | None
    ttr_max: float | None


class PostSummaryRow(SummaryRow):
    device: Any


class VillageSummaryRow(SummaryRow):
    village: Any


class OfficerSummaryRow(SummaryRow):
    officer: Any


class WeeklyRow(BaseModel):
    """Incidents per post per ISO week (local time), with counts by kind."""

    model_config = ConfigDict(extra="allow")

    week: str = Field(description="e.g. 2026-W48")
    device: Any
    post: Any
    village: Any
    incidents: int
    real: int
    panic: int
    tamper: int
    offline: int
    camera: int
    motion: int


class AlertReport(BaseModel):
    model_config = ConfigDict(extra="allow")

    alerts: list[AlertTimesRow]
    per_post: list[PostSummaryRow]
    per_village: list[VillageSummaryRow]
    per_officer: list[OfficerSummaryRow]
    weekly: list[WeeklyRow]
