"""inventory/example: a real estate's inventory as ansible-inventory reads it."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from labtools import REPO_ROOT

EXAMPLE = os.path.join(REPO_ROOT, "inventory", "example")


@pytest.fixture(scope="module")
def inventory():
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"))
    result = subprocess.run([binary, "-i", EXAMPLE, "--list"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def _hosts(inventory, group):
    return set(inventory.get(group, {}).get("hosts", []))


def test_every_server_is_in_one_site_and_dags_are_groups(inventory):
    servers = set(inventory["_meta"]["hostvars"])
    sites = [g for g in inventory if g.startswith("site_")]
    dags = [g for g in inventory if g.startswith("dag_")]
    assert len(sites) >= 2 and len(dags) >= 2
    for server in servers:
        assert sum(server in _hosts(inventory, site) for site in sites) == 1, server
    assert set(inventory["exchange"]["children"]) >= set(sites)
    # A DAG stretched across sites is allowed, and is why DAG groups stand apart from sites.
    assert any(len({s for s in sites if _hosts(inventory, d) & _hosts(inventory, s)}) > 1 for d in dags)


def test_winrm_over_https_with_validation_kerberos_in_the_domain_and_ntlm_on_edge(inventory):
    edge = _hosts(inventory, "exchange_edge")
    assert edge == {"EDGE01"} and edge <= set(inventory["_meta"]["hostvars"])
    for server, hostvars in inventory["_meta"]["hostvars"].items():
        assert hostvars["ansible_connection"] == "winrm", server
        assert (hostvars["ansible_winrm_scheme"], hostvars["ansible_port"]) == ("https", 5986), server
        assert hostvars["ansible_winrm_server_cert_validation"] == "validate", server
        assert hostvars["ansible_winrm_transport"] == ("ntlm" if server in edge else "kerberos"), server


def test_no_credential_in_the_inventory(inventory):
    edge = _hosts(inventory, "exchange_edge")
    for server, hostvars in inventory["_meta"]["hostvars"].items():
        if server in edge:
            # Only the indirection to the Edge account's variables, never a value.
            assert hostvars["ansible_user"] == "{{ exchange_edge_winrm_username }}", server
            assert hostvars["ansible_password"] == "{{ exchange_edge_winrm_password }}", server
            continue
        assert "ansible_password" not in hostvars and "ansible_user" not in hostvars, server
    with open(os.path.join(REPO_ROOT, "inventory", "vault.yml.example"), encoding="utf-8") as handle:
        example = handle.read()
    assert "else vault_exchange_winrm_password }}" in example
    assert "!vault |" in example


def test_the_vault_example_gives_the_domain_account_to_domain_servers_and_the_local_one_to_edge(tmp_path):
    # The example's variables with plain values in place of the vaulted ones,
    # passed with -e as a run from a shell would; debug reads them per host
    # without connecting to any server.
    with open(os.path.join(REPO_ROOT, "inventory", "vault.yml.example"), encoding="utf-8") as handle:
        example = handle.read()
    plain = re.sub(r"!vault \|\n(  .*\n)+", lambda m: "secret-%d\n" % m.start(), example)
    extra = tmp_path / "vault.yml"
    extra.write_text(plain, encoding="utf-8")
    binary = os.path.join(os.path.dirname(sys.executable), "ansible")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"))
    result = subprocess.run([binary, "exchange", "-i", EXAMPLE, "-e", "@%s" % extra, "-o", "-m", "ansible.builtin.debug",
                             "-a", "msg={{ ansible_user }}"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # One line per host in -o mode: "NAME | SUCCESS => {...}".
    users = {match.group(1): json.loads(match.group(2))["msg"]
             for match in re.finditer(r"^(\S+) \| SUCCESS => (\{.*\})$", result.stdout, re.M)}
    assert users.pop("EDGE01") == "exadmin"
    assert set(users.values()) == {"svc-exansible@CORP.CONTOSO.COM"} and len(users) == 6
