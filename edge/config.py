"""Edge agent configuration: validated at start-up, errors name the file and the field."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from edge.camera.config import CameraConfig
from kamling.configfile import known_time_zone, load_model
from kamling.mqtt import BrokerEndpoint
from kamling.protocol import DEVICE_ID_PATTERN


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrokerAddress(_Section):
    """Another broker of the sector, tried when the first one cannot be reached (issue 13)."""

    host: str = Field(min_length=1, description="broker host name or address")
    port: int = Field(default=1883, ge=1, le=65535, description="broker port (8883 for TLS)")


class MqttConfig(_Section):
    host: str = Field(description="broker host name or address (the first choice)")
    port: int = Field(default=1883, ge=1, le=65535, description="broker port (8883 for TLS)")
    failover: list[BrokerAddress] = Field(
        default_factory=list,
        max_length=8,
        description="further brokers, tried in this order when the one before cannot be reached; same "
        "credentials and TLS settings. The post returns to `host` as soon as it answers again",
    )
    failover_after: int = Field(
        default=2, ge=1, le=100, description="failed connection attempts to one broker before trying the next"
    )
    primary_retry: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="seconds between checks whether `host` is back, while connected to a failover broker",
    )
    username: str | None = Field(default=None, description="broker user; defaults to the device id")
    password: SecretStr = Field(description="the device's broker password (from `poskamling device add`)")
    keepalive: int = Field(
        default=5,
        ge=2,
        le=10,
        description="MQTT keepalive in seconds (10 or less); 5 lets Mosquitto 2.0 notice a cut link within ~12 s",
    )
    tls_ca: Path | None = Field(default=None, description="CA certificate to verify the broker (enables TLS)")
    tls_cert: Path | None = Field(default=None, description="client certificate, when the broker asks for one")
    tls_key: Path | None = Field(default=None, description="client private key for tls_cert")
    reconnect_min: float = Field(default=0.5, gt=0, description="first reconnect delay in seconds")
    reconnect_max: float = Field(default=30.0, gt=0, description="longest reconnect delay in seconds")


class ButtonConfig(_Section):
    pin: int | str = Field(description="GPIO of the panic button (BCM number or name like 'GPIO17')")
    pull_up: bool = Field(default=True, description="button wired to ground with the internal pull-up")
    bounce_time: float | None = Field(default=0.05, ge=0, description="debounce in seconds")
    hold_time: float = Field(
        default=0.0, ge=0, le=10, description="hold-to-confirm seconds; 0 sends on the first press"
    )


class CheckinButtonConfig(_Section):
    """The green "Lapor ronda" button: a guard on the night watch reports that the post is staffed."""

    pin: int | str = Field(
        description="GPIO of the check-in button (BCM number or name like 'GPIO5'); not the panic pin"
    )
    pull_up: bool = Field(default=True, description="button wired to ground with the internal pull-up")
    bounce_time: float | None = Field(default=0.05, ge=0, description="debounce in seconds")
    min_interval: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="seconds after a check-in in which further presses are ignored: a held, bouncing or "
        "pressed-twice button gives one check-in",
    )


class RfidConfig(_Section):
    """A USB 125 kHz card reader that types the card number like a keyboard (read with python-evdev)."""

    device: Path = Field(
        description="its input device, e.g. /dev/input/by-id/usb-<reader>-event-kbd (stable across reboots)"
    )
    grab: bool = Field(
        default=True, description="take the reader for this agent alone, so numbers are not typed on a console"
    )
    min_interval: float = Field(default=30.0, ge=0, le=3600, description="seconds in which the same card counts once")


class OutputConfig(_Section):
    pin: int | str = Field(description="GPIO driving the output")
    active_high: bool = Field(default=True, description="output is on when the pin is high")


class BuzzerConfig(OutputConfig):
    silent_panic: bool = Field(default=False, description="do not sound the buzzer on a panic press")
    alarm_seconds: float = Field(default=5.0, ge=0, le=600, description="how long the buzzer sounds on a press")


class EdgeConfig(_Section):
    device_id: str = Field(pattern=DEVICE_ID_PATTERN, description="this device's id, as provisioned at the hub")
    mqtt: MqttConfig
    panic_button: ButtonConfig = Field(description="the panic button input")
    tamper_switch: ButtonConfig | None = Field(default=None, description="optional enclosure tamper switch")
    checkin_button: CheckinButtonConfig | None = Field(
        default=None, description='optional green "Lapor ronda" button: the ronda guard checks in (a checkin event)'
    )
    rfid: RfidConfig | None = Field(
        default=None, description="optional USB 125 kHz card reader: the guard's card identifies who checked in"
    )
    status_led: OutputConfig | None = Field(default=None, description="status LED: connection and alert state")
    buzzer: BuzzerConfig | None = Field(default=None, description="local buzzer or siren")
    data_dir: Path = Field(default=Path("/var/lib/poskamling"), description="outbox and state folder")
    outbox_max_mb: float = Field(default=64.0, gt=0, description="disk budget of the event outbox")
    ack_timeout: float = Field(default=5.0, gt=0, description="resend an event not acked within this many seconds")
    timezone: str = Field(
        default="Asia/Jakarta", description="IANA zone of the post: armed hours and day/night profiles use it"
    )
    health_interval: float = Field(default=60.0, gt=0, description="seconds between health telemetry messages")
    cameras: list[CameraConfig] = Field(
        default_factory=list, description="CCTV cameras watched for motion and tamper (edge/camera/config.py)"
    )

    @field_validator("cameras")
    @classmethod
    def _unique_camera_names(cls, value: list[CameraConfig]) -> list[CameraConfig]:
        names = [camera.name for camera in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"camera names must be unique; repeated: {', '.join(duplicates)}")
        return value

    _known_zone = field_validator("timezone")(known_time_zone)

    @model_validator(mode="after")
    def _pins_not_shared(self) -> EdgeConfig:
        # A check-in button wired to the panic pin would page the police for every round.
        used: dict[str, str] = {}
        for name in ("panic_button", "tamper_switch", "checkin_button", "status_led", "buzzer"):
            section = getattr(self, name)
            if section is None:
                continue
            pin = str(section.pin).upper().removeprefix("GPIO").removeprefix("BCM")
            if pin in used:
                raise ValueError(f"{name}.pin {section.pin} is already used by {used[pin]}")
            used[pin] = name
        return self

    @property
    def mqtt_username(self) -> str:
        return self.mqtt.username or self.device_id

    @property
    def broker_addresses(self) -> list[tuple[str, int]]:
        """Every broker this post may use, in order of preference (`mqtt.host` first, then `failover`)."""
        return [(self.mqtt.host, self.mqtt.port)] + [(b.host, b.port) for b in self.mqtt.failover]

    @property
    def broker_endpoint(self) -> BrokerEndpoint:
        """Where and as whom this device connects (agent and doctor alike)."""
        return BrokerEndpoint(
            host=self.mqtt.host,
            port=self.mqtt.port,
            username=self.mqtt_username,
            password=self.mqtt.password.get_secret_value(),
            tls_ca=self.mqtt.tls_ca,
            tls_cert=self.mqtt.tls_cert,
            tls_key=self.mqtt.tls_key,
        )


def load_edge_config(path: Path) -> EdgeConfig:
    return load_model(EdgeConfig, path)
