"""The hub's small certificate authority: broker server certificate and device client certificates.

Layout of the CA folder (0700; every private key 0600, written atomically):

  ca.crt / ca.key          the hub CA (EC P-256, 10 years); ca.crt goes to every post and to the broker
  server.crt / server.key  the broker's TLS certificate (SANs: localhost, 127.0.0.1 and the
                           names/addresses posts use to reach the hub)

Device certificates (CN = device id, extended key usage clientAuth only) are written next to
the device's edge config by `poskamling device add --tls` and are never kept on the hub.

EC P-256 rather than RSA: small keys and fast handshakes on a Raspberry Pi, supported by
Mosquitto (OpenSSL) and Python's ssl. No custom crypto: everything is `cryptography`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.provisioning.broker_files import write_private
from kamling.durable import atomic_write
from kamling.protocol import is_valid_device_id

CA_YEARS = 10
SERVER_DAYS = 5 * 365
DEVICE_DAYS = 5 * 365
BACKDATE = dt.timedelta(minutes=5)  # tolerate a little clock skew between hub and posts


class PkiError(RuntimeError):
    """A certificate operation that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _write_public(path: Path, text: str) -> None:
    atomic_write(path, text, mode=0o644)  # the one durable writer: fsyncs the file and the folder


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CertificateAuthority:
    """The CA kept in `directory`; `init()` creates it, the other methods need it to exist."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def cert_path(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def key_path(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server(self) -> KeyPair:
        return KeyPair(self.directory / "server.crt", self.directory / "server.key")

    def exists(self) -> bool:
        return self.cert_path.exists() and self.key_path.exists()

    def init(self, common_name: str = "poskamling hub CA", years: int = CA_YEARS, force: bool = False) -> Path:
        """Create the CA key (0600) and self-signed certificate. Refuses to overwrite an existing CA
        (every post's certificate hangs on it) unless `force`."""
        if self.exists() and not force:
            raise PkiError(
                f"a CA exists already in {self.directory}; replacing it invalidates every post's certificate"
            )
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.chmod(0o700)
        key = _new_key()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "poskamling"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        write_private(self.key_path, _key_pem(key))
        _write_public(self.cert_path, _cert_pem(cert))
        return self.cert_path

    def load(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if not self.exists():
            raise PkiError(f"no CA in {self.directory}: run `poskamling ca init --dir {self.directory}` first")
        cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{self.key_path} is not an EC key")
        return cert, key

    def _issue(
        self, subject_cn: str, usage: x509.ObjectIdentifier, days: int, san: list[x509.GeneralName]
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        ca_cert, ca_key = self.load()
        key = _new_key()
        now = _now()
        not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "poskamling"),
                        x509.NameAttribute(NameOID.COMMON_NAME, subject_cn),
                    ]
                )
            )
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    def issue_server(self, names: list[str] = (), ips: list[str] = (), days: int = SERVER_DAYS) -> KeyPair:  # type: ignore[assignment]
        """The broker's certificate in the CA folder. Always valid for localhost and 127.0.0.1
        (the hub's own connection), plus the DNS names and addresses posts use."""
        dns = list(dict.fromkeys(["localhost", *names]))
        addresses: list[str] = list(dict.fromkeys(["127.0.0.1", *ips]))
        try:
            san: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
            san += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        except ValueError as exc:
            raise PkiError(f"invalid server name or address: {exc}") from None
        cn = names[0] if names else "localhost"
        cert, key = self._issue(cn, ExtendedKeyUsageOID.SERVER_AUTH, days, san)
        pair = self.server
        write_private(pair.key, _key_pem(key))
        _write_public(pair.cert, _cert_pem(cert))
        return pair

    def issue_device(self, device_id: str, out_dir: Path, days: int = DEVICE_DAYS) -> KeyPair:
        """A client certificate for one post (CN = device id) in `out_dir` as <id>.crt / <id>.key (0600)."""
        if not is_valid_device_id(device_id):
            raise PkiError(f"invalid device id {device_id!r}")
        cert, key = self._issue(device_id, ExtendedKeyUsageOID.CLIENT_AUTH, days, [])
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        pair = KeyPair(out_dir / f"{device_id}.crt", out_dir / f"{device_id}.key")
        write_private(pair.key, _key_pem(key))
        write_private(pair.cert, _cert_pem(cert))
        return pair


def common_name(cert_path: Path) -> str:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
