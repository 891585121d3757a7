"""Broker TLS with client certificates from the hub CA (real Mosquitto: TLS listener + plain listener).

The plain listener stands for the hub's local (127.0.0.1) listener; posts use the TLS one,
which requires a certificate signed by the hub CA *and* the device's password.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import load_edge_config
from hub.provisioning.broker_files import new_secret
from hub.provisioning.pki import CertificateAuthority, KeyPair
from hub.provisioning.provisioner import Provisioner
from poskamling.broker import MosquittoBroker, TlsListener
from poskamling.net import free_port
from poskamling.sim import SimulatedPost
from tests.support import HUB_USER, add_device, add_monitor, post_entry, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    authority = CertificateAuthority(tmp_path / "pki")
    authority.init()
    authority.issue_server()
    return authority


@pytest.fixture
def broker(tmp_path: Path, ca: CertificateAuthority) -> Iterator[MosquittoBroker]:
    """Overrides the conftest broker: the same config plus a TLS listener requiring a certificate."""
    tls = TlsListener(free_port(), ca.cert_path, ca.server.cert, ca.server.key, require_certificate=True)
    instance = MosquittoBroker(tmp_path / "broker", accounts={HUB_USER: new_secret()}, tls=tls)
    instance.start()
    yield instance
    instance.stop()


def attempt(
    broker: MosquittoBroker,
    port: int,
    user: str,
    password: str,
    *,
    ca: Path | None = None,
    pair: KeyPair | None = None,
    publish: tuple[str, bytes] | None = None,
) -> str:
    """Connect (and optionally publish one QoS 1 message); 'ok', 'refused ...', 'error ...' or 'closed'."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    if ca is not None:
        client.tls_set(
            ca_certs=str(ca),
            certfile=str(pair.cert) if pair else None,
            keyfile=str(pair.key) if pair else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    outcome: dict[str, str] = {}
    client.on_connect = lambda _c, _u, _f, rc, _p: outcome.setdefault(
        "result", "refused " + str(rc) if rc.is_failure else "ok"
    )
    client.on_disconnect = lambda *_: outcome.setdefault("result", "closed")
    try:
        client.connect(broker.host, port, keepalive=5)
    except (ssl.SSLError, OSError) as exc:
        return f"error {exc}"
    client.loop_start()
    deadline = time.monotonic() + 5  # a refused handshake may surface only as a closed socket
    while "result" not in outcome and time.monotonic() < deadline:
        time.sleep(0.02)
    if outcome.get("result") == "ok" and publish is not None:
        client.publish(*publish, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
    return outcome.get("result", "closed")


def test_device_with_ca_signed_certificate_and_password_publishes_over_tls(broker, ca, tmp_path) -> None:
    password = add_device(broker, "pos-tls")
    pair = ca.issue_device("pos-tls", tmp_path / "device")
    monitor = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="monitor", protocol=mqtt.MQTTv5)
    monitor.username_pw_set(*add_monitor(broker))
    received: list[bytes] = []
    monitor.on_message = lambda _c, _u, m: received.append(bytes(m.payload))
    monitor.connect(broker.host, broker.port)  # plain local listener
    monitor.subscribe("kamling/v1/pos-tls/event", qos=1)
    monitor.loop_start()
    try:
        wait_for(
            lambda: (
                attempt(
                    broker,
                    broker.tls.port,
                    "pos-tls",
                    password,
                    ca=ca.cert_path,
                    pair=pair,
                    publish=("kamling/v1/pos-tls/event", b"over-tls"),
                )
                == "ok"
                and b"over-tls" in received
            ),
            interval=0.2,
            what="event over TLS at the monitor",
        )
        # The password is still checked over TLS: it is what revocation removes.
        assert attempt(broker, broker.tls.port, "pos-tls", "wrong", ca=ca.cert_path, pair=pair).startswith("refused")
    finally:
        monitor.loop_stop()
        monitor.disconnect()


def test_tls_listener_refuses_no_certificate_plain_tcp_and_a_foreign_ca(broker, ca, tmp_path) -> None:
    password = add_device(broker, "pos-tls")
    port = broker.tls.port
    no_cert = attempt(broker, port, "pos-tls", password, ca=ca.cert_path)
    assert no_cert != "ok", "TLS listener accepted a client without a certificate"
    plain = attempt(broker, port, "pos-tls", password)
    assert plain != "ok", "TLS port accepted plain MQTT"
    other = CertificateAuthority(tmp_path / "other-ca")
    other.init("attacker CA")
    forged = other.issue_device("pos-tls", tmp_path / "forged")
    assert attempt(broker, port, "pos-tls", password, ca=ca.cert_path, pair=forged) != "ok", "foreign CA accepted"
    # A client that does not trust our CA refuses the broker (no man in the middle with another cert).
    assert attempt(broker, port, "pos-tls", password, ca=other.cert_path, pair=forged).startswith("error")
    # Control: the same device with our CA's certificate gets in.
    assert (
        attempt(broker, port, "pos-tls", password, ca=ca.cert_path, pair=ca.issue_device("pos-tls", tmp_path / "ok"))
        == "ok"
    )


def test_provisioned_tls_post_pages_the_officer(make_hub, broker, ca, sink, tmp_path) -> None:
    """`device add --tls` -> edge config with CA, client cert/key and the TLS port -> a real edge
    agent over TLS -> the hub (on the plain local listener) pages the officer."""
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(str(broker.pid))
    hub = make_hub(
        [post_entry("pos-other")],
        provisioning={
            "broker_dir": str(broker.workdir),
            "pid_file": str(pid_file),
            "ca_dir": str(ca.directory),
            "edge_mqtt_host": broker.host,
            "edge_mqtt_port": broker.tls.port,
        },
    )
    assert hub.service is not None
    provisioner = Provisioner(hub.service.settings, actor="test")
    issued = provisioner.add("pos-tls", "Pos Kamling TLS", "Sukamaju", tls=True, edge_tls_dir=provisioner.output_dir)
    config = load_edge_config(issued.edge_config)
    assert config.mqtt.port == broker.tls.port
    assert config.mqtt.tls_cert == provisioner.output_dir / "pos-tls.crt"
    assert config.mqtt.tls_ca is not None and config.mqtt.tls_ca.read_bytes() == ca.cert_path.read_bytes()
    assert hub.client("technician").post("/api/admin/devices/reload").status_code == 200
    post = SimulatedPost(config.model_copy(update={"data_dir": tmp_path / "post"}))
    post.start()
    try:
        wait_for(lambda: post.agent.connected, what="edge agent connected over TLS")
        post.press()
        assert sink.wait_for(lambda r: "PANIK" in r.body.get("title", "") and "TLS" in r.body["title"], timeout=15)
        wait_for(lambda: post.agent.outbox.depth() == 0, what="panic acked back over TLS")
    finally:
        post.stop()
