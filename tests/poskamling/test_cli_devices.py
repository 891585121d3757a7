"""`poskamling device ...` through typer's CliRunner: the broker's password file (Mosquitto's
`user:$7$...` format), the ACL, the edge config (0600), reloads, rotation and revocation;
then once against a real Mosquitto that must accept, and after `revoke` refuse, the credential.
(kamling.provision.Provisioner itself is exercised in tests/security/test_broker_access.py.)"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner, Result

from edge.config import load_edge_config
from hub.provisioning.broker_files import verify_password
from hub.provisioning.provisioner import read_password_file
from hub.settings import load_hub_settings
from hub.storage.sql.audit import SqlAuditLog, open_audit_log
from kamling.protocol import alarm_user
from poskamling.cli import app
from poskamling.net import free_port
from tests.support import HUB_USER, wait_for

HASH_LINE = re.compile(r"^(?P<user>[a-z0-9-]+):\$7\$\d+\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$")


def device(config: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, ["device", *args, "--config", str(config)], input=stdin)


def ok(config: Path, *args: str) -> Result:
    result = device(config, *args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_config(path: Path, data_dir: Path, provisioning: dict[str, Any], **hub: Any) -> Path:
    path.write_text(
        yaml.safe_dump(
            {"mqtt_password": "hub-password-1", "data_dir": str(data_dir), **hub, "provisioning": provisioning}
        )
    )
    return path


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    marker = tmp_path / "reloads.log"
    paths = {"data": tmp_path / "hub-data", "broker": tmp_path / "broker", "reloads": marker}
    paths["config"] = write_config(
        tmp_path / "hub.yaml",
        paths["data"],
        {
            "broker_dir": str(paths["broker"]),
            "reload_command": ["sh", "-c", f"echo reload >> {marker}"],
            "edge_mqtt_host": "hub.lan",
            "edge_mqtt_port": 8883,
        },
        mqtt_port=free_port(),  # nothing listens: `rotate`/`revoke` cannot kick anyone, and say nothing of it
    )
    return paths


def reloads(paths: dict[str, Path]) -> int:
    return len(paths["reloads"].read_text().splitlines()) if paths["reloads"].exists() else 0


def edge_password(config_path: Path) -> str:
    return load_edge_config(config_path).mqtt.password.get_secret_value()


def test_add_writes_a_mosquitto_password_entry_an_acl_and_a_private_edge_config(setup: dict[str, Path]) -> None:
    result = ok(
        setup["config"],
        "add",
        "pos-rw05",
        "--name",
        "Pos Kamling RW 05",
        "--village",
        "Sukamaju",
        "--lat",
        "-7.8",
        "--lon",
        "110.4",
        "--camera",
        "gerbang",
    )
    edge_path = setup["data"] / "provisioned" / "pos-rw05.yaml"
    assert "device pos-rw05 provisioned; broker reloaded" in result.stdout and str(edge_path) in result.stdout
    assert reloads(setup) == 1

    passwd = setup["broker"] / "passwd"
    lines = passwd.read_text().splitlines()
    assert len(lines) == 1 and HASH_LINE.match(lines[0]) and HASH_LINE.match(lines[0])["user"] == "pos-rw05", lines
    assert mode(passwd) == 0o600

    assert mode(edge_path) == 0o600 and mode(edge_path.parent) == 0o700
    edge = load_edge_config(edge_path)
    password = edge.mqtt.password.get_secret_value()
    assert (edge.device_id, edge.mqtt.host, edge.mqtt.port) == ("pos-rw05", "hub.lan", 8883)
    assert edge.mqtt.tls_ca == Path("/etc/poskamling/ca.crt")
    assert verify_password(password, read_password_file(passwd)["pos-rw05"])  # the edge holds what the broker checks
    assert password not in passwd.read_text()
    assert password not in result.output  # the password is only in the 0600 file
    assert edge_path.read_text().startswith("# poskamling edge config for pos-rw05")

    acl = setup["broker"] / "acl"
    assert mode(acl) == 0o600
    assert f"user {HUB_USER}" in acl.read_text() and "pattern write kamling/v1/%u/event" in acl.read_text()

    listing = ok(setup["config"], "list").stdout.split()
    assert listing[:4] == ["pos-rw05", "active", "Sukamaju", "Pos"]


def test_add_refuses_duplicates_bad_ids_and_reserved_names_without_touching_the_files(setup: dict[str, Path]) -> None:
    ok(setup["config"], "add", "pos-rw05", "--name", "Pos RW 05")
    passwd = (setup["broker"] / "passwd").read_text()
    edge = (setup["data"] / "provisioned" / "pos-rw05.yaml").read_text()
    for args, message in (
        (
            ("add", "pos-rw05", "--name", "Again"),
            "device pos-rw05 exists already: use `device rotate` for a new credential",
        ),
        (("add", "Pos RW 6", "--name", "Pos RW 6"), "invalid device id 'Pos RW 6'"),
        (("add", "pos:rw6", "--name", "Pos RW 6"), "invalid device id 'pos:rw6'"),
        (("add", HUB_USER, "--name", "Hub"), f"'{HUB_USER}' is a reserved broker user name"),
        (("rotate", "pos-nowhere"), "no active device 'pos-nowhere'"),
        (("revoke", "pos-nowhere", "--yes"), "no active device 'pos-nowhere'"),
        (("unblock", "pos-rw05"), "device 'pos-rw05' is not blocked"),
    ):
        result = device(setup["config"], *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert (setup["broker"] / "passwd").read_text() == passwd
    assert (setup["data"] / "provisioned" / "pos-rw05.yaml").read_text() == edge
    assert reloads(setup) == 1


def test_rotate_replaces_the_credential_and_revoke_removes_it(setup: dict[str, Path]) -> None:
    ok(setup["config"], "add", "pos-rw05", "--name", "Pos RW 05")
    ok(setup["config"], "add", "pos-rw06", "--name", "Pos RW 06")
    edge_path = setup["data"] / "provisioned" / "pos-rw05.yaml"
    old = edge_password(edge_path)

    assert str(edge_path) in ok(setup["config"], "rotate", "pos-rw05").stdout
    new = edge_password(edge_path)
    hashes = read_password_file(setup["broker"] / "passwd")
    assert new != old and verify_password(new, hashes["pos-rw05"]) and not verify_password(old, hashes["pos-rw05"])
    assert mode(edge_path) == 0o600

    declined = device(setup["config"], "revoke", "pos-rw05", stdin="n\n")
    assert declined.exit_code == 1 and "pos-rw05" in read_password_file(setup["broker"] / "passwd")
    before = reloads(setup)
    result = ok(setup["config"], "revoke", "pos-rw05", "--yes")
    assert "device pos-rw05 revoked" in result.stdout
    assert set(read_password_file(setup["broker"] / "passwd")) == {"pos-rw06"}
    assert not edge_path.exists()  # the copy holding the password is gone
    assert reloads(setup) > before
    rows = {line.split()[0]: line.split()[1] for line in ok(setup["config"], "list").stdout.splitlines()}
    assert rows == {"pos-rw05": "decommissioned", "pos-rw06": "active"}
    # A decommissioned id can be provisioned again, with a fresh credential.
    ok(setup["config"], "add", "pos-rw05", "--name", "Pos RW 05 baru")
    assert verify_password(edge_password(edge_path), read_password_file(setup["broker"] / "passwd")["pos-rw05"])


def test_hub_credential_is_printed_once_and_stored_hashed(setup: dict[str, Path]) -> None:
    result = ok(setup["config"], "hub-credential")
    password = result.stdout.strip().rsplit(" ", 1)[1]
    stored = read_password_file(setup["broker"] / "passwd")[HUB_USER]
    assert verify_password(password, stored) and password not in (setup["broker"] / "passwd").read_text()
    # The hub's alarm session (issue 17) logs in as <hub user>-alarm with the same password, and may read it.
    alarm = read_password_file(setup["broker"] / "passwd")[alarm_user(HUB_USER)]
    assert verify_password(password, alarm)
    assert f"user {alarm_user(HUB_USER)}" in (setup["broker"] / "acl").read_text()


def test_a_failed_broker_reload_is_an_error_that_says_what_was_saved(setup: dict[str, Path], tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "failing.yaml",
        setup["data"],
        {"broker_dir": str(setup["broker"]), "reload_command": ["sh", "-c", "echo no broker >&2; exit 3"]},
    )
    result = device(config, "add", "pos-rw07", "--name", "Pos RW 07")
    assert result.exit_code == 2
    assert "broker reload failed" in result.stderr and "no broker" in result.stderr
    assert "provisioned" not in result.stdout
    # The device is saved and the technician is told where its config is and what to do next.
    edge_config = setup["data"] / "provisioned" / "pos-rw07.yaml"
    message = " ".join(result.stderr.split())
    assert "pos-rw07 is saved" in message and "Reload the broker" in message and str(edge_config) in message
    assert "pos-rw07" in read_password_file(setup["broker"] / "passwd")
    entries = audit_of(setup["config"]).read(action="device.add")  # the hub's audit log (SQL store)
    assert any(entry["target"] == "pos-rw07" for entry in entries)
    assert edge_config.exists()


def _connects(broker, user: str, password: str) -> bool:
    result: list[bool] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{user}", protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.on_connect = lambda _c, _u, _f, rc, _p: result.append(not rc.is_failure)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        return wait_for(lambda: result, what="CONNACK")[0]
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_real_mosquitto_accepts_the_added_device_and_refuses_it_after_revoke(broker, tmp_path: Path) -> None:
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(str(broker.pid))
    config = write_config(
        tmp_path / "hub.yaml",
        tmp_path / "hub-data",
        {
            "broker_dir": str(broker.workdir),
            "pid_file": str(pid_file),
            "edge_mqtt_host": broker.host,
            "edge_mqtt_port": broker.port,
            "edge_tls_ca": None,
        },
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_password=broker.accounts[HUB_USER],
    )
    ok(config, "add", "pos-real", "--name", "Pos Real")
    edge = load_edge_config(tmp_path / "hub-data" / "provisioned" / "pos-real.yaml")
    assert (edge.mqtt.host, edge.mqtt.port, edge.mqtt.tls_ca) == (broker.host, broker.port, None)
    password = edge.mqtt.password.get_secret_value()
    wait_for(lambda: _connects(broker, "pos-real", password), what="the broker to accept the new credential (SIGHUP)")
    assert _connects(broker, HUB_USER, broker.accounts[HUB_USER])  # the hub's own entry survived the rewrite
    assert not _connects(broker, "pos-real", "wrong-" + password)

    ok(config, "revoke", "pos-real", "--yes")
    assert _connects(broker, "pos-real", password) is False  # revoke reloads before it returns
    assert _connects(broker, HUB_USER, broker.accounts[HUB_USER])


def audit_of(config: Path) -> SqlAuditLog:
    return open_audit_log(load_hub_settings(config))
