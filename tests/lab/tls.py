"""Certificates for the lab's WinRM HTTPS listeners.

A lab CA (self-signed) signs one server certificate valid for 127.0.0.1,
localhost and any extra DNS names. Clients trust the CA file, exactly as a
user would point ``ansible_winrm_ca_trust_path`` at an enterprise CA bundle.
A second CA with another ``prefix`` gives "wrong CA" tests a trust anchor
that did not sign the server certificate.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path
from typing import NamedTuple, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Files older than this margin before expiry are replaced, so a long test run
# never meets a certificate that expires half-way.
_RENEW_MARGIN = datetime.timedelta(days=7)
_CA_LIFETIME = datetime.timedelta(days=3650)
# 825 days is the longest server-certificate lifetime that macOS and browsers
# accept; staying under it keeps the files usable outside Python too.
_SERVER_LIFETIME = datetime.timedelta(days=825)
# Back-date notBefore so clock skew between processes cannot make a fresh
# certificate "not yet valid".
_BACKDATE = datetime.timedelta(hours=1)


class LabCA(NamedTuple):
    cert_path: str
    key_path: str


class LabPKI(NamedTuple):
    ca_cert_path: str
    ca_key_path: str
    server_cert_path: str
    server_key_path: str


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _not_valid_after(cert: x509.Certificate) -> datetime.datetime:
    # cryptography >= 42 offers the timezone-aware property; keep the naive
    # fallback for older installs.
    after = getattr(cert, "not_valid_after_utc", None)
    if after is None:
        after = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return after


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    # Write then rename, so a parallel test worker never reads half a file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256 is fast to generate and accepted by every TLS stack we meet.
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load(cert_path: Path, key_path: Path):
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None, None
    return cert, key


def _fresh(cert: x509.Certificate) -> bool:
    return _not_valid_after(cert) - _RENEW_MARGIN > _now()


def _same_public_key(cert: x509.Certificate, key) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def ensure_ca(directory: str | os.PathLike, prefix: str = "lab") -> LabCA:
    """Return the CA in ``directory`` named by ``prefix``, creating it if missing, broken or near expiry."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    cert_path = folder / f"{prefix}-ca.pem"
    key_path = folder / f"{prefix}-ca.key"
    cert, key = _load(cert_path, key_path)
    if cert is not None and _fresh(cert) and _same_public_key(cert, key):
        return LabCA(str(cert_path), str(key_path))

    key = _new_key()
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "onprem.exchange lab"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"onprem.exchange {prefix} CA"),
    ])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_atomic(key_path, _key_pem(key), 0o600)
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return LabCA(str(cert_path), str(key_path))


def _wanted_names(extra_dns_names: Sequence[str]) -> set:
    names = {x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")}
    names.update(x509.DNSName(name) for name in extra_dns_names)
    return names


def _server_cert_matches(cert: x509.Certificate, ca_cert: x509.Certificate, wanted: set) -> bool:
    if not _fresh(cert) or cert.issuer != ca_cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return wanted <= set(san)


def ensure_lab_pki(
    directory: str | os.PathLike,
    extra_dns_names: Sequence[str] = (),
    prefix: str = "lab",
) -> LabPKI:
    """Create (or reuse) the lab CA and a server certificate it signed.

    Files written into ``directory``: ``<prefix>-ca.pem``, ``<prefix>-ca.key``,
    ``<prefix>-server.pem`` and ``<prefix>-server.key``. Existing files are
    kept when still valid, signed by the current CA and covering every wanted
    name; otherwise the server certificate is issued again.
    """
    ca = ensure_ca(directory, prefix)
    folder = Path(directory)
    cert_path = folder / f"{prefix}-server.pem"
    key_path = folder / f"{prefix}-server.key"
    ca_cert, ca_key = _load(Path(ca.cert_path), Path(ca.key_path))
    wanted = _wanted_names(extra_dns_names)

    cert, key = _load(cert_path, key_path)
    if cert is not None and _same_public_key(cert, key) and _server_cert_matches(cert, ca_cert, wanted):
        return LabPKI(ca.cert_path, ca.key_path, str(cert_path), str(key_path))

    key = _new_key()
    now = _now()
    # DNS names sorted so the SAN order is stable between runs.
    ordered_names = sorted(wanted, key=lambda n: (type(n).__name__, str(n.value)))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "onprem.exchange lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _SERVER_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(ordered_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_atomic(key_path, _key_pem(key), 0o600)
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return LabPKI(ca.cert_path, ca.key_path, str(cert_path), str(key_path))
