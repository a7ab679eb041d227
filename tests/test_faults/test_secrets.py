"""Secrets at -vvvv: the WinRM password, a repository credential and an EMS
password never appear in ansible-playbook's output, in a report, or in what
the lab kept (its state, its state file, its log, the command lines it saw).

Secrets are passed the way a vault or an AWX credential passes them: in a
vars file or the inventory, not on the command line (where ansible-playbook
itself echoes -e values at -vvvv).
"""
from __future__ import annotations

import json
import logging
import os

import pytest
import yaml

from faultlab import CU15_ISO, TARGET, fleet, play, tail

WINRM_PASSWORD = "WinRM-Pa55:word!7q"   # also the EMS password: the lab checks both against one account
REPOSITORY_PASSWORD = "Repo-Pa55:word!9z"
EMS_PASSWORD = WINRM_PASSWORD
SECRETS = {"winrm": WINRM_PASSWORD, "repository": REPOSITORY_PASSWORD}

STAGE_AND_EEMS = """
- name: Stage from a share with its own account, and set EEMS with an explicit EMS credential
  hosts: "{{ exchange_hosts }}"
  gather_facts: false
  tasks:
    - name: Plan
      onprem.exchange.build_facts:
        target: "%s"
        esu_enrolled: true
      register: facts
    - name: Stage
      onprem.exchange.update_stage:
        plan: "{{ facts.plan }}"
        repository_url: "{{ secret_repository }}"
        repository_username: "{{ secret_repo_user }}"
        repository_password: "{{ secret_repo_password }}"
      register: staged
    - name: EEMS with an explicit EMS credential
      onprem.exchange.eems:
        ems_username: "{{ ansible_user }}"
        ems_password: "{{ secret_ems_password }}"
        service_running: true
        verify_timeout: 0
      register: eems
    - name: Show both results in full
      ansible.builtin.debug:
        msg: "{{ {'staged': staged, 'eems': eems} }}"
""" % TARGET


def _secret_fleet():
    raw = fleet()
    raw["lab"]["credential"] = {"username": "LAB\\ansible", "password": WINRM_PASSWORD}
    return raw


def _assert_nowhere(lab, run, caplog):
    places = {"stdout": run.result.stdout, "stderr": run.result.stderr}
    for folder, _dirs, files in os.walk(run.report_dir):
        for name in files:
            with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as handle:
                places["report " + name] = handle.read()
    with lab.state.lock:
        places["lab state"] = json.dumps(lab.state.data, default=str)
    lab.save()
    with open(os.path.join(lab.state_dir, "state.json"), encoding="utf-8") as handle:
        places["lab state.json"] = handle.read()
    places["lab log"] = "\n".join(record.getMessage() for record in caplog.records)
    places["lab command lines"] = "\n".join(
        line for name in lab.endpoints for line in lab.wsman.stats(name)["recent_command_lines"])
    # Credential data for the lab's own use (the account it checks) is not a leak.
    places["lab state"] = places["lab state"].replace(json.dumps(WINRM_PASSWORD), "")
    places["lab state.json"] = places["lab state.json"].replace(json.dumps(WINRM_PASSWORD), "")
    for what, secret in SECRETS.items():
        for place, text in places.items():
            assert secret not in text, "the %s secret appears in %s" % (what, place)


@pytest.fixture
def lab_log(caplog):
    caplog.set_level(logging.DEBUG, logger="lab")
    return caplog


def _vars_file(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return "@%s" % path


@pytest.mark.smoke
def test_audit_at_vvvv_shows_no_winrm_password(lab_factory, tmp_path, lab_log):
    lab = lab_factory(_secret_fleet())
    run = play(lab, tmp_path, "playbooks/audit.yml", ["FS1", "FE1"], "-vvvv")
    assert run.result.returncode == 0, tail(run.result)
    assert "ansible_password" in run.result.stdout or "FS1" in run.result.stdout
    _assert_nowhere(lab, run, lab_log)


def test_stage_with_repository_credential_and_eems_with_ems_password_at_vvvv(lab_factory, tmp_path, lab_log):
    lab = lab_factory(_secret_fleet())
    secrets_file = _vars_file(tmp_path / "vault.yml", {
        "secret_repository": "\\\\files.lab.contoso.test\\exchange$", "secret_repo_user": "LAB\\svc-repo",
        "secret_repo_password": REPOSITORY_PASSWORD, "secret_ems_password": EMS_PASSWORD,
        "exchange_hosts": "FS1,FE1"})
    playbook = tmp_path / "stage_eems.yml"
    playbook.write_text(STAGE_AND_EEMS, encoding="utf-8")
    run = play(lab, tmp_path / "run", str(playbook), ["FS1", "FE1"], "-vvvv", "--diff", "-e", secrets_file)
    assert run.result.returncode == 0, tail(run.result)
    # The secrets did their work: the share was read with its account, EMS was reached.
    assert lab.state.server("FS1").get("staged_files"), tail(run.result)
    assert "Invoke-PackageDownload" in lab.stats("FS1")["operations"]
    _assert_nowhere(lab, run, lab_log)


def test_eems_playbook_at_vvvv_with_a_change_and_a_check(lab_factory, tmp_path, lab_log):
    raw = _secret_fleet()
    raw["organizations"][0]["mitigations_enabled"] = False
    lab = lab_factory(raw)
    run = play(lab, tmp_path, "playbooks/eems.yml", ["FE1"], "-vvvv", "--diff",
               extra_vars={"exchange_eems_verify": True, "exchange_eems_verify_timeout": 20,
                           "exchange_eems_verify_interval": 0.5})
    assert run.result.returncode == 0, tail(run.result)
    assert lab.state.data["organizations"][0]["mitigations_enabled"] is True
    _assert_nowhere(lab, run, lab_log)


def test_remediate_at_vvvv_with_setup_and_repository_credentials(lab_factory, tmp_path, lab_log):
    lab = lab_factory(_secret_fleet())
    secrets_file = _vars_file(tmp_path / "vault.yml", {
        "exchange_patch_setup_username": "LAB\\ansible", "exchange_patch_setup_password": WINRM_PASSWORD,
        "exchange_esu_enrolled": True, "exchange_target": TARGET, "exchange_patch_poll_interval": 0.3,
        "exchange_patch_gate_poll_interval": 0.5, "exchange_eems_verify_timeout": 20,
        "exchange_eems_verify_interval": 0.5})
    run = play(lab, tmp_path / "run", "playbooks/remediate.yml", ["FS1"], "-vvvv", "-e", secrets_file,
               timeout=900)
    assert run.result.returncode == 0, tail(run.result)
    assert lab.state.server("FS1")["build"] == TARGET   # the window did patch, with the Setup account
    assert CU15_ISO and os.path.isfile(os.path.join(run.report_dir, "exchange-remediation.json"))
    _assert_nowhere(lab, run, lab_log)


def test_preflight_at_vvvv_with_repository_credential(lab_factory, tmp_path, lab_log):
    lab = lab_factory(_secret_fleet())
    secrets_file = _vars_file(tmp_path / "vault.yml", {
        "exchange_repository_url": "\\\\files.lab.contoso.test\\exchange$",
        "exchange_repository_username": "LAB\\svc-repo", "exchange_repository_password": REPOSITORY_PASSWORD})
    run = play(lab, tmp_path / "run", "playbooks/preflight.yml", ["FS1", "FE1"], "-vvvv", "-e", secrets_file)
    assert run.result.returncode == 0, tail(run.result)
    # The share was checked from each server, and the credential shows up nowhere.
    with open(os.path.join(run.report_dir, "exchange-preflight.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["summary"]["hosts"]["ready"] == ["FE1", "FS1"]
    assert "Test-ExchangePrerequisite" in lab.stats("FS1")["operations"]
    _assert_nowhere(lab, run, lab_log)
