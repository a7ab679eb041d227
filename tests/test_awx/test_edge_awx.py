"""Edge Transport servers the AWX way: the domain account as the Machine
credential, the Edge servers' local account only as the extra variables the
"Exchange Edge servers" credential injects, and the estate's
group_vars/exchange_edge handing those to the Edge servers alone.

1. The estate template's inventory (examples/estate/inventory) read by
   ansible itself, no server contacted: from a shell, with the vault.yml files
   its examples describe, each server gets its own account - the Edge group's
   variables beat group_vars/exchange/vault.yml because exchange_edge is a
   child of exchange; the AWX way, the Edge server takes the injected
   variables and the domain servers set no account at all (so -u applies).
2. playbooks/audit.yml under ansible-runner against the lab (the engine AWX
   runs jobs with, its private data directory laid out as AWX lays it out,
   see test_runner.py), with an inventory whose only account for the Edge
   server is the estate's group_vars/exchange_edge indirection: the Edge
   server and the domain servers are audited, and no password reaches the
   output. Without the injected variables, the Edge server is in the report
   with a message naming the missing variable, and the others are audited.

The lab speaks only Basic authentication (tests/lab/wsman.py), so the Edge
host's transport is set back to basic as a host variable (host variables beat
the group's ntlm); pywinrm's NTLM itself is not exercised here.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

from labtools import REPO_ROOT

ansible_runner = pytest.importorskip("ansible_runner")

from awxjob import run_awx_job  # noqa: E402 (after the skip when ansible-runner is absent)

ESTATE = os.path.join(REPO_ROOT, "examples", "estate")
EDGE_GROUP_VARS = os.path.join(ESTATE, "inventory", "group_vars", "exchange_edge")
BIN = os.path.dirname(sys.executable)
BUILD_FACTS = "onprem.exchange.build_facts"
OLD_2019 = "15.2.1118.7"  # 2019 CU12 RTM


# -- 1. the estate's inventory as ansible reads it -------------------------------

def _estate_copy(tmp_path, with_vault_files):
    """The estate repository checked out; with_vault_files makes each
    vault.yml from its .example, plain values in place of the vaulted ones."""
    project = tmp_path / "estate"
    shutil.copytree(ESTATE, str(project))
    made = {}
    if with_vault_files:
        for root, _dirs, files in os.walk(str(project / "inventory")):
            for name in files:
                if name != "vault.yml.example":
                    continue
                group = os.path.basename(root)
                with open(os.path.join(root, name), encoding="utf-8") as handle:
                    text = handle.read()
                text = re.sub(r"!vault \|\n(  .*\n)+", "secret-of-%s\n" % group, text)
                with open(os.path.join(root, "vault.yml"), "w", encoding="utf-8") as handle:
                    handle.write(text)
                made[group] = yaml.safe_load(text)
    return str(project), made


def _accounts(project, *extra):
    """user, password and transport per host of the estate's exchange group,
    read by ansible's debug module (no connection is made for it)."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0")
    env.pop("ANSIBLE_CONFIG", None)  # the estate's own ansible.cfg, found in cwd
    result = subprocess.run([os.path.join(BIN, "ansible"), "exchange", "-o", "-m", "ansible.builtin.debug", "-a",
                             'msg="{{ [ansible_user | default(None), ansible_password | default(None), '
                             'ansible_winrm_transport] }}"', *extra],
                            cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return {m.group(1): tuple(json.loads(m.group(2))["msg"])
            for m in re.finditer(r"^(\S+) \| SUCCESS => (\{.*\})$", result.stdout, re.M)}


def test_estate_edge_server_is_in_exchange_in_a_site_and_in_exchange_edge():
    env = dict(os.environ)
    env.pop("ANSIBLE_CONFIG", None)
    result = subprocess.run([os.path.join(BIN, "ansible-inventory"), "--list"], cwd=ESTATE, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and "WARNING" not in result.stderr, result.stderr
    inventory = json.loads(result.stdout)
    assert inventory["exchange_edge"]["hosts"] == ["EDGE01"]
    assert "exchange_edge" in inventory["exchange"]["children"]
    assert [s for s in inventory if s.startswith("site_") and "EDGE01" in inventory[s].get("hosts", [])] == ["site_ams"]
    assert not any("EDGE01" in inventory[g].get("hosts", []) for g in inventory if g.startswith("dag_"))
    edge = inventory["_meta"]["hostvars"]["EDGE01"]
    # Only the indirection; the committed inventory holds no account.
    assert (edge["ansible_user"], edge["ansible_password"]) == ("{{ exchange_edge_winrm_username }}",
                                                                "{{ exchange_edge_winrm_password }}")
    assert (edge["ansible_winrm_transport"], edge["ansible_winrm_scheme"], edge["ansible_port"]) == ("ntlm", "https", 5986)
    assert edge["ansible_winrm_server_cert_validation"] == "validate"
    for name, hostvars in inventory["_meta"]["hostvars"].items():
        if name != "EDGE01":
            assert "ansible_user" not in hostvars and hostvars["ansible_winrm_transport"] == "kerberos", name


def test_from_a_shell_the_edge_vault_beats_the_exchange_vault_for_the_edge_server_only(tmp_path):
    project, made = _estate_copy(tmp_path, with_vault_files=True)
    assert {"exchange", "exchange_edge"} <= set(made)
    # group_vars/exchange/vault.yml sets ansible_user for the whole exchange group ...
    assert made["exchange"]["ansible_user"] == "{{ vault_exchange_winrm_username }}"
    accounts = _accounts(project)
    # ... but exchange_edge is a child of exchange, so its connection.yml wins on EDGE01.
    assert accounts.pop("EDGE01") == ("exadmin", "secret-of-exchange_edge", "ntlm")
    assert set(accounts) == {"EXAMS01", "EXAMS02", "EXNYC01", "EXNYC02"}
    assert set(accounts.values()) == {("svc-exansible@CORP.CONTOSO.COM", "secret-of-exchange", "kerberos")}


def test_a_site_that_sets_connection_variables_does_not_take_them_from_the_edge_server(tmp_path):
    """site_ams and exchange_edge are both children of exchange: at the same
    depth Ansible would let the later name (site_ams) win; the estate's
    ansible_group_priority on exchange_edge keeps the Edge account on EDGE01."""
    project, _made = _estate_copy(tmp_path, with_vault_files=True)
    site = os.path.join(project, "inventory", "group_vars", "site_ams")
    os.makedirs(site)
    with open(os.path.join(site, "connection.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump({"ansible_winrm_transport": "kerberos", "ansible_user": "site-account@CORP.CONTOSO.COM"}, handle)
    accounts = _accounts(project)
    assert accounts["EDGE01"] == ("exadmin", "secret-of-exchange_edge", "ntlm")
    assert accounts["EXAMS01"][0] == "site-account@CORP.CONTOSO.COM"


def test_the_awx_way_only_the_edge_server_takes_the_injected_account(tmp_path):
    project, _made = _estate_copy(tmp_path, with_vault_files=False)
    # What the Edge credential injects, beside the Machine credential's -u.
    extra = tmp_path / "extravars.json"
    extra.write_text(json.dumps({"exchange_edge_winrm_username": "EDGE01\\exadmin",
                                 "exchange_edge_winrm_password": "injected"}), encoding="utf-8")
    accounts = _accounts(project, "-u", "svc-exansible@CORP.CONTOSO.COM", "-e", "@%s" % extra)
    # The Edge group's ansible_user beats -u; the domain servers take -u.
    assert accounts.pop("EDGE01") == ("EDGE01\\exadmin", "injected", "ntlm")
    assert len(accounts) == 4
    assert set(accounts.values()) == {("svc-exansible@CORP.CONTOSO.COM", None, "kerberos")}


# -- 2. the audit under ansible-runner, against the lab ---------------------------

def _fleet():
    return {
        "lab": {"clock_factor": 0},
        "servers": [
            {"name": "MBX1", "build": OLD_2019},
            {"name": "MBX2", "build": OLD_2019},
            {"name": "EDGE1", "build": OLD_2019, "roles": ["Edge"]},
        ],
    }


def _private_data_dir(lab, root, edge_injected):
    """An AWX job: the inventory AWX imported from the estate (the lab's hosts,
    with the estate's group_vars/exchange_edge), the Machine credential as -u
    and the --ask-pass answer, and the Edge credential's extra variables."""
    inventory = lab.inventory()
    groups = inventory["all"]["children"]
    domain_user = groups["exchange"]["vars"].pop("ansible_user")
    domain_password = groups["exchange"]["vars"].pop("ansible_password")
    edge = groups["exchange"]["hosts"]["EDGE1"]
    local = {"username": edge.pop("ansible_user"), "password": edge.pop("ansible_password")}
    assert list(groups["exchange_edge"]["hosts"]) == ["EDGE1"]
    # The lab speaks Basic only; a host variable beats the group's ntlm.
    edge["ansible_winrm_transport"] = "basic"
    os.makedirs(os.path.join(root, "env"))
    os.makedirs(os.path.join(root, "inventory", "group_vars"))
    shutil.copytree(EDGE_GROUP_VARS, os.path.join(root, "inventory", "group_vars", "exchange_edge"),
                    ignore=shutil.ignore_patterns("*.example"))
    with open(os.path.join(root, "inventory", "hosts.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(inventory, handle, sort_keys=False)
    text = json.dumps(inventory)
    assert domain_password not in text and local["password"] not in text
    extravars = {"exchange_report_dir": os.path.join(root, "reports"), "exchange_report_formats": ["json"]}
    if edge_injected:
        extravars.update(exchange_edge_winrm_username=local["username"], exchange_edge_winrm_password=local["password"])
    files = {
        "extravars": extravars,
        "passwords": {r"^SSH [pP]assword:\s*?$": domain_password},
        # The audit template's job type is check: AWX adds --check.
        "cmdline": "-u %s --ask-pass --check" % shlex.quote(domain_user),
        "envvars": {"PATH": BIN + os.pathsep + os.environ.get("PATH", ""), "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_LOCAL_TEMP": os.path.join(root, ".ansible-tmp")},
        "settings": {"idle_timeout": 600, "job_timeout": 900, "pexpect_timeout": 5},
    }
    for name, content in files.items():
        with open(os.path.join(root, "env", name), "w", encoding="utf-8") as handle:
            handle.write(content if isinstance(content, str) else json.dumps(content))
    return (domain_password, local["password"])


def _audit(lab, root, edge_injected):
    secrets = _private_data_dir(lab, root, edge_injected)
    before = {name: lab.wsman.stats(name) for name in lab.endpoints}
    runner, events, stdout = run_awx_job(root, REPO_ROOT, "playbooks/audit.yml", "audit")
    with open(os.path.join(root, "reports", "exchange-audit.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    # What each server's WinRM listener saw of this job.
    wsman = {name: {key: lab.wsman.stats(name)[key] - before[name][key] for key in ("requests", "auth_failures")}
             for name in lab.endpoints}
    return {"status": (runner.status, runner.rc), "events": events, "stdout": stdout, "secrets": secrets,
            "report": {s["name"]: s for s in report["servers"]}, "root": root, "wsman": wsman}


def _no_secret_anywhere(job):
    assert len(job["events"]) > 20  # the job ran, at verbosity 3
    for event in job["events"]:
        text = event.get("stdout", "") + json.dumps(event.get("event_data", {}))
        assert not any(secret in text for secret in job["secrets"]), event["event"]
    artifacts = os.path.join(job["root"], "artifacts", "audit")
    for folder, _dirs, files in os.walk(artifacts):
        for name in files:
            with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as handle:
                text = handle.read()
            assert not any(secret in text for secret in job["secrets"]), name
    assert not any(secret in job["stdout"] for secret in job["secrets"])


@pytest.fixture(scope="module")
def edge_lab(tmp_path_factory):
    from labtools import start_lab
    lab = start_lab(tmp_path_factory.mktemp("edge-awx-lab"), _fleet())
    yield lab
    lab.stop()


def test_with_the_injected_edge_account_every_server_is_audited_and_no_password_shows(edge_lab, tmp_path):
    job = _audit(edge_lab, str(tmp_path / "job"), edge_injected=True)
    assert job["status"] == ("successful", 0), job["stdout"][-4000:]
    ok = {e["event_data"]["host"]: e["event_data"]["res"] for e in job["events"]
          if e["event"] == "runner_on_ok" and e["event_data"].get("task_action") == BUILD_FACTS}
    assert sorted(ok) == ["EDGE1", "MBX1", "MBX2"]
    assert not any(e["event"] in ("runner_on_failed", "runner_on_unreachable") for e in job["events"])
    # The Edge server answered as itself (its local account is the only one it takes).
    assert {name: row["status"] for name, row in job["report"].items()} == dict.fromkeys(ok, "audited")
    edge = job["report"]["EDGE1"]
    assert (edge["eems_status"], edge["eems_cause"]) == ("not_applicable", "edge_transport"), edge
    assert job["report"]["MBX1"]["eems_status"] == "not_working"
    # Each listener accepted the first account it was offered: the domain
    # account never reached the Edge server, nor the local one a domain server.
    assert all(seen["requests"] > 0 and seen["auth_failures"] == 0 for seen in job["wsman"].values()), job["wsman"]
    _no_secret_anywhere(job)


def test_without_the_injected_edge_account_the_report_names_the_edge_server_and_the_variable(edge_lab, tmp_path):
    job = _audit(edge_lab, str(tmp_path / "job"), edge_injected=False)
    # The audit fails the job after writing its report (exchange_audit_fail_on_errors).
    assert job["status"][0] == "failed", job["stdout"][-4000:]
    ok = {e["event_data"]["host"] for e in job["events"]
          if e["event"] == "runner_on_ok" and e["event_data"].get("task_action") == BUILD_FACTS}
    assert ok == {"MBX1", "MBX2"}
    assert {name: row["status"] for name, row in job["report"].items()} == {
        "EDGE1": "failed", "MBX1": "audited", "MBX2": "audited"}
    # Ansible's own words name the variable the Edge credential would have
    # given (ansible_user is the remote_user keyword); the Edge server was
    # not tried with the domain account in its place, nor contacted at all.
    assert job["wsman"]["EDGE1"] == {"requests": 0, "auth_failures": 0}, job["wsman"]
    assert job["wsman"]["MBX1"]["requests"] > 0 and job["wsman"]["MBX1"]["auth_failures"] == 0
    edge = job["report"]["EDGE1"]
    assert "'exchange_edge_winrm_username' is undefined" in edge["error"], edge
    assert "0 server(s) unreachable () and 1 failed (EDGE1); they are named in the report." in job["stdout"]
    _no_secret_anywhere(job)
