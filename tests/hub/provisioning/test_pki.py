"""The hub CA: key modes, validity, SANs, device CN, chain to the CA, and the CLI."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from hub.provisioning.pki import CertificateAuthority, PkiError, common_name
from poskamling.cli import app


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_ca_init_is_private_long_lived_and_not_overwritten(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    ca.init()
    assert stat.S_IMODE(ca.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(ca.directory.stat().st_mode) == 0o700
    cert = _cert(ca.cert_path)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc - cert.not_valid_before_utc >= dt.timedelta(days=3650)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    with pytest.raises(PkiError, match="exists already"):
        ca.init()


def test_server_and_device_certificates_chain_to_the_ca(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    ca.init()
    root = _cert(ca.cert_path)
    server = ca.issue_server(["hub.polsek.lan"], ["192.168.10.5"])
    cert = _cert(server.cert)
    cert.verify_directly_issued_by(root)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "hub.polsek.lan"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("192.168.10.5"),
    }
    assert ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert stat.S_IMODE(server.key.stat().st_mode) == 0o600

    device = ca.issue_device("pos-rw05", tmp_path / "out")
    dcert = _cert(device.cert)
    dcert.verify_directly_issued_by(root)
    assert common_name(device.cert) == "pos-rw05"
    assert list(dcert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert not dcert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE(device.key.stat().st_mode) == 0o600
    assert dcert.not_valid_after_utc <= root.not_valid_after_utc

    with pytest.raises(PkiError):
        ca.issue_device("Not A Device!", tmp_path / "out")
    with pytest.raises(PkiError):
        ca.issue_server(ips=["not-an-ip"])


def test_issuing_without_a_ca_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="ca init"):
        CertificateAuthority(tmp_path / "none").issue_device("pos-a", tmp_path)


def test_cli_ca_init_and_server_cert(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = tmp_path / "ca"
    result = runner.invoke(app, ["ca", "init", "--dir", str(folder)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["ca", "server-cert", "--dir", str(folder), "--name", "hub.lan", "--ip", "10.0.0.2"])
    assert result.exit_code == 0, result.output
    cert = _cert(folder / "server.crt")
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "hub.lan"
    again = runner.invoke(app, ["ca", "init", "--dir", str(folder)])
    assert again.exit_code == 2 and "exists already" in again.output
