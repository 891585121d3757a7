"""Hub settings: one validated object from a YAML/TOML file, overridable by environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from kamling.configfile import ConfigError, format_validation_error, known_time_zone, read_mapping
from kamling.protocol import DEVICE_ID_PATTERN, EventKind

Language = Literal["id", "en"]
Role = Literal["viewer", "operator", "technician", "admin"]


# Sections that a room of the hub reads on its own (the alerting rules, the ingest rate limit).


class EscalationRule(BaseModel):
    """Who is alerted for one kind of alert, and how hard the hub insists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    page: bool = Field(default=True, description="page anyone at all for this kind (false: dashboard only)")
    levels: int = Field(default=3, ge=1, le=9, description="how many steps of the duty chain may be paged")
    after: float | None = Field(
        default=60.0,
        gt=0,
        description="seconds without acknowledgement before the next step or a reminder; null: page once",
    )
    remind: bool = Field(default=True, description="remind those already paged at each later step")


class HealthThresholds(BaseModel):
    """When a post's health telemetry raises a warning alert (hub setting `health`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="raise warning alerts from posts' health telemetry")
    cpu_temp_warn_c: float = Field(
        default=80.0, gt=0, le=150, description="CPU temperature (Celsius) at or above which a post is overheating"
    )
    throttle_is_overheating: bool = Field(
        default=True,
        description="count firmware throttling / soft temperature limit / frequency capping as overheating",
    )
    under_voltage: bool = Field(default=True, description="warn while the Pi reports under-voltage")
    disk_free_pct: float = Field(default=5.0, ge=0, le=100, description="warn when free disk is below this percentage")
    disk_free_mb: float = Field(default=200.0, ge=0, description="warn when free disk is below this many megabytes")
    camera_min_fps: float = Field(
        default=0.0, ge=0, description="a camera reporting fps at or below this (or null) is stalled"
    )
    outbox_drops: bool = Field(
        default=True, description="warn when the post's outbox dropped events since its last report"
    )


class RateLimitSettings(BaseModel):
    """Token-bucket sizes: `rate` tokens per second, bursts up to `burst`."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(default=20.0, gt=0, description="sustained messages per second per device (non-panic)")
    burst: float = Field(default=200.0, ge=1, description="burst of non-panic messages a device may send at once")
    panic_rate: float = Field(default=5.0, gt=0, description="sustained panic events per second per device")
    panic_burst: float = Field(default=100.0, ge=1, description="burst of panic events a device may send at once")
    max_devices: int = Field(default=10_000, ge=1, description="most devices tracked (bounded memory)")
    quarantine_after: float = Field(
        default=1.0,
        ge=0,
        description="seconds a device must stay over its limit before a flood alert and a block (hub/ingest/quarantine.py); 0: never",
    )
    quarantine_min_rejected: int = Field(
        default=500,
        ge=1,
        description="messages that must be dropped in that time, so a slightly fast device is only throttled",
    )
    quarantine_block: bool = Field(
        default=True,
        description="block a flooding device at the broker when provisioning manages its files (provisioning.broker_dir/passwd); false: alert only",
    )


class LoginSettings(BaseModel):
    """Login throttling (hub/accounts/auth.py, docs/security.md "Hostile posts and strangers").

    Guessing is slowed, never turned into a lockout: each failure past the free ones makes the
    next attempt wait longer, up to a small cap, and a browser or address the operator has
    logged in from before is not held up by a stranger's failures on the same account.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_free_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="failed logins on one user name (from unknown sources) before each further attempt must wait",
    )
    account_base_delay: float = Field(
        default=1.0, gt=0, le=60, description="first wait in seconds on an account; doubles per failure"
    )
    account_max_delay: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="longest wait in seconds between guesses on one account: a slowdown, never a lockout",
    )
    address_free_failures: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="failed logins from one client address (any user name; IPv6 per /64) before that address must wait",
    )
    address_base_delay: float = Field(
        default=1.0, gt=0, le=60, description="first wait in seconds for an address; doubles per failure"
    )
    address_max_delay: float = Field(
        default=300.0, gt=0, le=3600, description="longest wait in seconds for one guessing address"
    )
    forget_after: float = Field(
        default=900.0,
        gt=0,
        description="seconds without a failure after which an account's or address's failures are forgotten",
    )
    known_addresses: int = Field(
        default=16,
        ge=0,
        le=256,
        description="addresses remembered per user after a successful login; from them the account's wait does not apply",
    )
    device_cookie_days: float = Field(
        default=180.0,
        ge=0,
        description="days a signed 'known browser' cookie (set at a successful login) exempts that browser from the account's "
        "and its address's waits; 0: no such cookie",
    )
    device_free_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="failures with one known-browser cookie after which it no longer exempts anything",
    )


class RetentionSettings(BaseModel):
    """How long the event log keeps each kind of event (hub/storage/sql/retention.py).

    Retired events are first appended to monthly gzip JSON Lines archives (the `poskamling hub
    export` format, so `poskamling hub import` brings them back), then deleted in small batches.
    Kinds not listed, and all alerts and audit lines, are kept for good.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="retire old events at all (false: keep everything in the database)")
    event_days: dict[EventKind, float] = Field(
        default_factory=lambda: {EventKind.MOTION: 90.0},
        description="days (by the hub's receive time) each listed event kind stays in the database; unlisted kinds are kept",
    )
    archive_dir: Path | None = Field(
        default=None, description="folder of the monthly archives events-YYYY-MM.jsonl.gz; default <data_dir>/archive"
    )
    interval: float = Field(default=3600.0, ge=1, description="seconds between retention passes")
    batch: int = Field(default=500, ge=1, le=10_000, description="events archived and deleted per transaction")
    pause: float = Field(
        default=0.2,
        ge=0,
        le=60,
        description="seconds between batches, so the event-log writer is never held up for long",
    )

    @field_validator("event_days")
    @classmethod
    def _at_least_a_day(cls, value: dict[EventKind, float]) -> dict[EventKind, float]:
        for kind, days in value.items():
            if not days >= 1:  # also refuses NaN: a typo must not empty the log
                raise ValueError(f"{kind.value}: keep events at least 1 day (got {days})")
        return value


# Settings that issue 18 replaced; a file that still sets them must not start a hub that silently ignores them.
REMOVED_SETTINGS = {
    "login_max_failures": "login.account_free_failures (and login.address_free_failures)",
    "login_lockout_seconds": "login.account_max_delay (and login.address_max_delay)",
}


def refuse_removed_settings(data: Any) -> Any:
    """Refuse the old lockout settings by name, with what replaces them (file, init arguments or environment)."""
    if isinstance(data, dict):
        used = [name for name in REMOVED_SETTINGS if name in data]
        used += [
            name for name in REMOVED_SETTINGS if f"POSKAMLING_HUB_{name.upper()}" in os.environ and name not in used
        ]
        if used:
            hints = "; ".join(f"{name} -> {REMOVED_SETTINGS[name]}" for name in used)
            raise ValueError(
                f"removed setting(s): {hints}. Logins are no longer locked out but slowed "
                "(a stranger could lock an operator out); see docs/security.md"
            )
    return data


def plain_tile_url(value: str | None) -> str | None:
    """Validator: the map tile URL is http(s) with a plain host, so its origin can go into the dashboard's CSP img-src."""
    if value is None:
        return None
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or any(c in parts.netloc for c in " ;,'\"{}*"):
        raise ValueError("map_tile_url must be an http(s) URL with a plain host, e.g. http://tiles.lan/{z}/{x}/{y}.png")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PostSettings(_Section):
    device_id: str = Field(pattern=DEVICE_ID_PATTERN, description="the device id of the post's edge agent")
    name: str = Field(min_length=1, description="post name shown to people, e.g. 'Pos Kamling RW 05'")
    village: str = Field(default="", description="desa/kelurahan the post belongs to")
    lat: float | None = Field(default=None, ge=-90, le=90, description="latitude, WGS84")
    lon: float | None = Field(default=None, ge=-180, le=180, description="longitude, WGS84")


class OfficerSettings(_Section):
    name: str = Field(min_length=1, description="officer name, e.g. 'Aiptu Budi'")
    urls: list[SecretStr] = Field(min_length=1, description="apprise URLs: tgram://, whatsapp://, mailto://, json://")
    villages: list[str] = Field(default_factory=list, description="villages covered; empty means all")
    language: Language = Field(default="id", description="language of this officer's messages")
    rank: str = Field(default="", description="rank or role, e.g. 'Bhabinkamtibmas', 'Kanit Binmas', 'Kapolsek'")
    level: int = Field(default=1, ge=1, le=9, description="escalation level: 1 first paged, 2 next, ...")


class ApiTokenSettings(_Section):
    name: str = Field(description="who or what uses the token")
    role: Role = Field(description="what the token may do")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 hex digest of the token (never the token)")
    villages: list[str] = Field(
        default_factory=list, max_length=200, description="desa/kelurahan this token is limited to; empty: all"
    )


class ProvisioningSettings(_Section):
    """Where `poskamling device ...` writes broker credentials and how it reloads the broker."""

    broker_dir: Path = Field(
        default=Path("/etc/mosquitto/poskamling"), description="folder of the broker's passwd and acl files"
    )
    reload_command: list[str] = Field(
        default_factory=list,
        description="command that reloads the broker, e.g. [systemctl, reload, mosquitto]; empty: SIGHUP to pid_file",
    )
    pid_file: Path = Field(default=Path("/run/mosquitto/mosquitto.pid"), description="the broker's pid file")
    edge_mqtt_host: str = Field(default="", description="broker host name posts connect to; empty: the hub's mqtt_host")
    edge_mqtt_port: int = Field(default=8883, ge=1, le=65535, description="broker port posts connect to (8883: TLS)")
    edge_tls_ca: Path | None = Field(
        default=Path("/etc/poskamling/ca.crt"),
        description="CA path on the post, written into edge configs; null: no TLS",
    )
    output_dir: Path | None = Field(
        default=None, description="where edge configs are written; default <data_dir>/provisioned"
    )
    ca_dir: Path | None = Field(default=None, description="the hub's certificate authority; default <data_dir>/pki")
    monitor_users: list[str] = Field(default_factory=list, description="read-only broker users (diagnostics)")


class BrokerAddress(_Section):
    """Another broker of the sector (issue 13): the hub connects to it as well, with the same account."""

    host: str = Field(min_length=1, description="broker host name or address")
    port: int = Field(default=1883, ge=1, le=65535, description="broker port")


class HubSettings(BaseSettings):
    """Everything the hub needs; env vars POSKAMLING_HUB_<FIELD> override the file."""

    model_config = SettingsConfigDict(env_prefix="POSKAMLING_HUB_", env_nested_delimiter="__", extra="forbid")

    mqtt_host: str = Field(default="127.0.0.1", description="broker host")
    mqtt_port: int = Field(default=1883, ge=1, le=65535, description="broker port")
    mqtt_username: str = Field(default="poskamling-hub", description="the hub's broker user")
    mqtt_password: SecretStr = Field(description="the hub's broker password (no default)")
    mqtt_client_id: str = Field(default="poskamling-hub", description="stable id: keeps the persistent session")
    mqtt_session_expiry: int = Field(default=7 * 24 * 3600, ge=60, description="seconds the broker keeps our session")
    command_ttl: float = Field(
        default=120.0,
        ge=1,
        le=86400,
        description="seconds a command to a post stays valid (an offline post gets it on return only within them)",
    )
    mqtt_tls_ca: Path | None = Field(default=None, description="CA certificate of the broker; enables TLS")
    mqtt_other_brokers: list[BrokerAddress] = Field(
        default_factory=list,
        max_length=8,
        description="the sector's other brokers (posts fail over to them): the hub connects to every one, "
        "with the same account and TLS settings as mqtt_host",
    )
    sector_lost_after: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="seconds a broker of the sector may be out of the hub's reach, or a peer hub offline, "
        "before the duty desk is paged (broker_lost, peer_hub_lost)",
    )
    broker_loss_grace: float = Field(
        default=30.0,
        ge=0,
        le=600,
        description="seconds a post that was on a broker whose connection the hub lost may take to show up on "
        "another broker before its offline alert (its own Last Will, a real disappearance, alerts at once)",
    )
    hub_id: str = Field(
        default="hub",
        pattern=DEVICE_ID_PATTERN,
        description="this hub's name in its retained presence topic kamling/v1/_hub/<hub_id>/status; "
        "unique per hub when several hubs serve a sector",
    )
    data_dir: Path = Field(default=Path("/var/lib/poskamling/hub"), description="event log, alerts, snapshots")
    database_url: str | None = Field(
        default=None,
        pattern=r"^(sqlite|postgresql|postgres)://",
        description="the SQL store of the event log: sqlite:////path/hub.db (default: <data_dir>/hub.db) or "
        "postgresql://user@host/db when one machine is not enough",
    )
    http_host: str = Field(default="127.0.0.1", description="address the web server binds")
    http_port: int = Field(default=8000, ge=1, le=65535, description="web server port")
    public_url: str = Field(default="http://127.0.0.1:8000", description="base URL people reach the hub at")
    language: Language = Field(default="id", description="default language of messages and dashboard")
    timezone: str = Field(default="Asia/Jakarta", description="IANA zone for local times (WIB/WITA/WIT)")
    posts: list[PostSettings] = Field(default_factory=list, description="the posts (devices) this hub serves")
    officers: list[OfficerSettings] = Field(default_factory=list, description="who is paged for which villages")
    fallback_urls: list[SecretStr] = Field(default_factory=list, description="duty desk, paged when no officer matches")
    api_tokens: list[ApiTokenSettings] = Field(default_factory=list, description="API bearer tokens (hashed)")
    rate_limit: RateLimitSettings = Field(
        default_factory=RateLimitSettings, description="per-device ingest rate limits (token buckets)"
    )
    login: LoginSettings = Field(
        default_factory=LoginSettings,
        description="login throttling: slows guessing per account and per address, never locks an operator out (hub/accounts/auth.py)",
    )
    audit_file: Path | None = Field(
        default=None, description="append-only audit log (JSON lines); default <data_dir>/audit.jsonl"
    )
    provisioning: ProvisioningSettings = Field(
        default_factory=ProvisioningSettings, description="device provisioning: broker files, reload, edge configs"
    )
    session_idle_minutes: int = Field(default=12 * 60, ge=5, description="dashboard logins expire after this idle time")
    max_batch: int = Field(default=500, ge=1, description="most events per event-log commit")
    dead_letter_max: int = Field(
        default=10_000,
        ge=10,
        description="dead letters kept (messages that failed in the hub, data_dir/deadletters.sqlite); past it the oldest go",
    )
    poison_alert_count: int = Field(
        default=3,
        ge=1,
        description="dead letters from one post within poison_alert_window that raise a poison alert on it",
    )
    poison_alert_window: float = Field(
        default=600.0, gt=0, description="seconds over which a post's dead letters are counted"
    )
    ingest_degraded_after: float = Field(
        default=5.0,
        gt=0,
        description="/api/health says degraded while a message has waited this many seconds for its PUBACK",
    )
    ingest_stuck_after: float = Field(
        default=10.0,
        gt=0,
        description="seconds a message may wait for its PUBACK before the duty desk is paged (ingest stuck)",
    )
    snapshot_max_files: int = Field(
        default=10_000,
        ge=1,
        description="camera snapshots kept over all posts (JPEG files under data_dir/snapshots): the backstop behind the "
        "per-post quotas; when exceeded, the post holding the most loses its oldest first",
    )
    snapshot_max_mb: float = Field(
        default=2048.0,
        gt=0,
        description="disk budget of all camera snapshots in MB (backstop, like snapshot_max_files)",
    )
    snapshot_post_max_files: int = Field(
        default=1_000,
        ge=1,
        description="camera snapshots kept per post: a post over it evicts only its own oldest, never another post's",
    )
    snapshot_post_max_mb: float = Field(
        default=200.0, gt=0, description="disk budget of one post's camera snapshots in MB (its own oldest go first)"
    )
    snapshot_alert_keep_days: float = Field(
        default=30.0,
        ge=0,
        description="snapshots of an open alert are never evicted; after the alert closes they stay pinned this many "
        "days, then go only after the post's snapshots no alert references",
    )
    snapshot_pending_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how long a snapshot that arrived before its event waits for that event of the same post; "
        "then it is rejected (snapshot_orphan)",
    )
    snapshot_pending_per_post: int = Field(
        default=8,
        ge=1,
        description="snapshots one post may have waiting for their events (more: snapshot_pending_full)",
    )
    snapshot_pending_max_mb: float = Field(
        default=64.0, gt=0, description="memory for snapshots waiting for their events, all posts together, in MB"
    )
    map_tile_url: str | None = Field(
        default=None,
        description="optional raster tile URL for the dashboard map, e.g. http://tiles.lan/{z}/{x}/{y}.png; none: no tiles",
    )
    offline_grace: float = Field(
        default=3.0,
        ge=0,
        description="seconds an offline post may stay offline before an alert (a broker that stops sends every "
        "post's Last Will a moment before it drops the hub: hub/alerting/offline_hold.py)",
    )
    offline_hold_after_connect: float = Field(
        default=60.0,
        ge=0,
        description="seconds after the hub (re)connects to the broker during which offline statuses are held; a "
        "post still offline then gets its alert (posts reconnect within their 30 s back-off; issue 17)",
    )
    alert_rules: dict[
        Literal[
            "panic",
            "tamper",
            "offline",
            "camera",
            "motion",
            "health",
            "flood",
            "poison",
            "ingest_stuck",
            "broker_lost",
            "peer_hub_lost",
        ],
        EscalationRule,
    ] = Field(
        default_factory=dict,
        description="per alert kind: who is paged and the escalation timing (defaults in hub/alerting/escalation.py)",
    )
    ack_link_secret: SecretStr | None = Field(
        default=None,
        description="HMAC secret of acknowledgement links; unset: generated in data_dir/ack_link.key (0600)",
    )
    ack_link_ttl: float = Field(default=12 * 3600, gt=0, description="seconds an acknowledgement link stays valid")
    pager_process: bool = Field(
        default=True,
        description="send pages from a child process (hub/paging/worker.py), so they never wait for the hub's own work",
    )
    page_picture_wait_s: float = Field(
        default=2.0,
        ge=0,
        le=5,
        description=(
            "longest wait of a panic/tamper alert's first page for the camera picture at the press, sent as an"
            " attachment (issue 15); 0: never wait. Posts without a camera never wait"
        ),
    )
    health: HealthThresholds = Field(
        default_factory=HealthThresholds,
        description="when posts' health telemetry raises a warning alert (hub/alerting/health_rules.py)",
    )
    metrics_token_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 hex of a bearer token that may read /metrics only (for Prometheus); unset: a viewer role is needed",
    )
    home_assistant_discovery: bool = Field(
        default=False,
        description="publish Home Assistant MQTT discovery configs for every post (broker ACL must allow it)",
    )
    home_assistant_prefix: str = Field(default="homeassistant", description="Home Assistant's MQTT discovery prefix")
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings,
        description="event retention: per-kind days in the database, then monthly gzip archives under data_dir (default: motion 90 days)",
    )

    _known_zone = field_validator("timezone")(known_time_zone)
    _tile_url = field_validator("map_tile_url")(plain_tile_url)
    _removed = model_validator(mode="before")(refuse_removed_settings)

    @property
    def store_url(self) -> str:
        """The event log's database URL: `database_url`, else SQLite in data_dir."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'hub.db').absolute()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)  # the environment overrides the file


def load_hub_settings(path: Path | None, **overrides: Any) -> HubSettings:
    """Settings from a file (optional) and the environment; ConfigError names file and field."""
    data: dict[str, Any] = read_mapping(path) if path else {}
    data.update(overrides)
    try:
        return HubSettings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path or "environment", exc)) from None
