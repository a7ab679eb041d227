"""execution-environment.yml: ansible-builder accepts it and it holds what the collection needs."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

from labtools import REPO_ROOT


def _names(lines):
    return {re.split(r"[\[<>=!~; ]", line.strip(), maxsplit=1)[0].lower()
            for line in lines if line.strip() and not line.strip().startswith("#")}


@pytest.fixture(scope="module")
def definition():
    with open(os.path.join(REPO_ROOT, "execution-environment.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_python_requirements_match_the_collections_own(definition):
    with open(os.path.join(REPO_ROOT, "requirements.txt"), encoding="utf-8") as handle:
        runtime = _names(handle)
    assert _names(definition["dependencies"]["python"]) == runtime - {"ansible-core"}
    assert "pywinrm[kerberos]" in " ".join(definition["dependencies"]["python"])
    assert definition["dependencies"]["ansible_core"]["package_pip"].startswith("ansible-core")
    assert "galaxy" not in definition["dependencies"]  # the collection depends on no collection


def test_ansible_builder_create_writes_a_build_context(tmp_path):
    builder = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
    if not os.path.exists(builder):
        pytest.skip("ansible-builder is not installed in this environment")
    context = tmp_path / "context"
    result = subprocess.run([builder, "create", "-f", os.path.join(REPO_ROOT, "execution-environment.yml"),
                             "-c", str(context)], cwd=str(tmp_path), capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    recipe = (context / "Dockerfile").read_text(encoding="utf-8")
    assert "ansible-core>=2.19,<2.22" in recipe and "ansible-runner" in recipe
    assert "pywinrm[kerberos]" in (context / "_build" / "requirements.txt").read_text(encoding="utf-8")
    bindep = (context / "_build" / "bindep.txt").read_text(encoding="utf-8")
    assert "krb5-workstation [platform:rpm]" in bindep  # kinit for the winrm connection


# -- the estate's execution environment: its CA and Kerberos configuration ------

ESTATE = os.path.join(REPO_ROOT, "examples", "estate")


def _ca_pem():
    """A freshly made self-signed CA certificate (public part only), as an estate's root CA."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Contoso Test Root CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _apply_copies(context, instructions, rootfs):
    """Carry out the final stage's COPY instructions into a stand-in root
    filesystem, with Docker's rules for a directory source (its contents) and
    a file source (to the path given). A source missing from the context
    fails, as `podman build` would."""
    for line in instructions:
        parts = line.split()
        if parts[0] != "COPY" or any(p.startswith("--") for p in parts):
            continue
        source, dest = os.path.join(context, parts[1]), rootfs + parts[2]
        assert os.path.exists(source), "COPY source missing from the build context: " + parts[1]
        if os.path.isdir(source):
            for name in os.listdir(source):
                os.makedirs(dest, exist_ok=True)
                with open(os.path.join(source, name), "rb") as src, open(os.path.join(dest, name), "wb") as out:
                    out.write(src.read())
        else:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(source, "rb") as src, open(dest, "wb") as out:
                out.write(src.read())


def _final_stage(recipe):
    lines = [line.strip() for line in recipe.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("FROM") and line.endswith("AS final"))
    return [line for line in lines[start:] if line and not line.startswith("#")]


def test_estate_ca_and_krb5_land_where_kinit_pywinrm_and_requests_read_them(tmp_path):
    builder = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
    if not os.path.exists(builder):
        pytest.skip("ansible-builder is not installed in this environment")
    import shutil
    estate = tmp_path / "estate"
    shutil.copytree(ESTATE, str(estate))
    pem = _ca_pem()
    (estate / "ee" / "ca" / "contoso-root-ca.pem").write_bytes(pem)
    context = tmp_path / "context"
    result = subprocess.run([builder, "create", "-f", "execution-environment.yml", "-c", str(context)],
                            cwd=str(estate), capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    final = _final_stage((context / "Dockerfile").read_text(encoding="utf-8"))

    rootfs = str(tmp_path / "rootfs")
    _apply_copies(str(context), final, rootfs)
    # MIT Kerberos (kinit, which the winrm connection runs; pykerberos) reads /etc/krb5.conf.
    with open(os.path.join(rootfs, "etc", "krb5.conf"), encoding="utf-8") as handle:
        krb5 = handle.read()
    assert krb5 == (estate / "ee" / "krb5.conf").read_text(encoding="utf-8")
    realm = re.search(r"^\s*default_realm\s*=\s*(\S+)", krb5, re.M).group(1)
    # The CA goes into the system trust anchors, and the bundle is rebuilt after it.
    anchors = os.path.join(rootfs, "etc", "pki", "ca-trust", "source", "anchors")
    assert os.listdir(anchors) == ["contoso-root-ca.pem"]
    with open(os.path.join(anchors, "contoso-root-ca.pem"), "rb") as handle:
        assert handle.read() == pem
    copy_ca = final.index("COPY _build/estate/ca/ /etc/pki/ca-trust/source/anchors/")
    assert final.index("RUN update-ca-trust extract") > copy_ca
    # Before the image drops to its unprivileged user.
    assert final.index("USER 1000") > final.index("RUN update-ca-trust extract")

    # The bundle update-ca-trust writes is the one the inventory hands pywinrm,
    # and REQUESTS_CA_BUNDLE names it for clients given no path.
    bundle = "/etc/pki/tls/certs/ca-bundle.crt"
    assert "ENV REQUESTS_CA_BUNDLE=%s" % bundle in final
    with open(os.path.join(ESTATE, "inventory", "group_vars", "exchange", "connection.yml"), encoding="utf-8") as handle:
        connection = yaml.safe_load(handle)
    assert connection["ansible_winrm_ca_trust_path"] == bundle
    assert connection["ansible_winrm_server_cert_validation"] == "validate"
    # The account's realm is the Kerberos default realm.
    with open(os.path.join(ESTATE, "inventory", "group_vars", "exchange", "vault.yml.example"), encoding="utf-8") as handle:
        account = re.search(r"^vault_exchange_winrm_username:\s*(\S+)", handle.read(), re.M).group(1)
    assert account.endswith("@" + realm)
    # The collection comes from the same requirements AWX installs at project sync.
    assert (context / "_build" / "requirements.yml").read_text(encoding="utf-8") == \
        (estate / "collections" / "requirements.yml").read_text(encoding="utf-8")


def test_estate_ee_without_a_ca_cannot_build(tmp_path):
    """No PEM in ee/ca: the context has nothing to COPY, so a build stops
    instead of producing an image that trusts no estate certificate."""
    builder = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
    if not os.path.exists(builder):
        pytest.skip("ansible-builder is not installed in this environment")
    context = tmp_path / "context"
    result = subprocess.run([builder, "create", "-f", os.path.join(ESTATE, "execution-environment.yml"),
                             "-c", str(context)], cwd=ESTATE, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    final = _final_stage((context / "Dockerfile").read_text(encoding="utf-8"))
    with pytest.raises(AssertionError, match="COPY source missing from the build context: _build/estate/ca/"):
        _apply_copies(str(context), final, str(tmp_path / "rootfs"))
