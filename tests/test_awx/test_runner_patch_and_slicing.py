"""playbooks/patch.yml under ansible-runner, as AWX runs it: one job, then a sliced job.

1. One patch window job laid out the way AWX lays it out (private data
   directory with the inventory, extra variables, the machine credential as
   ``-u`` on the command line and the password answered at the
   ``--ask-pass`` prompt), run from the project checkout.
2. Job slicing: AWX runs a template with ``job_slice_count: N`` as N jobs at
   the same time, slice k of N holding every N-th host in inventory order
   (``hosts[k-1::N]``), each job with an inventory of only its slice's hosts.
   Three slices over a fleet whose three DAG members fall in three different
   slices: the jobs know nothing of each other, so only the gate (which reads
   the DAG's real state on the servers) can keep two members from being out
   of service together.
"""
from __future__ import annotations

import copy
import glob
import json
import os
import shlex
import sys
import threading
import time

import pytest
import yaml

from labtools import REPO_ROOT

from lab.maintenance import out_of_service

ansible_runner = pytest.importorskip("ansible_runner")

from awxjob import run_awx_job  # noqa: E402 (after the skip when ansible-runner is absent)

PLAYBOOK = "playbooks/patch.yml"
TARGET = "15.2.1748.53"  # 2019 CU15 Sep26SUv2 (ESU)
CU15_ISO = "ExchangeServer2019-x64-CU15.ISO"
SU_MSP = "Exchange2019-KB5129956-x64-en.msp"
INSTALL = "onprem.exchange.update_install"
INSTALL_TASK = "Install, restart and verify"
MEMBERS = ["PM1", "PM2", "PM3"]
# Seconds the three slice jobs get together (about 35 s on an idle machine).
SLICED_DEADLINE = 150


def _fleet(builds):
    """test_patch.py's shape: one three-member DAG (PDAG) holding three
    databases, standalone servers with one database each, accelerated installs."""
    servers = []
    for name, build in builds.items():
        server = {"name": name, "build": build, "reboot_seconds": 10}
        if name in MEMBERS:
            server["dag"] = "PDAG"
        servers.append(server)
    databases = [{"name": "PDB%d" % (i + 1), "active": MEMBERS[i],
                  "copies": {m: {"activation_preference": 1 + (j - i) % 3} for j, m in enumerate(MEMBERS)}}
                 for i in range(3)]
    databases += [{"name": "SDB" + name[2:], "copies": {name: {}}} for name in builds if name not in MEMBERS]
    return {
        "lab": {"installer_seconds": {"cu": 30, "su": 15, "prepare_schema": 10, "prepare_ad": 10}},
        "organizations": [{"name": "Contoso", "esu_enrolled": True}],
        "dags": [{"name": "PDAG"}],
        "repository": {"packages": [{"name": CU15_ISO, "size_kb": 256}, {"name": SU_MSP, "size_kb": 64}]},
        "servers": servers,
        "databases": databases,
    }


def _extravars(reports):
    return {"exchange_patch_target": TARGET, "exchange_patch_esu_enrolled": True,
            "exchange_report_dir": reports,
            "exchange_patch_poll_interval": 0.3, "exchange_patch_gate_poll_interval": 0.3,
            "exchange_patch_gate_timeout": 600, "exchange_patch_reboot_timeout": 120,
            "exchange_patch_services_timeout": 5}


def _slice(inventory, hosts):
    """The inventory AWX hands one slice's job: every group keeps only that slice's hosts."""
    sliced = copy.deepcopy(inventory)
    for group in sliced["all"]["children"].values():
        group["hosts"] = {name: v for name, v in group.get("hosts", {}).items() if name in hosts}
    return sliced


def _private_data_dir(lab, root, extravars, hosts=None):
    """As test_runner.py: credentials not in the inventory but in cmdline
    (-u, --ask-pass) and env/passwords. Returns the password."""
    inventory = lab.inventory()
    exchange_vars = inventory["all"]["children"]["exchange"]["vars"]
    username = exchange_vars.pop("ansible_user")
    password = exchange_vars.pop("ansible_password")
    if hosts is not None:
        inventory = _slice(inventory, hosts)
    for sub in ("inventory", "env"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    with open(os.path.join(root, "inventory", "hosts.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(inventory, handle, sort_keys=False)
    files = {
        "extravars": extravars,
        "passwords": {r"^SSH [pP]assword:\s*?$": password},
        "cmdline": "-u %s --ask-pass" % shlex.quote(username),
        "envvars": {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
                    "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": os.path.join(root, ".ansible-tmp")},
        "settings": {"idle_timeout": 300, "job_timeout": 300, "pexpect_timeout": 5},
    }
    for name, content in files.items():
        with open(os.path.join(root, "env", name), "w", encoding="utf-8") as handle:
            handle.write(content if isinstance(content, str) else json.dumps(content))
    return password


def _stats_event(runner):
    stats = [e for e in runner.events if e["event"] == "playbook_on_stats"]
    assert len(stats) == 1
    return stats[0]


def _tail(runner):
    with open(runner.stdout.name, encoding="utf-8") as handle:
        return handle.read()[-4000:]


def _windows(log, name):
    """(first seq out of service, seq back in service) for every time ``name`` was out."""
    windows, start = [], None
    for entry in log:
        if entry["server"] != name:
            continue
        if entry["out_of_service"] and start is None:
            start = entry["seq"]
        elif not entry["out_of_service"] and start is not None:
            windows.append((start, entry["seq"]))
            start = None
    assert start is None, "%s was still out of service at the end of the log" % name
    return windows


# -- 1. one patch window job ------------------------------------------------------

@pytest.mark.smoke
def test_patch_job_under_runner_patches_reports_its_summary_and_leaks_no_password(lab_factory, tmp_path):
    lab = lab_factory(_fleet({"PM1": "15.2.1748.46", "PM2": "15.2.1748.46", "PM3": TARGET,
                              "PS1": "15.2.1748.39"}))
    hosts = ["PM1", "PM2", "PM3", "PS1"]
    root = str(tmp_path / "job")
    reports = os.path.join(root, "reports")
    password = _private_data_dir(lab, root, _extravars(reports))
    runner = run_awx_job(root, REPO_ROOT, PLAYBOOK, "patch")[0]
    assert (runner.status, runner.rc) == ("successful", 0), _tail(runner)

    events = list(runner.events)
    assert not any(e["event"] in ("runner_on_failed", "runner_on_unreachable") for e in events)
    install = [e for e in events if e["event"] in ("runner_on_ok", "runner_on_skipped", "runner_on_failed")
               and e["event_data"].get("task_action") == INSTALL
               and e["event_data"].get("task", "").endswith(INSTALL_TASK)]
    # One event per host for the install task: an ok for each server with
    # work, a skip for the one already at the target.
    assert sorted(e["event_data"]["host"] for e in install) == hosts
    outcome = {e["event_data"]["host"]: e["event"] for e in install}
    assert outcome == {"PM1": "runner_on_ok", "PM2": "runner_on_ok", "PM3": "runner_on_skipped",
                       "PS1": "runner_on_ok"}
    for event in install:
        if event["event"] == "runner_on_ok":
            res = event["event_data"]["res"]
            assert res["changed"] and res["build_after"] == TARGET
            assert [(s["action"], s["update"], s["result"]) for s in res["steps_done"]] == [
                ("install_su", "Sep26SUv2", "succeeded")]

    # set_stats: what AWX hands the next workflow node, in the stats event
    # and in the job's artifacts on disk.
    summary = _stats_event(runner)["event_data"]["artifact_data"]["exchange_patch_summary"]
    assert summary["total"] == 4 and summary["problems"] == 0
    assert {k: v for k, v in summary["by_status"].items() if v} == {"patched": 3, "up_to_date": 1}
    assert summary["hosts"]["in_maintenance"] == []
    artifacts = os.path.join(root, "artifacts", "patch")
    on_disk = []
    for path in glob.glob(os.path.join(artifacts, "job_events", "*.json")):
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
        if event["event"] == "playbook_on_stats":
            on_disk.append(event["event_data"]["artifact_data"])
    assert len(on_disk) == 1 and on_disk[0]["exchange_patch_summary"] == summary
    assert set(on_disk[0]["exchange_patch_files"]) == {"html", "json", "csv", "markdown"}
    for name, expected in (("status", "successful"), ("rc", "0")):
        with open(os.path.join(artifacts, name), encoding="utf-8") as handle:
            assert handle.read().strip() == expected

    # The lab: patched, back in service, never two DAG members out together.
    assert {n: lab.state.server(n)["build"] for n in hosts} == {n: TARGET for n in hosts}
    assert not any(out_of_service(lab.state.server(n)) for n in hosts)
    assert lab.dag_violations() == []

    # The password is in no event, no stdout, no artifact file, no report.
    assert len(events) > 50
    for event in events:
        assert password not in event.get("stdout", ""), event["event"]
        assert password not in json.dumps(event.get("event_data", {})), event["event"]
    checked = 0
    for folder in (artifacts, reports):
        for path in glob.glob(os.path.join(folder, "**", "*"), recursive=True):
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as handle:
                    assert password not in handle.read(), path
                checked += 1
    assert checked > 10


# -- 2. a sliced patch window -----------------------------------------------------

def test_three_concurrent_job_slices_patch_a_dag_one_member_at_a_time(lab_factory, tmp_path, monkeypatch):
    builds = {"PM1": "15.2.1544.39",   # CU14 -> CU15 -> Sep26SUv2
              "PM2": "15.2.1748.46", "PM3": "15.2.1748.46",  # SU only
              "PS1": "15.2.1748.39", "PS2": "15.2.1748.39"}
    lab = lab_factory(_fleet(builds))
    inventory_order = list(lab.inventory()["all"]["children"]["exchange"]["hosts"])
    assert inventory_order == sorted(inventory_order) == list(builds)  # name order is inventory order here
    count = 3
    slices = [inventory_order[k - 1::count] for k in range(1, count + 1)]
    assert slices == [["PM1", "PS1"], ["PM2", "PS2"], ["PM3"]]  # every DAG member in its own slice
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)

    jobs, stop = [], threading.Event()
    for k, hosts in enumerate(slices, 1):
        root = str(tmp_path / ("slice%d" % k))
        reports = os.path.join(root, "reports")
        password = _private_data_dir(lab, root, _extravars(reports), hosts=hosts)
        job = {"slice": k, "hosts": hosts, "reports": reports, "started": time.monotonic()}
        job["thread"], job["runner"] = ansible_runner.run_async(
            private_data_dir=root, project_dir=REPO_ROOT, playbook=PLAYBOOK, quiet=True, ident="slice%d" % k,
            cancel_callback=stop.is_set,
            finished_callback=lambda _runner, job=job: job.update(finished=time.monotonic()))
        jobs.append(job)
    deadline = time.monotonic() + SLICED_DEADLINE
    for job in jobs:
        job["thread"].join(timeout=max(0.0, deadline - time.monotonic()))
    hung = [job["slice"] for job in jobs if job["thread"].is_alive()]
    if hung:  # cancel them (ansible-runner stops the playbook) before judging
        stop.set()
        for job in jobs:
            job["thread"].join(timeout=30)

    # Never two DAG members out of service together (judged first: a broken
    # gate shows here, even when it also left a job stuck).
    assert lab.dag_violations() == []
    assert not hung, "slices %s did not finish within %d s" % (hung, SLICED_DEADLINE)
    # The slices really ran at the same time: every job started before any ended.
    assert max(j["started"] for j in jobs) < min(j["finished"] for j in jobs)
    for job in jobs:
        runner = job["runner"]
        assert (runner.status, runner.rc) == ("successful", 0), "slice %d\n%s" % (job["slice"], _tail(runner))
        with open(os.path.join(job["reports"], "exchange-patch.json"), encoding="utf-8") as handle:
            report = json.load(handle)
        # Each slice's job saw and reported only its own hosts.
        assert {s["name"]: s["status"] for s in report["servers"]} == {n: "patched" for n in job["hosts"]}
        assert _stats_event(runner)["event_data"]["artifact_data"]["exchange_patch_summary"]["problems"] == 0
        for event in runner.events:
            assert password not in event.get("stdout", "")

    # Every server patched to the planned target and back in service.
    assert {n: lab.state.server(n)["build"] for n in builds} == {n: TARGET for n in builds}
    assert not any(out_of_service(lab.state.server(n)) for n in builds)
    # The log shows the members' windows one after another, never overlapping.
    log = lab.maintenance_log
    windows = sorted((w, name) for name in MEMBERS for w in _windows(log, name))
    assert {name for _, name in windows} == set(MEMBERS), windows
    for (earlier, a), (later, b) in zip(windows, windows[1:]):
        assert earlier[1] < later[0], "%s %s overlaps %s %s" % (a, earlier, b, later)
    # Standalone servers do not queue behind the DAG: one was out while a member was.
    standalone = [w for name in ("PS1", "PS2") for w in _windows(log, name)]
    assert standalone and any(s[0] < m[1] and m[0] < s[1] for s in standalone for m, _ in windows)
