"""playbooks/audit.yml under ansible-runner, the engine AWX runs every job with.

The job is laid out the way AWX lays it out: a private data directory with
the inventory, extra variables and the machine credential (user on the
command line, password answered at the --ask-pass prompt, never in the
inventory), run from the project checkout so its ansible.cfg applies.
"""
from __future__ import annotations

import json
import os
import shlex
import sys

import pytest
import yaml

from labtools import REPO_ROOT

ansible_runner = pytest.importorskip("ansible_runner")

from awxjob import run_awx_job  # noqa: E402 (after the skip when ansible-runner is absent)

BUILD_FACTS = "onprem.exchange.build_facts"


def _private_data_dir(lab, root, extravars):
    """Write a private data directory as AWX would: credentials are not in
    the inventory but in cmdline (-u, --ask-pass) and env/passwords."""
    inventory = lab.inventory()
    exchange_vars = inventory["all"]["children"]["exchange"]["vars"]
    username = exchange_vars.pop("ansible_user")
    password = exchange_vars.pop("ansible_password")
    for sub in ("inventory", "env"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    with open(os.path.join(root, "inventory", "hosts.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(inventory, handle, sort_keys=False)
    files = {
        "extravars": extravars,
        # The pattern AWX answers the Machine credential's password with.
        "passwords": {r"^SSH [pP]assword:\s*?$": password},
        "cmdline": "-u %s --ask-pass" % shlex.quote(username),
        # The execution environment's own ansible-playbook comes first on PATH.
        "envvars": {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
                    "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": os.path.join(root, ".ansible-tmp")},
        "settings": {"idle_timeout": 600, "job_timeout": 900, "pexpect_timeout": 5},
    }
    for name, content in files.items():
        with open(os.path.join(root, "env", name), "w", encoding="utf-8") as handle:
            handle.write(content if isinstance(content, str) else json.dumps(content))
    return password


@pytest.fixture(scope="module")
def audit_job(default_lab, tmp_path_factory):
    for name in default_lab.endpoints:
        default_lab.run_eems_check(name)
    root = str(tmp_path_factory.mktemp("runner-audit"))
    reports = os.path.join(root, "reports")
    password = _private_data_dir(default_lab, root, {"exchange_report_dir": reports, "exchange_target": "eems"})
    runner = run_awx_job(root, REPO_ROOT, "playbooks/audit.yml", "audit")[0]
    return runner, root, reports, password


@pytest.mark.smoke
def test_audit_job_succeeds_with_one_build_facts_result_per_server(audit_job, default_lab):
    runner, reports = audit_job[0], audit_job[2]
    assert (runner.status, runner.rc) == ("successful", 0), runner.stdout.read()[-3000:]
    events = list(runner.events)
    ok = [e for e in events if e["event"] == "runner_on_ok" and e["event_data"].get("task_action") == BUILD_FACTS]
    assert sorted(e["event_data"]["host"] for e in ok) == sorted(default_lab.endpoints)
    # Every host's structured result is in its event, as AWX's job detail shows it.
    plans = {e["event_data"]["host"]: e["event_data"]["res"]["plan"] for e in ok}
    assert plans["EXSE1"]["steps"] == []
    assert not any(e["event"] in ("runner_on_failed", "runner_on_unreachable") for e in events)
    assert os.path.exists(os.path.join(reports, "exchange-audit.html"))


def test_artifacts_carry_status_rc_and_the_set_stats_summary(audit_job):
    runner, root = audit_job[0], audit_job[1]
    artifacts = os.path.join(root, "artifacts", "audit")
    with open(os.path.join(artifacts, "status"), encoding="utf-8") as handle:
        assert handle.read().strip() == "successful"
    with open(os.path.join(artifacts, "rc"), encoding="utf-8") as handle:
        assert handle.read().strip() == "0"
    # AWX reads set_stats from the stats event's artifact_data and hands it
    # to the next workflow node as extra variables.
    stats = [e for e in runner.events if e["event"] == "playbook_on_stats"]
    assert len(stats) == 1
    summary = stats[0]["event_data"]["artifact_data"]["exchange_audit_summary"]
    assert summary["total"] == 12
    assert summary["by_eems_status"]["working"] == 3
    assert summary["unreachable"] == 0 and summary["failed"] == 0
    assert runner.stats["ok"] and not runner.stats["failures"]
    assert set(stats[0]["event_data"]["artifact_data"]["exchange_audit_files"]) >= {"html", "json"}


def test_no_secret_in_any_event_or_artifact(audit_job):
    runner, root, password = audit_job[0], audit_job[1], audit_job[3]
    events = list(runner.events)
    assert len(events) > 20  # the job ran, at verbosity 3
    for event in events:
        assert password not in event.get("stdout", ""), event["event"]
        assert password not in json.dumps(event.get("event_data", {})), event["event"]
    job_events = os.path.join(root, "artifacts", "audit", "job_events")
    for name in os.listdir(job_events):
        with open(os.path.join(job_events, name), encoding="utf-8") as handle:
            assert password not in handle.read(), name
    with open(os.path.join(root, "artifacts", "audit", "stdout"), encoding="utf-8") as handle:
        assert password not in handle.read()
