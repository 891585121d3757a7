"""Device provisioning: credentials in the broker's own files, the ACL, a broker reload, a
forced disconnect on revocation, and the ready-to-copy edge config. Used by
`poskamling device ...`; every change is audited.

Files (all 0600, written atomically) in `provisioning.broker_dir`:
  passwd   `user:$7$...` lines (mosquitto_passwd format); the source of truth for credentials
  acl      generated from the hub user and monitor users (kamling.broker_files.render_acl)
Mosquitto's config must point `password_file` and `acl_file` there
(firmware-config/mosquitto/ shows how).

Revocation: Mosquitto 2.0 re-reads passwd/acl on SIGHUP but keeps clients that are already
connected. The broker runs with `use_username_as_clientid true` (no device can take over
another's client id), so the client id of a device's session is its user name. To drop it we
replace the device's credential with a one-time secret, reload, connect once *as the device*
(the broker drops the old connection: session takeover), then remove the credential and
reload again. The device's reconnects are refused from the first reload on.

Blocking (`block`, flood quarantine; `unblock` by an admin): like revocation (one-time secret,
reload, kick, credential removed, reload), but reversible: the device's password hash moves from
`passwd` to `blocked` (same format, 0600, same folder) and `unblock` moves it back, so the post
reconnects with its existing credential. The device stays registered with the hub.

TLS (`add(..., tls=True)`): the device also gets a client certificate (CN = device id) signed
by the hub CA (hub/provisioning/pki.py), written next to its edge config, which then points at it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hub.provisioning.broker_files import hash_password, new_secret, render_acl, render_password_file, write_private
from hub.provisioning.devices import CameraEntry, DeviceRecord, DeviceStore
from hub.provisioning.pki import CertificateAuthority, PkiError
from hub.settings import HubSettings
from hub.storage.sql.audit import open_audit_log
from kamling.mqtt import BrokerEndpoint, make_client, reason_ok
from kamling.protocol import alarm_user, is_valid_device_id, utc_now


class ProvisionError(RuntimeError):
    """A provisioning step that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Issued:
    device: DeviceRecord
    password: str
    edge_config: Path


class BrokerNotReloaded(ProvisionError):
    """The device is saved (credential, ACL, edge config) but the broker has not applied it yet."""

    def __init__(self, issued: Issued, reason: str) -> None:
        self.issued = issued
        super().__init__(
            f"device {issued.device.device_id} is saved (edge config {issued.edge_config}), but {reason}. "
            "Reload the broker (for example `systemctl reload mosquitto`) before the post connects; "
            "`device add` again would say it exists already."
        )


def read_password_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#") and ":" in line:
            user, encoded = line.split(":", 1)
            entries[user] = encoded
    return entries


class Provisioner:
    def __init__(self, settings: HubSettings, actor: str = "cli") -> None:
        self.settings = settings
        self.p = settings.provisioning
        self.actor = actor
        self.devices = DeviceStore(settings.data_dir / "devices.json")
        self.audit = open_audit_log(settings)

    @property
    def passwd_path(self) -> Path:
        return self.p.broker_dir / "passwd"

    @property
    def blocked_path(self) -> Path:
        return self.p.broker_dir / "blocked"

    @property
    def acl_path(self) -> Path:
        return self.p.broker_dir / "acl"

    @property
    def output_dir(self) -> Path:
        return self.p.output_dir or self.settings.data_dir / "provisioned"

    @property
    def reserved_users(self) -> set[str]:
        return {self.settings.mqtt_username, alarm_user(self.settings.mqtt_username), *self.p.monitor_users}

    # -- broker files ------------------------------------------------------------------------
    def _write_broker_files(self, entries: dict[str, str]) -> None:
        hub, alarm = self.settings.mqtt_username, alarm_user(self.settings.mqtt_username)
        if hub in entries:  # the hub's alarm session logs in with the hub's password (kamling.protocol.alarm_user)
            entries[alarm] = entries[hub]
        else:
            entries.pop(alarm, None)
        self.p.broker_dir.mkdir(parents=True, exist_ok=True)
        write_private(self.passwd_path, render_password_file(entries))
        ha_prefix = self.settings.home_assistant_prefix if self.settings.home_assistant_discovery else None
        write_private(
            self.acl_path,
            render_acl(
                [self.settings.mqtt_username, alarm_user(self.settings.mqtt_username)],
                self.p.monitor_users,
                home_assistant_prefix=ha_prefix,
            ),
        )

    def _set_credential(self, user: str, password: str | None) -> None:
        entries = read_password_file(self.passwd_path)
        if password is None:
            entries.pop(user, None)
        else:
            entries[user] = hash_password(password)
        self._write_broker_files(entries)

    def reload_broker(self) -> None:
        if self.p.reload_command:
            result = subprocess.run(self.p.reload_command, capture_output=True, text=True, timeout=30)
            if result.returncode != 0:
                raise ProvisionError(
                    f"broker reload failed ({' '.join(self.p.reload_command)}): {result.stderr.strip()}"
                )
            return
        try:
            pid = int(self.p.pid_file.read_text().strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as exc:
            raise ProvisionError(
                f"cannot reload the broker via {self.p.pid_file}: {exc}; set provisioning.reload_command"
            ) from None

    def kick(self, device_id: str, password: str, timeout: float = 5.0) -> bool:
        """Connect once as the device (user name = client id) so the broker drops its live connection.

        `password` is a credential the broker has for the device right now (a one-time secret on
        revoke, the new one on rotate). Retries until the broker has applied the reload.
        """
        s = self.settings
        endpoint = BrokerEndpoint(s.mqtt_host, s.mqtt_port, device_id, password, s.mqtt_tls_ca)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            client = make_client(endpoint, device_id)
            result: dict[str, Any] = {}
            client.on_connect = lambda _c, _u, _f, rc, _p, result=result: result.setdefault("ok", reason_ok(rc))
            try:
                client.connect(s.mqtt_host, s.mqtt_port, keepalive=10, clean_start=True)
            except OSError:
                return False
            client.loop_start()
            while "ok" not in result and time.monotonic() < deadline:
                time.sleep(0.01)
            client.disconnect()
            client.loop_stop()
            if result.get("ok"):
                return True
            time.sleep(0.05)  # SIGHUP is applied by the broker's next loop turn: try again
        return False

    # -- devices ---------------------------------------------------------------------------
    def add(
        self,
        device_id: str,
        name: str,
        village: str = "",
        lat: float | None = None,
        lon: float | None = None,
        cameras: list[str] | None = None,
        reload: bool = True,
        tls: bool = False,
        edge_tls_dir: Path = Path("/etc/poskamling/tls"),
    ) -> Issued:
        if not is_valid_device_id(device_id):
            raise ProvisionError(
                f"invalid device id {device_id!r}: lower-case letters, digits and '-', 2-63 characters"
            )
        if device_id in self.reserved_users:
            raise ProvisionError(f"{device_id!r} is a reserved broker user name")
        existing = self.devices.get(device_id)
        if existing is not None and existing.status == "active":
            raise ProvisionError(f"device {device_id} exists already: use `device rotate` for a new credential")
        now = utc_now().isoformat()
        record = DeviceRecord(
            device_id=device_id,
            name=name,
            village=village,
            lat=lat,
            lon=lon,
            cameras=[CameraEntry(name=c) for c in cameras or []],
            status="active",
            created_at=existing.created_at if existing else now,
            credential_issued_at=now,
        )
        issued, reload_error = self._issue(record, reload, edge_tls_dir if tls else None)
        self.audit.record(self.actor, "device.add", device_id, name=name, village=village, tls=tls)
        if reload_error:
            raise BrokerNotReloaded(issued, reload_error)
        return issued

    def rotate(
        self, device_id: str, reload: bool = True, tls: bool = False, edge_tls_dir: Path = Path("/etc/poskamling/tls")
    ) -> Issued:
        record = self._active(device_id)
        record = record.model_copy(update={"credential_issued_at": utc_now().isoformat()})
        issued, reload_error = self._issue(record, reload, edge_tls_dir if tls else None)
        if reload and not reload_error:
            self.kick(device_id, issued.password)  # the old credential must not stay connected
        self.audit.record(self.actor, "device.rotate", device_id)
        if reload_error:
            raise BrokerNotReloaded(issued, reload_error)
        return issued

    def revoke(self, device_id: str, reload: bool = True) -> DeviceRecord:
        self._active(device_id)
        self._cut_off(device_id, reload)
        self._forget_block(device_id)
        record = self.devices.mark_decommissioned(device_id)
        for leftover in (f"{device_id}.yaml", f"{device_id}.crt", f"{device_id}.key"):
            path = self.output_dir / leftover
            if path.exists():
                path.unlink()
        self.audit.record(self.actor, "device.revoke", device_id)
        return record

    def _cut_off(self, device_id: str, reload: bool) -> None:
        """Remove the device's credential and drop its live connection.

        Mosquitto 2.0 keeps connected clients on a reload, and client ids are user names, so the
        device is given a one-time password (its own stops working with the first reload), kicked
        by connecting once as itself, then left with no credential at all.
        """
        one_time = new_secret()
        self._set_credential(device_id, one_time if reload else None)
        try:
            if reload:
                self.reload_broker()
                self.kick(device_id, one_time)
        finally:
            self._set_credential(device_id, None)
            if reload:
                self.reload_broker()

    def block(self, device_id: str, reason: str, reload: bool = True) -> bool:
        """Refuse and disconnect the device at the broker until `unblock`; False if it was blocked already.

        Works for any device with a credential in `passwd` (provisioned or listed in the hub settings).
        """
        if device_id in self.reserved_users:
            raise ProvisionError(f"{device_id!r} is a reserved broker user name")
        if device_id in self.blocked():
            return False
        stored = read_password_file(self.passwd_path).get(device_id)
        if stored is None:
            raise ProvisionError(f"device {device_id!r} has no broker credential in {self.passwd_path}")
        stash = self.blocked()
        stash[device_id] = stored
        write_private(self.blocked_path, render_password_file(stash))  # first: the hash is never lost
        self._cut_off(device_id, reload)
        self.audit.record(self.actor, "device.block", device_id, reason=reason)
        return True

    def unblock(self, device_id: str, reload: bool = True) -> None:
        """Give a blocked device its own credential back; it reconnects with its existing password."""
        stash = self.blocked()
        stored = stash.pop(device_id, None)
        if stored is None:
            raise ProvisionError(f"device {device_id!r} is not blocked")
        entries = read_password_file(self.passwd_path)
        entries[device_id] = stored
        self._write_broker_files(entries)
        write_private(self.blocked_path, render_password_file(stash))
        if reload:
            self.reload_broker()
        self.audit.record(self.actor, "device.unblock", device_id)

    def blocked(self) -> dict[str, str]:
        """Blocked device ids and their stashed password hashes."""
        return read_password_file(self.blocked_path)

    def _forget_block(self, device_id: str) -> None:
        """A new credential (add, rotate) or a revocation supersedes a block."""
        stash = self.blocked()
        if stash.pop(device_id, None) is not None:
            write_private(self.blocked_path, render_password_file(stash))

    def list(self) -> list[DeviceRecord]:
        return self.devices.all()

    def hub_credential(self, reload: bool = True) -> str:
        """A new broker password for the hub itself (put it in the hub config)."""
        password = new_secret()
        self._set_credential(self.settings.mqtt_username, password)
        if reload:
            self.reload_broker()
        self.audit.record(self.actor, "broker.hub_credential", self.settings.mqtt_username)
        return password

    def _active(self, device_id: str) -> DeviceRecord:
        record = self.devices.get(device_id)
        if record is None or record.status != "active":
            raise ProvisionError(f"no active device {device_id!r}")
        return record

    @property
    def ca(self) -> CertificateAuthority:
        return CertificateAuthority(self.p.ca_dir or self.settings.data_dir / "pki")

    def _issue(self, record: DeviceRecord, reload: bool, edge_tls_dir: Path | None = None) -> tuple[Issued, str | None]:
        """Write the credential, ACL, record and edge config; then reload. Returns why the reload failed, if it did."""
        password = new_secret()
        tls_files: dict[str, str] | None = None
        if edge_tls_dir is not None:
            try:
                self.ca.issue_device(record.device_id, self.output_dir)
            except PkiError as exc:
                raise ProvisionError(str(exc)) from None
            ca_copy = self.output_dir / "ca.crt"
            ca_copy.write_bytes(self.ca.cert_path.read_bytes())
            tls_files = {
                "tls_ca": str(edge_tls_dir / "ca.crt"),
                "tls_cert": str(edge_tls_dir / f"{record.device_id}.crt"),
                "tls_key": str(edge_tls_dir / f"{record.device_id}.key"),
            }
        config_path = self.write_edge_config(record.device_id, password, tls_files)
        self._forget_block(record.device_id)
        self._set_credential(record.device_id, password)
        self.devices.put(record)
        issued = Issued(record, password, config_path)
        if reload:
            try:
                self.reload_broker()
            except ProvisionError as exc:
                return issued, str(exc)
        return issued, None

    def edge_config(self, device_id: str, password: str, tls_files: dict[str, str] | None = None) -> dict[str, Any]:
        mqtt: dict[str, Any] = {
            "host": self.p.edge_mqtt_host or self.settings.mqtt_host,
            "port": self.p.edge_mqtt_port,
            "password": password,
        }
        if tls_files:  # client certificate from the hub CA: the broker's 8883 listener requires one
            mqtt.update(tls_files)
        elif self.p.edge_tls_ca is not None:
            mqtt["tls_ca"] = str(self.p.edge_tls_ca)
        data = {
            "device_id": device_id,
            "mqtt": mqtt,
            "panic_button": {"pin": 17, "hold_time": 0.0},
            "tamper_switch": {"pin": 23},
            "status_led": {"pin": 27},
            "buzzer": {"pin": 22},
            "data_dir": "/var/lib/poskamling",
        }
        # The edge's own loader accepts this (tests/hub/provisioning checks it with edge.config);
        # the hub cannot import the edge package: a hub install has no edge extra.
        return data

    def write_edge_config(self, device_id: str, password: str, tls_files: dict[str, str] | None = None) -> Path:
        data = self.edge_config(device_id, password, tls_files)
        self.output_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.output_dir / f"{device_id}.yaml"
        header = (
            f"# poskamling edge config for {device_id}, written {utc_now().isoformat()} by `poskamling device`.\n"
            "# Copy to the post as /etc/poskamling/edge.yaml (root:poskamling, mode 0640), then delete this copy.\n"
            "# It holds the device's broker password: never mail it or commit it anywhere.\n"
        )
        write_private(path, header + yaml.safe_dump(data, sort_keys=False))
        return path
