"""preflight.yml on the lab: it names what blocks which job, with the fix, and changes nothing."""
from __future__ import annotations

import copy
import json
import time

import yaml

import pytest

from labtools import changed_counts, run_playbook, write_inventory
from lab import maintenance, staging
from lab.fleet import DEFAULT_FLEET

READS = {"Get-HostIdentity", "Get-ExchangeFacts", "Get-EemsState", "Get-MaintenanceState", "Get-RewriteConfiguration",
         "Get-ActiveDirectoryPrepState", "Test-ExchangeInstallHealth", "Get-MitigationServiceEvent",
         "Get-InstallerTaskState", "Get-StagedFile", "Get-RepositoryManifest", "Test-ExchangePrerequisite"}


def _fleet():
    with open(DEFAULT_FLEET, encoding="utf-8") as handle:
        fleet = yaml.safe_load(handle)
    # Frozen lab time: nothing in the lab moves by itself, so any change is preflight's.
    fleet["lab"]["clock_factor"] = 0
    for server in fleet["servers"]:
        if server["name"] == "EX19C":
            # This server is managed with an account that is only in Server Management.
            server["ems_role_groups"] = ["Server Management"]
        if server["name"] == "EX19D":
            # The account's Organization Management assignments carry a custom
            # write scope (a server filter) that leaves EX19D out.
            server["ems_scope_excluded_role_groups"] = ["Organization Management"]
        if server["name"] == "EX19A":
            # Someone removed the Visual C++ 2013 runtime; its plan runs Setup (CU15, then SE).
            server["setup_prerequisites"] = {"vcredist2012": "11.0.61030", "vcredist2013": None,
                                             "ucma4": "5.0.8308.0"}
        if server["name"] == "FBEX01":
            # No UCMA, but its plan is one Security Update: Setup's readiness check does not run.
            server["setup_prerequisites"] = {"vcredist2012": "11.0.61030", "vcredist2013": "12.0.40664"}
    return fleet


def _snapshot(lab):
    with lab.state.lock:
        return copy.deepcopy(lab.state.data)


def _differences(before, after, path=""):
    """Every path where two states differ (a readable assertion message)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [d for key in sorted(set(before) | set(after), key=str)
                for d in _differences(before.get(key), after.get(key), "%s.%s" % (path, key))]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [d for i, (a, b) in enumerate(zip(before, after)) for d in _differences(a, b, "%s[%d]" % (path, i))]
    return [] if before == after else ["%s: %r -> %r" % (path, before, after)]


def _settled(lab):
    """The lab's state once its start-up work is done: the ticker's first
    Mitigation Service checks ran, and the models' lazily filled defaults
    (cluster node Up, activation Unrestricted, an empty queue, no staged
    files) are filled in, as the first read of them fills them."""
    with lab.state.lock:
        for server in lab.state.servers():
            maintenance.cluster_node(server)
            maintenance.auto_activation(server)
            maintenance.move_now(server)
            maintenance.queue_messages(server, lab.clock.now())
            staging.staged_files(server)
            server.setdefault("staging_dirs", [])
    previous, deadline = _snapshot(lab), time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(lab.tick_seconds * 3)
        current = _snapshot(lab)
        if current == previous:
            return current
        previous = current
    raise AssertionError("the lab did not settle")


@pytest.mark.smoke
def test_preflight_names_the_missing_role_and_the_unreachable_repository_and_changes_nothing(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    with lab.state.lock:
        # A firewall between EX16C and the repository.
        lab.state.server("EX16C")["blocked_urls"] = [lab.repo_url]
    before = _settled(lab)
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    result = run_playbook(inventory, "playbooks/preflight.yml",
                          "-e", "exchange_report_dir=%s" % (tmp_path / "reports"),
                          "-e", "exchange_repository_url=%s" % lab.repo_url)
    output = result.stdout + result.stderr
    assert "Traceback" not in output

    # Nothing changed: no task reported a change, only reads ran, and the lab is as it was.
    changed = changed_counts(result.stdout)
    # The report steps run on the controller for the servers' play: the recap names the 12 servers.
    assert len(changed) == 12 and set(changed.values()) == {0}, changed
    changes = _differences(before, _snapshot(lab))
    assert not changes, "\n".join(changes)
    for server in before["servers"]:
        ran = set(lab.stats(server["name"])["operations"])
        assert ran and ran <= READS, (server["name"], ran - READS)

    with open(tmp_path / "reports" / "exchange-preflight.json", encoding="utf-8") as handle:
        report = json.load(handle)
    servers = {s["name"]: s for s in report["servers"]}

    # The account without Organization Management: EEMS's organisation switch and Setup are blocked.
    ex19c = servers["EX19C"]
    assert ex19c["status"] == "not_ready"
    assert ex19c["jobs"] == {"audit": "ready", "stage": "ready", "patch": "blocked", "mitigate": "ready",
                             "eems": "blocked"}
    role = next(f for f in ex19c["findings"] if f["id"] == "role_missing")
    assert role["jobs"] == ["eems"]
    assert "holds no Exchange role that includes Set-OrganizationConfig" in role["message"]
    assert "Organization Configuration" in role["fix"] and "Organization Management" in role["fix"]
    setup = next(f for f in ex19c["findings"] if f["id"] == "setup_role_group_missing")
    assert "Add-RoleGroupMember 'Organization Management'" in setup["fix"]

    # The server behind a firewall: staging and patching are blocked, the fix names the repository host.
    ex16c = servers["EX16C"]
    assert ex16c["status"] == "not_ready"
    assert ex16c["jobs"]["stage"] == ex16c["jobs"]["patch"] == "blocked"
    assert ex16c["jobs"]["eems"] == "ready"
    unreachable = next(f for f in ex16c["findings"] if f["id"] == "repository_unreachable")
    assert "cannot reach the installer repository %s: Unable to connect" % lab.repo_url in unreachable["message"]
    assert unreachable["fix"].startswith("Allow this server to reach 127.0.0.1")

    # The server outside the account's write scope: every job that changes the server is blocked.
    ex19d = servers["EX19D"]
    assert ex19d["jobs"] == {"audit": "ready", "stage": "ready", "patch": "blocked", "mitigate": "blocked",
                             "eems": "blocked"}
    scoped = {f["id"] for f in ex19d["findings"]}
    assert scoped == {"role_scope_excludes_server"}, ex19d["findings"]
    assert all("Set-ManagementScope" in f["fix"] for f in ex19d["findings"])

    # The server without the Visual C++ 2013 runtime: only patch is blocked (Setup would refuse to start,
    # with the server already out of service); staging still works. The fix names the package and its source.
    ex19a = servers["EX19A"]
    assert ex19a["jobs"] == {"audit": "ready", "stage": "ready", "patch": "blocked", "mitigate": "ready",
                             "eems": "ready"}
    [vc2013] = ex19a["findings"]
    assert vc2013["id"] == "setup_prerequisite_missing" and vc2013["severity"] == "blocker"
    assert vc2013["message"].startswith("Visual C++ Redistributable Package for Visual Studio 2013 is not installed.")
    assert vc2013["fix"].startswith("Install Visual C++ Redistributable Package for Visual Studio 2013 "
                                    "(12.0.40664 or later) from Microsoft support article 4032938")
    # The server without UCMA whose plan is one SU: a warning, not a blocker.
    fbex01 = servers["FBEX01"]
    assert fbex01["status"] == "ready_with_warnings" and fbex01["jobs"]["patch"] == "warning"
    assert [f["id"] for f in fbex01["findings"]] == ["setup_prerequisite_missing"]
    assert "installs no Cumulative Update" in fbex01["findings"][0]["message"]

    # EX19E's interrupted setup is the fleet's own blocker; every other server is ready.
    assert report["summary"]["hosts"]["not_ready"] == ["EX16C", "EX19A", "EX19C", "EX19D", "EX19E"]
    assert {f["id"] for f in servers["EX19E"]["findings"]} >= {"setup_interrupted", "reboot_pending"}
    assert all(servers[name]["status"] == "ready" for name in servers
               if name not in ("EX16C", "EX19A", "EX19C", "EX19D", "EX19E", "FBEX01"))

    # Every format names both servers with their fix; the job fails after writing the report.
    for ext in ("md", "csv", "html"):
        with open(tmp_path / "reports" / ("exchange-preflight." + ext), encoding="utf-8") as handle:
            text = handle.read()
        assert "Set-OrganizationConfig" in text and "Allow this server to reach 127.0.0.1" in text, ext
    assert result.returncode != 0
    assert "Not ready: EX16C, EX19A, EX19C, EX19D, EX19E; the report says what to fix." in output

    # Check mode (an AWX "Check" job) runs the same reads and reaches the same verdicts.
    checked = run_playbook(inventory, "playbooks/preflight.yml", "--check", "--limit", "EX16C,EX19C,localhost",
                           "-e", "exchange_report_dir=%s" % (tmp_path / "check"),
                           "-e", "exchange_repository_url=%s" % lab.repo_url)
    with open(tmp_path / "check" / "exchange-preflight.json", encoding="utf-8") as handle:
        again = {s["name"]: s for s in json.load(handle)["servers"]}
    assert {name: s["findings"] for name, s in again.items()} == {
        name: servers[name]["findings"] for name in ("EX16C", "EX19C")}
    assert _differences(before, _snapshot(lab)) == [] and checked.returncode != 0
