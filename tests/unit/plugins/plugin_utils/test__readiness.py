"""The preflight judge: which job each finding blocks, and the fix it names."""
from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_call, _readiness

REPO = "https://exrepo.corp.contoso.test/exchange/"


def _facts(**changes):
    facts = {"computer_name": "EX01", "system_drive": "C:", "free_disk_gb": 80.0, "dotnet_release": 533320,
             "url_rewrite": {"installed": True, "version": "7.2.1993"},
             "pending_reboot": {"pending": False, "reasons": []}, "setup_watermark": None,
             "setup": {"exsetup_version": "15.2.1748.53"}, "exchange": {"dag": None}}
    facts.update(changes)
    return facts


def _prereq(groups=("Organization Management",), denied=(), **changes):
    cmdlets = [{"cmdlet": c, "granted": c not in denied, "granting_roles": [] if c in denied else ["Role"],
                "roles_with_cmdlet": ["Organization Configuration"] if c == "Set-OrganizationConfig" else ["Role"]}
               for c in _readiness.all_cmdlets()]
    prereq = {"computer_name": "EX01",
              "winrm": {"account": "CONTOSO\\svc", "local_admin": True,
                        "listeners": [{"transport": "HTTPS", "port": 5986, "address": "*", "enabled": True}]},
              "ems": {"available": True, "mode": "remote", "error": None},
              "roles": {"account": "CONTOSO\\svc", "read": True, "error": None, "assigned": ["Role"],
                        "role_groups": list(groups), "cmdlets": cmdlets, "writable_here": ["Role"],
                        "scope_error": None},
              "endpoints": [{"name": "repository", "url": REPO + "manifest.json", "reachable": True,
                             "status_code": 200, "error": None},
                            {"name": "ocs", "url": _readiness.DEFAULT_OCS_URL, "reachable": True, "status_code": 200,
                             "error": None}]}
    for key, value in changes.items():
        prereq[key] = value
    return prereq


def _answers(facts=None, **failed):
    answers = {op: {"ok": True, "data": {}, "error": None, "kind": None} for op in _readiness.READ_OPERATIONS}
    answers["Get-ExchangeFacts"]["data"] = facts or _facts()
    for op, (kind, error) in failed.items():
        answers[op.replace("_", "-")] = {"ok": False, "data": None, "error": error, "kind": kind}
    return answers


def _ids(verdict):
    return [f["id"] for f in verdict["findings"]]


def test_a_server_with_everything_in_place_is_ready_for_every_job():
    verdict = _readiness.judge(_answers(), _prereq(), repository_url=REPO)
    assert verdict == {"status": "ready", "jobs": dict.fromkeys(_readiness.JOBS, "ready"), "findings": []}


def test_the_cmdlets_of_each_job_come_from_the_host_scripts():
    cmdlets = _readiness.job_cmdlets()
    assert "Set-OrganizationConfig" in cmdlets["eems"] and "Set-OrganizationConfig" not in cmdlets["patch"]
    assert {"Set-ServerComponentState", "Redirect-Message", "Get-Queue"} <= set(cmdlets["patch"])
    # Every script that opens an EMS session names what it imports, and the parser finds it.
    for name in (n for n in os.listdir(_host_call.SCRIPT_DIR) if n.endswith(".ps1")):
        with open(os.path.join(_host_call.SCRIPT_DIR, name), encoding="utf-8") as handle:
            if "Open-ExchangeSession -Ems" in handle.read():
                assert _readiness.exchange_cmdlets(name[:-4]), name


def test_a_missing_role_blocks_only_the_job_that_needs_it_and_names_the_roles_that_would_do():
    verdict = _readiness.judge(_answers(), _prereq(denied=("Set-OrganizationConfig",)), repository_url=REPO)
    assert verdict["status"] == "not_ready"
    assert verdict["jobs"] == {"audit": "ready", "stage": "ready", "patch": "ready", "mitigate": "ready",
                               "eems": "blocked"}
    finding = verdict["findings"][0]
    assert finding["message"] == ("CONTOSO\\svc holds no Exchange role that includes Set-OrganizationConfig, which "
                                  "the eems job runs.")
    assert "(in this organisation: Organization Configuration)" in finding["fix"]


def test_setup_needs_the_organization_management_role_group():
    verdict = _readiness.judge(_answers(), _prereq(groups=("Server Management",)), repository_url=REPO)
    assert _ids(verdict) == ["setup_role_group_missing"] and verdict["jobs"]["patch"] == "blocked"


def test_roles_that_cannot_be_read_are_a_warning_not_a_guess():
    prereq = _prereq()
    prereq["roles"].update(read=False, error="The term 'Get-ManagementRoleAssignment' is not recognized", cmdlets=[],
                           role_groups=[])
    verdict = _readiness.judge(_answers(), prereq, repository_url=REPO)
    assert _ids(verdict) == ["roles_unknown"] and verdict["status"] == "ready_with_warnings"


def test_a_role_whose_write_scope_leaves_the_server_out_blocks_the_jobs_that_change_the_server():
    prereq = _prereq()
    prereq["roles"]["writable_here"] = []
    verdict = _readiness.judge(_answers(), prereq, repository_url=REPO)
    assert _ids(verdict) == ["role_scope_excludes_server"] * 3
    assert verdict["jobs"] == {"audit": "ready", "stage": "ready", "patch": "blocked", "mitigate": "blocked",
                               "eems": "blocked"}
    patch = next(f for f in verdict["findings"] if f["jobs"] == ["patch"])
    assert patch["message"] == ("CONTOSO\\svc holds Role (with Set-MailboxServer, Set-ServerComponentState), but no "
                                "assignment of it has a write scope that includes this server, so the patch job "
                                "cannot change it.")
    assert "Set-ManagementScope" in patch["fix"] and "Organization Management" in patch["fix"]


def test_a_server_write_role_in_scope_through_another_assignment_is_enough():
    prereq = _prereq()
    for entry in prereq["roles"]["cmdlets"]:
        entry["granting_roles"] = ["Role", "Other"]
    prereq["roles"]["writable_here"] = ["Other"]
    assert _readiness.judge(_answers(), prereq, repository_url=REPO)["status"] == "ready"


def test_scopes_that_cannot_be_read_are_a_warning_and_an_older_answer_without_them_is_left_alone():
    prereq = _prereq()
    prereq["roles"].update(writable_here=None, scope_error="Cannot bind parameter 'WritableServer'.")
    verdict = _readiness.judge(_answers(), prereq, repository_url=REPO)
    assert _ids(verdict) == ["role_scope_unknown"] and verdict["status"] == "ready_with_warnings"
    assert "Cannot bind parameter 'WritableServer'." in verdict["findings"][0]["message"]
    for key in ("writable_here", "scope_error"):
        del prereq["roles"][key]
    assert _readiness.judge(_answers(), prereq, repository_url=REPO)["status"] == "ready"


@pytest.mark.parametrize("endpoint, fid", [
    ({"reachable": False, "status_code": None, "error": "Unable to connect to the remote server"},
     "repository_unreachable"),
    ({"reachable": True, "status_code": 403, "error": "(403) Forbidden."}, "repository_refused"),
    ({"reachable": True, "status_code": 404, "error": "(404) Not Found."}, "repository_manifest_missing"),
])
def test_each_way_the_repository_fails_has_its_own_fix(endpoint, fid):
    prereq = _prereq()
    prereq["endpoints"][0].update(endpoint)
    verdict = _readiness.judge(_answers(), prereq, repository_url=REPO)
    assert _ids(verdict) == [fid]
    assert verdict["jobs"]["stage"] == verdict["jobs"]["patch"] == "blocked" and verdict["jobs"]["eems"] == "ready"


def test_an_unreachable_office_config_service_blocks_eems_and_names_the_host_to_open():
    prereq = _prereq()
    prereq["endpoints"][1].update(reachable=False, error="The remote name could not be resolved")
    verdict = _readiness.judge(_answers(), prereq, repository_url=REPO)
    assert _ids(verdict) == ["ocs_unreachable"] and verdict["jobs"]["eems"] == "blocked"
    assert "officeclient.microsoft.com" in verdict["findings"][0]["fix"]


def test_without_a_repository_the_check_is_named_as_not_done():
    prereq = _prereq()
    prereq["endpoints"] = prereq["endpoints"][1:]
    verdict = _readiness.judge(_answers(), prereq, repository_url=None)
    assert _ids(verdict) == ["repository_not_given"] and verdict["status"] == "ready_with_warnings"


def test_second_hop_and_access_denied_get_different_fixes():
    second_hop = _prereq(ems={"available": False, "mode": "remote", "error": "... errorcode 0x80090311 occurred ..."})
    denied = _prereq(ems={"available": False, "mode": "remote", "error": "Access is denied."})
    failed = {"Get_EemsState": ("operation", "host operation Get-EemsState failed: x")}
    first = _readiness.judge(_answers(**failed), second_hop, repository_url=REPO)
    assert _ids(first) == ["ems_unavailable"]  # the failed Get-EemsState is explained by the EMS finding
    assert "ems_username/ems_password" in first["findings"][0]["fix"]
    second = _readiness.judge(_answers(), denied, repository_url=REPO)
    assert "RemotePowerShellEnabled" in second["findings"][0]["fix"]


def test_an_off_contract_answer_blocks_the_jobs_that_read_it():
    failed = {"Get_MaintenanceState": ("malformed", "host operation Get-MaintenanceState answered queue_messages = "
                                                    "'0', expected a whole number")}
    verdict = _readiness.judge(_answers(**failed), _prereq(), repository_url=REPO)
    assert _ids(verdict) == ["answer_off_contract"]
    assert verdict["jobs"] == {"audit": "ready", "stage": "ready", "patch": "blocked", "mitigate": "ready",
                               "eems": "ready"}
    assert "queue_messages" in verdict["findings"][0]["message"]


@pytest.mark.parametrize("facts, fid, severity", [
    (_facts(free_disk_gb=12.5), "disk_low", "blocker"),
    (_facts(dotnet_release=461814), "dotnet_old", "warning"),
    (_facts(dotnet_release=None), "dotnet_unknown", "warning"),
    (_facts(url_rewrite={"installed": False, "version": None}), "url_rewrite_missing", "warning"),
    (_facts(pending_reboot={"pending": True, "reasons": ["WindowsUpdate"]}), "reboot_pending", "warning"),
    (_facts(setup_watermark={"role": "MailboxRole", "watermark": "x", "action": "Install"}), "setup_interrupted",
     "blocker"),
])
def test_local_prerequisites(facts, fid, severity):
    verdict = _readiness.judge(_answers(facts), _prereq(), repository_url=REPO)
    assert [(f["id"], f["severity"]) for f in verdict["findings"]] == [(fid, severity)]


def test_winrm_without_https_and_without_local_admin():
    prereq = _prereq(winrm={"account": "CONTOSO\\svc", "local_admin": False,
                            "listeners": [{"transport": "HTTP", "port": 5985, "address": "*", "enabled": True}]})
    verdict = _readiness.judge(_answers(), prereq, repository_url=REPO)
    assert _ids(verdict) == ["not_local_admin", "winrm_no_https"]
    assert set(verdict["jobs"].values()) == {"blocked"}


def test_the_judge_does_not_change_its_input():
    answers, prereq = _answers(), _prereq(denied=("Get-Queue",))
    saved = copy.deepcopy((answers, prereq))
    _readiness.judge(answers, prereq, repository_url=REPO)
    assert (answers, prereq) == saved


def test_a_broken_manifest_on_a_reachable_repository_is_reported_once():
    failed = {"Get_RepositoryManifest": ("operation", "host operation Get-RepositoryManifest failed: Invalid JSON "
                                                      "primitive: <html>.")}
    verdict = _readiness.judge(_answers(**failed), _prereq(), repository_url=REPO)
    assert _ids(verdict) == ["operation_failed"] and "Invalid JSON primitive" in verdict["findings"][0]["message"]
    assert verdict["jobs"]["stage"] == "blocked"
    # When the server cannot reach the repository at all, that finding says it, once.
    prereq = _prereq()
    prereq["endpoints"][0].update(reachable=False, status_code=None, error="Unable to connect to the remote server")
    assert _ids(_readiness.judge(_answers(**failed), prereq, repository_url=REPO)) == ["repository_unreachable"]
