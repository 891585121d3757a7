"""Hub settings: one validated object from a YAML/TOML file, overridable by environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from kamling.configfile import ConfigError, format_validation_error, known_time_zone, read_mapping
from kamling.protocol import DEVICE_ID_PATTERN

Language = Literal["id", "en"]
Role = Literal["viewer", "operator", "technician", "admin"]


# Sections that a room of the hub reads on its own (the alerting rules, the ingest rate limit).


class EscalationRule(BaseModel):
    """Who is alerted for one kind of alert, and how hard the hub insists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    page: bool = Field(default=True, description="page anyone at all for this kind (false: dashboard only)")
    levels: int = Field(default=3, ge=1, le=9, description="how many steps of the duty chain may be paged")
    after: float | None = Field(
        default=60.0, gt=0, description="seconds without acknowledgement before the next step or a reminder; null: page once"
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
        default=True, description="count firmware throttling / soft temperature limit / frequency capping as overheating"
    )
    under_voltage: bool = Field(default=True, description="warn while the Pi reports under-voltage")
    disk_free_pct: float = Field(default=5.0, ge=0, le=100, description="warn when free disk is below this percentage")
    disk_free_mb: float = Field(default=200.0, ge=0, description="warn when free disk is below this many megabytes")
    camera_min_fps: float = Field(
        default=0.0, ge=0, description="a camera reporting fps at or below this (or null) is stalled"
    )
    outbox_drops: bool = Field(default=True, description="warn when the post's outbox dropped events since its last report")


class RateLimitSettings(BaseModel):
    """Token-bucket sizes: `rate` tokens per second, bursts up to `burst`."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(default=20.0, gt=0, description="sustained messages per second per device (non-panic)")
    burst: float = Field(default=200.0, ge=1, description="burst of non-panic messages a device may send at once")
    panic_rate: float = Field(default=5.0, gt=0, description="sustained panic events per second per device")
    panic_burst: float = Field(default=100.0, ge=1, description="burst of panic events a device may send at once")
    max_devices: int = Field(default=10_000, ge=1, description="most devices tracked (bounded memory)")
    quarantine_after: float = Field(
        default=1.0, ge=0,
        description="seconds a device must stay over its limit before a flood alert and a block (hub/ingest/quarantine.py); 0: never",
    )
    quarantine_min_rejected: int = Field(
        default=500, ge=1, description="messages that must be dropped in that time, so a slightly fast device is only throttled"
    )
    quarantine_block: bool = Field(
        default=True,
        description="block a flooding device at the broker when provisioning manages its files (provisioning.broker_dir/passwd); false: alert only",
    )


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
        default=Path("/etc/poskamling/ca.crt"), description="CA path on the post, written into edge configs; null: no TLS"
    )
    output_dir: Path | None = Field(default=None, description="where edge configs are written; default <data_dir>/provisioned")
    ca_dir: Path | None = Field(default=None, description="the hub's certificate authority; default <data_dir>/pki")
    monitor_users: list[str] = Field(default_factory=list, description="read-only broker users (diagnostics)")


class HubSettings(BaseSettings):
    """Everything the hub needs; env vars POSKAMLING_HUB_<FIELD> override the file."""

    model_config = SettingsConfigDict(env_prefix="POSKAMLING_HUB_", env_nested_delimiter="__", extra="forbid")

    mqtt_host: str = Field(default="127.0.0.1", description="broker host")
    mqtt_port: int = Field(default=1883, ge=1, le=65535, description="broker port")
    mqtt_username: str = Field(default="poskamling-hub", description="the hub's broker user")
    mqtt_password: SecretStr = Field(description="the hub's broker password (no default)")
    mqtt_client_id: str = Field(default="poskamling-hub", description="stable id: keeps the persistent session")
    mqtt_session_expiry: int = Field(default=7 * 24 * 3600, ge=60, description="seconds the broker keeps our session")
    mqtt_tls_ca: Path | None = Field(default=None, description="CA certificate of the broker; enables TLS")
    data_dir: Path = Field(default=Path("/var/lib/poskamling/hub"), description="event log, alerts, snapshots")
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
    login_max_failures: int = Field(default=5, ge=1, description="failed logins per user or client address before a lockout")
    login_lockout_seconds: float = Field(default=60.0, gt=0, description="first lockout; doubles each time, up to an hour")
    audit_file: Path | None = Field(default=None, description="append-only audit log (JSON lines); default <data_dir>/audit.jsonl")
    provisioning: ProvisioningSettings = Field(
        default_factory=ProvisioningSettings, description="device provisioning: broker files, reload, edge configs"
    )
    session_idle_minutes: int = Field(default=12 * 60, ge=5, description="dashboard logins expire after this idle time")
    max_batch: int = Field(default=500, ge=1, description="most events per event-log commit")
    snapshot_max_files: int = Field(
        default=10_000, ge=1, description="camera snapshots kept (JPEG files under data_dir/snapshots); oldest go first"
    )
    snapshot_max_mb: float = Field(default=2048.0, gt=0, description="disk budget of the camera snapshots in MB")
    map_tile_url: str | None = Field(
        default=None,
        description="optional raster tile URL for the dashboard map, e.g. http://tiles.lan/{z}/{x}/{y}.png; none: no tiles",
    )
    offline_grace: float = Field(default=0.0, ge=0, description="seconds an offline post may stay offline before an alert")
    alert_rules: dict[Literal["panic", "tamper", "offline", "camera", "motion", "health", "flood"], EscalationRule] = Field(
        default_factory=dict, description="per alert kind: who is paged and the escalation timing (defaults in hub/alerting/escalation.py)"
    )
    ack_link_secret: SecretStr | None = Field(
        default=None, description="HMAC secret of acknowledgement links; unset: generated in data_dir/ack_link.key (0600)"
    )
    ack_link_ttl: float = Field(default=12 * 3600, gt=0, description="seconds an acknowledgement link stays valid")
    pager_process: bool = Field(
        default=True,
        description="send pages from a child process (hub/paging/worker.py), so they never wait for the hub's own work",
    )
    health: HealthThresholds = Field(
        default_factory=HealthThresholds, description="when posts' health telemetry raises a warning alert (hub/alerting/health_rules.py)"
    )
    metrics_token_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 hex of a bearer token that may read /metrics only (for Prometheus); unset: a viewer role is needed",
    )
    home_assistant_discovery: bool = Field(
        default=False, description="publish Home Assistant MQTT discovery configs for every post (broker ACL must allow it)"
    )
    home_assistant_prefix: str = Field(default="homeassistant", description="Home Assistant's MQTT discovery prefix")

    _known_zone = field_validator("timezone")(known_time_zone)

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
