"""onprem.exchange.mitigation and playbooks/mitigate.yml against the lab.

Most tests run the action plugin directly over real WinRM to one lab server
(the plugin's connection is the pywinrm stand-in), which is quick; the
playbook tests run the real ansible-playbook.
"""
from __future__ import annotations

import copy
import json
import re
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from labtools import changed_counts, run_playbook, write_inventory
from lab import iis
from lab.client import WinRMClient

from ansible_collections.onprem.exchange.plugins.action.mitigation import ActionModule

UNFIXED = "15.2.1118.7"      # 2019 CU12 RTM: before the ProxyNotShell and OWA CSP fixes
PROXYLOGON_ERA = "15.2.792.3"  # 2019 CU8 RTM: before the ProxyLogon fix
FIXED_41040 = "15.2.1118.26"  # 2019 CU12 Mar23SU

PROXYNOTSHELL = {"name": "PowerShell - inbound", "input": "{UrlDecode:{REQUEST_URI}}",
                 "pattern": "(?=.*autodiscover)(?=.*powershell)", "match_url": ".*", "action": "AbortRequest"}


def _fleet(build=UNFIXED, rules=None, **server):
    entry = {"name": "EXM1", "build": build, "rewrite_rules": rules or []}
    entry.update(server)
    return {"servers": [entry], "repository": {"packages": [
        {"name": "rewrite_amd64_en-US.msi", "size_kb": 64, "product_version": "7.2.1993"}]}}


def _run(lab, args, *, check=False, diff=False, name="EXM1"):
    task = MagicMock(Task)
    task.args = dict(args)
    task.check_mode = check
    task.diff = diff
    task.async_val = 0
    client = WinRMClient.for_lab(lab, name)
    # The plugin's only seam to the host is exec_command; the rest of an
    # Ansible connection is not needed here, and no connection credential
    # is offered as the EMS default.
    connection = MagicMock()
    connection.exec_command.side_effect = client.exec_command
    connection.get_option.side_effect = KeyError
    plugin = ActionModule(task=task, connection=connection, play_context=MagicMock(), loader=None, templar=None,
                          shared_loader_obj=None)
    try:
        return plugin.run(task_vars={"inventory_hostname": name})
    finally:
        client.close()


def _credentials(lab):
    credential = lab.state.data["lab"]["credential"]
    return {"ems_username": credential["username"], "ems_password": credential["password"]}


def _config(lab, name="EXM1"):
    with lab.state.lock:
        return copy.deepcopy(lab.state.server(name)["iis"]["locations"])


def _apphost(lab, name="EXM1"):
    with lab.state.lock:
        return copy.deepcopy(lab.state.server(name)["iis"]["apphost"])


def _files(lab, name="EXM1"):
    """Every location's file bytes and applicationHost.config's, as a
    byte-for-byte comparison needs them."""
    files = {path: iis.file_bytes(location) for path, location in _config(lab, name).items()}
    files["<applicationHost.config>"] = iis.file_bytes(_apphost(lab, name))
    return files


def _writes(lab, name="EXM1"):
    return {op: n for op, n in lab.stats(name)["operations"].items()
            if not op.startswith("Get-") and op != "<generic>"}


def _mitigation(result, cve):
    return next(m for m in result["mitigations"] if m["cve"] == cve)


# --- apply, idempotence, recognition -------------------------------------------

@pytest.mark.smoke
@pytest.mark.parametrize("cve, build", [("CVE-2022-41040", UNFIXED), ("CVE-2021-26855", PROXYLOGON_ERA),
                                        ("CVE-2026-42897", UNFIXED)])
def test_auto_applies_each_mitigation_on_a_fresh_server_and_a_rerun_changes_nothing(lab_factory, cve, build):
    lab = lab_factory(_fleet(build))
    first = _run(lab, {"name": cve, "state": "auto"})
    entry = _mitigation(first, cve)
    assert first["changed"] and entry["state"] == "present" and entry["code_fix"] is False
    assert entry["present"] and not entry["present_before"] and entry["protected_by"] == "mitigation"
    assert entry["providers"] and all(p["owner"] == "onprem.exchange" for p in entry["providers"])
    assert first["backup"]["id"]
    second = _run(lab, {"name": cve, "state": "auto"})
    assert not second["changed"] and second["changes"] == [] and _mitigation(second, cve)["present"]


def test_the_written_rules_are_the_exact_documented_configuration(lab_factory):
    lab = lab_factory(_fleet())
    _run(lab, {"name": "all", "state": "present"})
    site = _config(lab)[""]["inbound"]
    rule = next(r for r in site if "41040" in r["name"])
    assert rule["match"]["url"] == ".*" and rule["action"]["type"] == "AbortRequest" and rule["stop_processing"]
    assert rule["conditions"] == [{"input": "{UrlDecode:{REQUEST_URI}}", "pattern": "(?=.*autodiscover)(?=.*powershell)",
                                   "ignore_case": True, "negate": False}]
    owa = _config(lab)["/owa"]
    csp = owa["outbound"][0]
    assert csp["match"]["server_variable"] == "RESPONSE_Content_Security_Policy"
    assert csp["action"] == {"type": "Rewrite", "value": "{R:1}; script-src-attr 'none'"}
    pre = next(p for p in owa["preconditions"] if p["name"] == csp["precondition"])
    assert {c["input"] for c in pre["conditions"]} == {"{RESPONSE_CONTENT_TYPE}", "{REQUEST_URI}"}
    assert {r["name"] for r in site} >= {"onprem.exchange CVE-2021-26855 AnonResource - inbound",
                                         "onprem.exchange CVE-2021-26855 BEResource - inbound"}


EOMT_CSP = [
    {"entry": "precondition", "name": "EOMT OWA SPA HTML shell - precondition", "path": "/owa",
     "conditions": [{"input": "{RESPONSE_CONTENT_TYPE}", "pattern": "^text/html"},
                    {"input": "{REQUEST_URI}",
                     "pattern": "^/owa/?($|\\?|default\\.aspx|projection\\.aspx|readingPane\\.aspx|popout\\.aspx)"}]},
    {"name": "EOMT OWA CSP - outbound", "path": "/owa", "direction": "outbound",
     "server_variable": "RESPONSE_Content_Security_Policy", "match_pattern": "(.*)", "action": "Rewrite",
     "action_value": "{R:1}; script-src-attr 'none'", "precondition": "EOMT OWA SPA HTML shell - precondition",
     "stop_processing": False},
]
EOMT_PROXYLOGON = [
    {"name": "X-AnonResource-Backend Abort - inbound", "input": "{HTTP_COOKIE}",
     "pattern": "(.*)X-AnonResource-Backend(.*)", "stop_processing": False},
    {"name": "X-BEResource Abort - inbound", "input": "{HTTP_COOKIE}", "pattern": "(.*)X-BEResource=(.+)/(.+)~(.+)"},
]


@pytest.mark.parametrize("cve, rules, owner", [
    ("CVE-2022-41040", [dict(PROXYNOTSHELL, name="EEMS M1.1 PowerShell - inbound")], "eems"),
    ("CVE-2022-41040", [PROXYNOTSHELL], "eomt"),
    ("CVE-2022-41040", [dict(PROXYNOTSHELL, name="Block ProxyNotShell (change 4711)")], "manual"),
    ("CVE-2021-26855", EOMT_PROXYLOGON, "eomt"),
    ("CVE-2026-42897", EOMT_CSP, "eomt"),
], ids=["eems-m1", "eomtv2", "by-hand", "eomt-proxylogon", "eomt-owa-csp"])
def test_equivalent_rules_made_by_other_tools_count_as_present(lab_factory, cve, rules, owner):
    lab = lab_factory(_fleet(PROXYLOGON_ERA, rules))
    before = _files(lab)
    result = _run(lab, {"name": cve, "state": "present", "repair": True})
    assert not result["changed"], result["changes"]
    entry = _mitigation(result, cve)
    assert entry["present_before"] and {p["owner"] for p in entry["providers"]} == {owner}
    assert entry["findings"] == []
    assert _files(lab) == before and _writes(lab) == {}


# --- dangerous and stale variants --------------------------------------------------

VARIANTS = {
    "match_url_star": [dict(PROXYNOTSHELL, name="ZeroDay_Mitigation", match_url="*")],
    "input_superseded": [dict(PROXYNOTSHELL, input="{REQUEST_URI}")],
    "pattern_superseded": [dict(PROXYNOTSHELL, name="RequestBlockingRule1", input="{REQUEST_URI}",
                                pattern=".*autodiscover\\.json.*\\@.*Powershell.*")],
    "disabled": [dict(PROXYNOTSHELL, enabled=False)],
    "duplicate": [PROXYNOTSHELL, dict(PROXYNOTSHELL, name="Block ProxyNotShell copy")],
    "removed_below_site": [PROXYNOTSHELL, {"entry": "remove", "name": "PowerShell - inbound", "path": "/Autodiscover"}],
    "cleared_below_site": [PROXYNOTSHELL, {"entry": "clear", "path": "/PowerShell"}],
}
FINDING = {"cleared_below_site": "removed_below_site"}
MESSAGE = {
    "match_url_star": "every request below it fails with HTTP 500",
    "input_superseded": "reads {REQUEST_URI}: the raw URI can be percent-encoded",
    "pattern_superseded": "uses the superseded pattern",
    "disabled": "is disabled, so it protects nothing",
    "duplicate": "duplicates another rule",
    "removed_below_site": "so /Autodiscover is unprotected",
    "cleared_below_site": "so /PowerShell is unprotected",
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_dangerous_or_stale_variant_is_reported_and_repaired(lab_factory, variant):
    lab = lab_factory(_fleet(UNFIXED, VARIANTS[variant]))
    check = _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True}, check=True)
    before = _mitigation(check, "CVE-2022-41040")["findings_before"]
    found = [f for f in before if f["id"] == FINDING.get(variant, variant)]
    assert found and MESSAGE[variant] in found[0]["message"], before
    repaired = _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True})
    entry = _mitigation(repaired, "CVE-2022-41040")
    assert repaired["changed"] and entry["present"] and entry["findings"] == []
    assert not any(f["rule"] for f in repaired["findings"] if f["id"] == "match_url_star")
    assert not _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True})["changed"]


def test_without_repair_a_stale_rule_is_reported_and_the_mitigation_added_beside_it(lab_factory):
    lab = lab_factory(_fleet(UNFIXED, VARIANTS["input_superseded"]))
    result = _run(lab, {"name": "CVE-2022-41040", "state": "present"})
    entry = _mitigation(result, "CVE-2022-41040")
    assert result["changed"] and entry["present"]
    assert [f["id"] for f in entry["findings"]] == ["input_superseded"]
    assert [r["name"] for r in _config(lab)[""]["inbound"]] == ["onprem.exchange CVE-2022-41040 - inbound",
                                                                "PowerShell - inbound"]


# --- rules that live in applicationHost.config (CSS-Exchange issue 2003) -------------------

# Health Checker reported these three rules at Autodiscover; IIS Manager's
# view of the web.config files did not show ZeroDay_Mitigation (match
# url="*", the first published ProxyNotShell pattern), which lived in
# applicationHost.config under <location path="Default Web Site/Autodiscover">.
ISSUE_2003 = [
    dict(PROXYNOTSHELL, name="EEMS M1.1 PowerShell - inbound"),
    {"name": "ZeroDay_Mitigation", "config": "apphost", "path": "/Autodiscover", "input": "{REQUEST_URI}",
     "pattern": ".*autodiscover\\.json.*\\@.*Powershell.*", "match_url": "*", "action": "CustomResponse"},
    {"name": "PowerShell - inbound", "config": "apphost", "path": "/Autodiscover", "input": "{REQUEST_URI}",
     "pattern": ".*autodiscover\\.json.*Powershell.*"},
]


def test_a_dangerous_rule_in_applicationhost_config_is_reported_where_it_lives(lab_factory):
    lab = lab_factory(_fleet(UNFIXED, ISSUE_2003))
    check = _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True}, check=True, diff=True)
    assert "remove inbound rule 'ZeroDay_Mitigation' at Default Web Site/Autodiscover (in applicationHost.config) " \
        "(made by manual)" in check["changes"]
    assert [c.get("config") for c in check["rule_changes"]] == ["apphost", "apphost"]
    headers = [d["before_header"] for d in check["diff"]]
    assert headers == ['applicationHost.config <location path="Default Web Site/Autodiscover">']
    assert 'url="*"' in check["diff"][0]["before"] and "ZeroDay_Mitigation" not in check["diff"][0]["after"]
    assert _writes(lab) == {}


def test_a_dangerous_rule_in_applicationhost_config_is_removed_there_with_a_backup(lab_factory):
    lab = lab_factory(_fleet(UNFIXED, ISSUE_2003))
    before = _files(lab)
    result = _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True})
    entry = _mitigation(result, "CVE-2022-41040")
    assert result["changed"] and entry["present"] and entry["findings"] == [] and result["findings"] == []
    assert [p["name"] for p in entry["providers"]] == ["EEMS M1.1 PowerShell - inbound"]
    assert _apphost(lab)["/Autodiscover"]["inbound"] == []
    assert [r["name"] for r in _config(lab)[""]["inbound"]] == ["EEMS M1.1 PowerShell - inbound"]
    assert not _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True})["changed"]
    # The backup holds applicationHost.config too: restoring it puts the rules back exactly.
    restored = _run(lab, {"state": "restored", "restore_from": result["backup"]["id"]})
    assert iis.APPHOST_FILE in restored["restored_files"] and _files(lab) == before


def test_a_stale_rule_at_a_location_only_applicationhost_config_knows_is_found_and_removed(lab_factory):
    # Microsoft-Server-ActiveSync/Proxy is a <location> in applicationHost.config, not an
    # application (CSS-Exchange PR 2548: Health Checker missed rules there).
    stale = dict(ISSUE_2003[1], path="/Microsoft-Server-ActiveSync/Proxy")
    lab = lab_factory(_fleet(UNFIXED, [ISSUE_2003[0], stale]))
    check = _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True}, check=True)
    assert any(f["rule"] == "ZeroDay_Mitigation" and f["path"] == "/Microsoft-Server-ActiveSync/Proxy"
               for f in _mitigation(check, "CVE-2022-41040")["findings_before"])
    result = _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True})
    assert result["changed"] and result["findings"] == []
    assert _apphost(lab)["/Microsoft-Server-ActiveSync/Proxy"]["inbound"] == []
    assert not _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True})["changed"]


def test_a_stale_rule_in_applicationhost_configs_server_level_section_is_removed_there(lab_factory):
    # Outside any <location>: every site inherits it (Health Checker reads it as the global level).
    stale = dict(ISSUE_2003[1], name="RequestBlockingRule1", config="apphost-root", path="")
    lab = lab_factory(_fleet(UNFIXED, [ISSUE_2003[0], stale]))
    before = _files(lab)
    check = _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True}, check=True, diff=True)
    assert check["changes"] == ["remove inbound rule 'RequestBlockingRule1' at server level (in applicationHost.config, "
                                "for every site) (made by manual)"]
    assert [d["before_header"] for d in check["diff"]] == ["applicationHost.config (server level, every site)"]
    result = _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True})
    assert result["changed"] and result["findings"] == []
    assert _apphost(lab)["<root>"]["inbound"] == []
    assert [r["name"] for r in _config(lab)[""]["inbound"]] == ["EEMS M1.1 PowerShell - inbound"]
    assert not _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True})["changed"]
    assert _run(lab, {"state": "restored", "restore_from": result["backup"]["id"]})["changed"] and _files(lab) == before


def test_a_failure_after_an_applicationhost_config_change_restores_that_file_too(lab_factory):
    lab = lab_factory(_fleet(UNFIXED, ISSUE_2003))
    before = _files(lab)
    lab.set_faults("EXM1", {"iis_config_locked": True})
    with pytest.raises(AnsibleActionFail, match="The configuration was restored from backup"):
        _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True})
    assert _files(lab) == before


# --- auto after patching, EEMS ownership ---------------------------------------------

def test_auto_removes_the_rule_once_the_build_has_the_fix_and_blocks_the_eems_rule_first(lab_factory):
    eems_rule = dict(PROXYNOTSHELL, name="EEMS M1.1 PowerShell - inbound")
    lab = lab_factory(_fleet(UNFIXED, [eems_rule], eems={"applied": ["M1.1"]}))
    kept = _run(lab, {"name": "CVE-2022-41040", "state": "auto"})
    assert not kept["changed"] and _mitigation(kept, "CVE-2022-41040")["protected_by"] == "mitigation"
    with lab.state.lock:
        lab.state.server("EXM1")["build"] = FIXED_41040  # the November 2022 SU (and more) installed
    removed = _run(lab, dict(_credentials(lab), name="CVE-2022-41040", state="auto"))
    entry = _mitigation(removed, "CVE-2022-41040")
    assert removed["changed"] and entry["state"] == "absent" and entry["protected_by"] == "code_fix"
    assert removed["eems_blocked"] == ["M1.1"]
    assert any("M1.1 is added to the server's MitigationsBlocked before the rule is removed" in w
               for w in removed["warnings"])
    assert lab.state.server("EXM1")["eems"]["blocked"] == ["M1.1"]
    assert _config(lab)[""]["inbound"] == []
    lab.run_eems_check("EXM1")  # the hourly check: a blocked mitigation stays gone
    assert _config(lab)[""]["inbound"] == []
    assert not _run(lab, dict(_credentials(lab), name="CVE-2022-41040", state="auto"))["changed"]


def test_the_lab_mitigation_service_restores_an_eems_rule_deleted_without_blocking(lab_factory):
    # Why the module blocks first: this is what happens otherwise.
    # A build the Mitigation Service can fetch definitions with (March 2023 SU or later).
    lab = lab_factory(_fleet(FIXED_41040, [dict(PROXYNOTSHELL, name="EEMS M1.1 PowerShell - inbound")],
                             eems={"applied": ["M1.1"]}))
    with lab.state.lock:
        iis.apply_one(lab.state.server("EXM1"), {"op": "remove_rule", "path": "", "collection": "inbound",
                                                 "name": "EEMS M1.1 PowerShell - inbound"})
    lab.run_eems_check("EXM1")
    assert [r["name"] for r in _config(lab)[""]["inbound"]] == ["EEMS M1.1 PowerShell - inbound"]


def test_blocking_an_eems_rule_without_exchange_cmdlets_fails_before_any_write(lab_factory):
    lab = lab_factory(_fleet(FIXED_41040, [dict(PROXYNOTSHELL, name="EEMS M1.1 PowerShell - inbound")],
                             eems={"applied": ["M1.1"]}))
    before = _files(lab)
    with pytest.raises(AnsibleActionFail) as caught:
        _run(lab, {"name": "CVE-2022-41040", "state": "absent"})
    message = str(caught.value)
    assert message.startswith("EXM1: EEMS mitigation(s) M1.1 must be blocked before their rules are removed")
    assert "Set ems_username/ems_password. Nothing was changed." in message
    assert _files(lab) == before and lab.state.server("EXM1")["eems"]["blocked"] == []


# --- backup, failure half-way, rollback -----------------------------------------------

def test_a_write_failing_half_way_leaves_the_exact_prior_configuration(lab_factory):
    lab = lab_factory(_fleet(UNFIXED, VARIANTS["input_superseded"]))
    before = _files(lab)
    lab.set_faults("EXM1", {"iis_config_locked": True})
    with pytest.raises(AnsibleActionFail) as caught:
        _run(lab, {"name": "all", "state": "present", "repair": True})
    message = str(caught.value)
    assert message.startswith("EXM1: host operation Set-RewriteRules failed: Change 2 of ")
    assert "because it is being used by another process" in message
    assert "The configuration was restored from backup 2026" in message
    assert _files(lab) == before
    lab.set_faults("EXM1", {"iis_config_locked": False})
    assert _run(lab, {"name": "all", "state": "present", "repair": True})["changed"]


def test_rollback_restores_the_prior_configuration_byte_for_byte(lab_factory):
    lab = lab_factory(_fleet(UNFIXED, VARIANTS["removed_below_site"] + VARIANTS["match_url_star"]))
    before = _files(lab)
    applied = _run(lab, {"name": "all", "state": "present", "repair": True})
    assert applied["changed"] and _files(lab) != before
    check = _run(lab, {"state": "restored", "restore_from": applied["backup"]["id"]}, check=True)
    assert check["changed"] and _files(lab) != before
    restored = _run(lab, {"state": "restored", "restore_from": applied["backup"]["id"]})
    assert restored["changed"] and restored["restored_files"]
    assert _files(lab) == before
    assert not _run(lab, {"state": "restored", "restore_from": applied["backup"]["id"]})["changed"]


def test_the_old_option_name_backup_still_restores_and_says_it_is_deprecated(lab_factory, monkeypatch):
    lab = lab_factory(_fleet(UNFIXED))
    before = _files(lab)
    applied = _run(lab, {"name": "CVE-2022-41040", "state": "present"})
    announced = []
    import ansible.plugins.action as action_base
    monkeypatch.setattr(action_base, "display", MagicMock(deprecated=lambda msg, **kw: announced.append((msg, kw))))
    restored = _run(lab, {"state": "restored", "backup": applied["backup"]["id"]})
    assert restored["changed"] and _files(lab) == before
    assert announced and "'backup' is deprecated" in announced[0][0]
    assert announced[0][1]["version"] == "2.0.0" and announced[0][1]["collection_name"] == "onprem.exchange"


def test_restoring_a_backup_that_does_not_exist_names_the_ones_that_do(lab_factory):
    lab = lab_factory(_fleet())
    with pytest.raises(AnsibleActionFail, match="there is no rewrite configuration backup on this server"):
        _run(lab, {"state": "restored"})
    applied = _run(lab, {"name": "CVE-2022-41040", "state": "present"})
    with pytest.raises(AnsibleActionFail) as caught:
        _run(lab, {"state": "restored", "restore_from": "19990101T000000Z-001"})
    assert str(caught.value) == "EXM1: backup 19990101T000000Z-001 does not exist; backups on this server: %s" \
        % applied["backup"]["id"]


# --- check mode and diff -----------------------------------------------------------------

def test_check_mode_predicts_the_real_run_and_writes_nothing(lab_factory):
    rules = VARIANTS["cleared_below_site"] + VARIANTS["match_url_star"]
    lab = lab_factory(_fleet(UNFIXED, rules))
    before = _files(lab)
    check = _run(lab, {"name": "all", "state": "auto", "repair": True}, check=True, diff=True)
    assert check["changed"] and _files(lab) == before and _writes(lab) == {}
    assert check["backup"] is None
    diff_text = "".join(d["after"] for d in check["diff"])
    assert 'name="onprem.exchange CVE-2022-41040 - inbound"' in diff_text
    assert 'url="*"' in "".join(d["before"] for d in check["diff"]) and 'url="*"' not in diff_text
    real = _run(lab, {"name": "all", "state": "auto", "repair": True}, diff=True)
    assert real["changes"] == check["changes"] and real["diff"] == check["diff"]
    assert [(m["cve"], m["present"], m["protected_by"]) for m in real["mitigations"]] == \
        [(m["cve"], m["present"], m["protected_by"]) for m in check["mitigations"]]


# --- CVE-2026-42897: kept after the June 2026 SU ---------------------------------------------

JUN26_SE = "15.2.2562.43"  # Exchange SE RTM Jun26SU, which carries the CVE-2026-42897 code fix


def test_owa_csp_mitigation_is_kept_after_the_june_2026_su_by_default(lab_factory):
    lab = lab_factory(_fleet(build=JUN26_SE, rules=EOMT_CSP))
    before = _files(lab)
    result = _run(lab, {"name": "all", "state": "auto", "repair": True})
    csp = _mitigation(result, "CVE-2026-42897")
    assert (csp["state"], csp["kept_after_fix"], csp["present"], csp["protected_by"]) == \
        ("keep", True, True, "code_fix")
    assert not result["changed"] and _files(lab) == before and _writes(lab) == {}


def test_owa_csp_mitigation_is_not_added_to_a_server_that_already_has_the_fix(lab_factory):
    lab = lab_factory(_fleet(build=JUN26_SE))
    result = _run(lab, {"name": "CVE-2026-42897", "state": "auto"})
    csp = _mitigation(result, "CVE-2026-42897")
    assert (csp["state"], csp["kept_after_fix"], csp["present"]) == ("keep", False, False)
    assert not result["changed"] and _writes(lab) == {}


def test_owa_csp_mitigation_is_removed_after_the_fix_only_when_asked(lab_factory):
    lab = lab_factory(_fleet(build=JUN26_SE, rules=EOMT_CSP))
    result = _run(lab, {"name": "CVE-2026-42897", "state": "auto", "remove_after_fix": True})
    csp = _mitigation(result, "CVE-2026-42897")
    assert result["changed"] and (csp["state"], csp["present"], csp["protected_by"]) == ("absent", False, "code_fix")
    owa = _config(lab)["/owa"]
    assert owa["outbound"] == [] and owa["preconditions"] == []


# --- URL Rewrite prerequisite ----------------------------------------------------------------

def test_missing_url_rewrite_is_a_clear_error_when_installing_is_not_allowed(lab_factory):
    lab = lab_factory(_fleet(url_rewrite_version=None))
    with pytest.raises(AnsibleActionFail) as caught:
        _run(lab, {"name": "CVE-2022-41040", "state": "present"})
    assert str(caught.value) == (
        "EXM1: the IIS URL Rewrite module is not installed; the mitigation needs URL Rewrite 2.1 (product version "
        "7.2.1993, rewrite.dll 7.1.1993) or later. Set install_url_rewrite=true (with repository_url) to install "
        "rewrite_amd64_en-US.msi from the internal repository, or install it yourself. Nothing was changed.")
    assert _writes(lab) == {}


def test_missing_url_rewrite_is_installed_from_the_repository_then_the_rule_applied(lab_factory):
    lab = lab_factory(_fleet(url_rewrite_version=None))
    result = _run(lab, {"name": "CVE-2022-41040", "state": "present", "install_url_rewrite": True,
                        "repository_url": lab.repo_url})
    assert result["changed"] and result["url_rewrite"]["install"]
    # What a real server reports after installing 2.1: the product's version
    # and rewrite.dll's own, which differ.
    assert (result["url_rewrite"]["product_version"], result["url_rewrite"]["file_version"]) == \
        ("7.2.1993", "7.1.1993.2351")
    assert _mitigation(result, "CVE-2022-41040")["present"]
    assert lab.stats("EXM1")["operations"]["Install-UrlRewriteModule"] == 1


def test_old_url_rewrite_counts_as_missing(lab_factory):
    lab = lab_factory(_fleet(url_rewrite_version="7.2.1952"))
    with pytest.raises(AnsibleActionFail, match=r"the IIS URL Rewrite module is at product version 7.2.1952 "
                                                r"\(rewrite.dll 7.1.1952.0\), below 7.2.1993"):
        _run(lab, {"name": "CVE-2022-41040", "state": "present"})


def test_old_url_rewrite_without_an_uninstall_entry_counts_as_missing_by_its_dll(lab_factory):
    lab = lab_factory(_fleet(url_rewrite_version="7.2.1952", url_rewrite_uninstall_entry=False))
    with pytest.raises(AnsibleActionFail, match="at rewrite.dll version 7.1.1952.0 with no installed-product entry"):
        _run(lab, {"name": "CVE-2022-41040", "state": "present"})


@pytest.mark.parametrize("uninstall_entry", [True, False], ids=["product-entry", "dll-only"])
def test_url_rewrite_2_1_as_a_real_server_reports_it_is_enough(lab_factory, uninstall_entry):
    # A real 2.1 server: rewrite.dll 7.1.1993.2351, product 7.2.1993 (or no
    # product entry at all). Comparing the DLL with 7.2.1993 refused both.
    lab = lab_factory(_fleet(url_rewrite_uninstall_entry=uninstall_entry))
    result = _run(lab, {"name": "CVE-2022-41040", "state": "present"})
    assert result["changed"] and not result["url_rewrite"]["install"]
    assert result["url_rewrite"]["file_version"] == "7.1.1993.2351"
    assert _mitigation(result, "CVE-2022-41040")["present"]
    assert "Install-UrlRewriteModule" not in lab.stats("EXM1")["operations"]


def test_installer_that_does_not_match_the_manifest_is_not_run(lab_factory):
    lab = lab_factory(_fleet(url_rewrite_version=None, faults={"hash_mismatch": True}))
    with pytest.raises(AnsibleActionFail) as caught:
        _run(lab, {"name": "CVE-2022-41040", "state": "present", "install_url_rewrite": True,
                   "repository_url": lab.repo_url})
    assert "Verification failed for rewrite_amd64_en-US.msi" in str(caught.value)
    assert "The file was deleted and nothing was installed." in str(caught.value)
    assert lab.state.server("EXM1")["url_rewrite_version"] is None and _config(lab)[""]["inbound"] == []


def test_installing_without_a_repository_is_refused(lab_factory):
    lab = lab_factory(_fleet(url_rewrite_version=None))
    with pytest.raises(AnsibleActionFail, match="install_url_rewrite=true needs repository_url"):
        _run(lab, {"name": "CVE-2022-41040", "state": "present", "install_url_rewrite": True})


def test_unknown_mitigation_names_the_known_ones(lab_factory):
    lab = lab_factory(_fleet())
    with pytest.raises(AnsibleActionFail) as caught:
        _run(lab, {"name": "CVE-1999-0001"})
    assert "unknown mitigation 'CVE-1999-0001'; known: proxynotshell (CVE-2022-41040)" in str(caught.value)


# --- the playbook --------------------------------------------------------------------------

def test_mitigate_playbook_reports_what_protects_each_server_and_reruns_quietly(lab_factory, tmp_path):
    lab = lab_factory()
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / "reports"
    limit = ("--limit", "EX16A,EX16B,EX19A,EXSE1,localhost")
    first = run_playbook(inventory, "playbooks/mitigate.yml", "-e", "exchange_report_dir=%s" % reports, *limit)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    report = json.loads((reports / "exchange-protection.json").read_text(encoding="utf-8"))
    rows = {s["name"]: {c["cve"]: c["protected_by"] for c in s["cves"]} for s in report["servers"]}
    # EX16B's EOMTv2 rule and EX19A's EEMS M1.1 rule are no longer needed once the fix is in: removed.
    assert rows["EX16B"]["CVE-2022-41040"] == "code_fix" and rows["EX19A"]["CVE-2022-41040"] == "code_fix"
    assert rows["EX16A"]["CVE-2026-42897"] == "mitigation" and rows["EXSE1"]["CVE-2026-42897"] == "code_fix"
    assert lab.state.server("EX19A")["eems"]["blocked"] == ["M1.1"]
    assert lab.state.server("EX16B")["iis"]["locations"][""]["inbound"] == []
    for extension in ("html", "csv", "md"):
        assert (reports / ("exchange-protection." + extension)).stat().st_size > 0
    second = run_playbook(inventory, "playbooks/mitigate.yml", "-e", "exchange_report_dir=%s" % reports, *limit)
    assert second.returncode == 0
    assert all(changed == 0 for changed in changed_counts(second.stdout).values()), second.stdout[-2000:]


def test_mitigate_playbook_in_check_mode_at_high_verbosity_writes_nothing_and_shows_no_secret(lab_factory, tmp_path):
    lab = lab_factory()
    password = lab.state.data["lab"]["credential"]["password"]
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    result = run_playbook(inventory, "playbooks/mitigate.yml", "--check", "--diff", "-vvvv",
                          "-e", "exchange_report_dir=%s" % (tmp_path / "reports"), "--limit", "EX19A,EX16A,localhost")
    assert result.returncode == 0, result.stdout[-3000:]
    assert password not in result.stdout + result.stderr
    assert "onprem.exchange CVE-2026-42897 OWA CSP - outbound" in result.stdout
    for name in ("EX19A", "EX16A"):
        assert _writes(lab, name) == {}
    assert lab.state.server("EX19A")["eems"]["blocked"] == []


def test_mitigate_playbook_reports_the_real_cause_of_an_unreachable_server(lab_factory, tmp_path):
    # The loop's own message is "All items completed" even when its item was
    # unreachable; the report row must carry the item's connection error.
    # A lasting cut: one HTTP 500 is now retried (a read is safe to repeat).
    fleet = _fleet(faults={"unreachable": True})
    fleet["servers"].append({"name": "EXM2", "build": UNFIXED})
    lab = lab_factory(fleet)
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / "reports"
    result = run_playbook(inventory, "playbooks/mitigate.yml", "-e", "exchange_report_dir=%s" % reports,
                          "--limit", "EXM1,EXM2,localhost")
    assert result.returncode != 0, result.stdout[-3000:]
    report = json.loads((reports / "exchange-protection.json").read_text(encoding="utf-8"))
    rows = {s["name"]: s for s in report["servers"]}
    assert rows["EXM1"]["status"] == "unreachable", rows["EXM1"]
    assert "All items completed" not in rows["EXM1"]["error"], rows["EXM1"]
    assert "could not connect for Get-RewriteConfiguration (connection refused)" in rows["EXM1"]["error"], rows["EXM1"]
    assert rows["EXM2"]["status"] == "checked" and rows["EXM2"]["error"] is None
    assert "EXM1" in (reports / "exchange-protection.csv").read_text(encoding="utf-8")


def test_mitigate_playbook_keeps_the_owa_mitigation_after_the_fix_unless_told_to_remove_it(lab_factory, tmp_path):
    lab = lab_factory(_fleet(build=JUN26_SE, rules=EOMT_CSP))
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / "reports"
    args = ("-e", "exchange_report_dir=%s" % reports, "-e", '{"exchange_mitigations": ["CVE-2026-42897"]}',
            "--limit", "EXM1,localhost")
    kept = run_playbook(inventory, "playbooks/mitigate.yml", *args)
    assert kept.returncode == 0, kept.stdout[-3000:]
    assert changed_counts(kept.stdout)["EXM1"] == 0
    assert [r["name"] for r in _config(lab)["/owa"]["outbound"]] == ["EOMT OWA CSP - outbound"]
    removed = run_playbook(inventory, "playbooks/mitigate.yml", *args,
                           "-e", '{"exchange_mitigation_remove_after_fix": true}')
    assert removed.returncode == 0, removed.stdout[-3000:]
    assert changed_counts(removed.stdout)["EXM1"] == 1
    assert _config(lab)["/owa"]["outbound"] == []
    report = json.loads((reports / "exchange-protection.json").read_text(encoding="utf-8"))
    assert report["servers"][0]["cves"][0]["protected_by"] == "code_fix"


def test_restoring_applicationhost_config_is_refused_when_something_else_changed_it_since(lab_factory):
    lab = lab_factory(_fleet(UNFIXED, ISSUE_2003))
    result = _run(lab, {"name": "CVE-2022-41040", "state": "present", "repair": True})
    with lab.state.lock:  # an update or an admin changes applicationHost.config afterwards
        lab.state.server("EXM1")["iis"]["apphost"]["/ecp"] = {"inbound": [], "outbound": [], "preconditions": [
            {"entry": "precondition", "name": "someone else's", "logical_grouping": "MatchAll",
             "pattern_syntax": "ECMAScript", "conditions": []}]}
    after = _files(lab)
    for check in (True, False):  # check mode says so too
        with pytest.raises(AnsibleActionFail) as caught:
            _run(lab, {"state": "restored", "restore_from": result["backup"]["id"]}, check=check)
        assert "applicationHost.config has changed since backup %s" % result["backup"]["id"] in str(caught.value)
        assert "nothing is restored" in str(caught.value)
    assert _files(lab) == after and "Restore-RewriteConfiguration" not in _writes(lab)


def test_connection_lost_after_the_rules_changed_says_what_was_applied(lab_factory, monkeypatch):
    # Cut at the re-read after Set-RewriteRules: the task is still unreachable,
    # but its message says the rules were changed (and the backup), so the
    # report does not read as if nothing happened.
    from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_action
    monkeypatch.setattr(_host_action, "RETRY_DELAYS", (0.01,))
    monkeypatch.setattr(WinRMClient, "close", lambda self: None)  # the cut server cannot close its shell
    lab = lab_factory(_fleet())
    lab.set_faults("EXM1", {"unreachable_at": {"operation": "Get-RewriteConfiguration", "call": 2}})
    # Under Ansible the kind is HostUnreachable; the lab's client raises
    # requests' errors, which the plugin calls a lost answer: the same message.
    with pytest.raises(_host_action.CONNECTION_LOST) as caught:
        _run(lab, dict(_credentials(lab), name="all"))
    message = str(caught.value)
    assert "Get-RewriteConfiguration (connection refused)" in message, message
    assert "Applied before the connection was lost: rewrite rules changed (" in message, message
    assert re.search(r"backup [^ )]+\)", message) and "backup none" not in message, message
    assert _config(lab)["/owa"]["outbound"] or _config(lab)["/"]["inbound"], _config(lab)
