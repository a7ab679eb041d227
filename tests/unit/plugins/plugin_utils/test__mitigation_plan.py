"""The decisions of one mitigation task, without a host: targets, URL Rewrite, EEMS blocks, restore choice."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _mitigation_plan as task
from ansible_collections.onprem.exchange.plugins.plugin_utils import _mitigations as mit
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import ExchangeBuild
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import load_catalog

DATA = mit.load_definitions()
REWRITE_21 = {"installed": True, "product_version": "7.2.1993", "file_version": "7.1.1993.2351"}


def _config():
    return {"site": "Default Web Site", "applications": ["/owa", "/ecp", "/PowerShell"],
            "locations": {"": {"inbound": [], "outbound": [], "preconditions": []}}}


def test_auto_follows_each_code_fix_and_a_fixed_build_keeps_only_the_owa_rule():
    definitions = mit.select(DATA, "all")
    catalog = load_catalog()
    unfixed = task.code_fixes(definitions, "15.2.1118.7", catalog)      # 2019 CU12 RTM
    fixed = task.code_fixes(definitions, ExchangeBuild.parse("15.2.2562.53"), catalog)
    assert unfixed[0] is False and fixed[0] is True
    plan = task.task_plan(DATA, definitions, unfixed, _config(), "auto")
    assert plan["targets"] == ["present", "absent", "present"]   # ProxyLogon (2021) is fixed in CU12
    assert {c["op"] for c in plan["changes"]} >= {"add_rule"} and not plan["warnings"]
    kept = task.task_plan(DATA, definitions, fixed, _config(), "auto")
    # CVE-2026-42897: Microsoft advises keeping the OWA rule after the fix; absent here, so nothing is added.
    assert kept["targets"] == ["absent", "absent", "keep"] and kept["changes"] == []
    assert task.task_plan(DATA, definitions, fixed, _config(), "auto", remove_after_fix=True)["targets"][2] == "absent"


def test_an_unknown_code_fix_keeps_the_mitigation_and_warns():
    definition = mit.select(DATA, "CVE-2022-41040")
    plan = task.task_plan(DATA, definition, [None], _config(), "auto", build="15.2.9999.1")
    assert plan["targets"] == ["present"]
    assert plan["warnings"] == ["cannot tell from build 15.2.9999.1 whether the code fix for CVE-2022-41040 is "
                                "installed; keeping the mitigation in place"]


def test_url_rewrite_is_installed_only_when_a_rule_is_added_and_the_module_is_missing():
    req = DATA["url_rewrite"]
    adds = [{"op": "add_rule"}]
    assert task.url_rewrite_decision(adds, REWRITE_21, req, False, None)["install"] is False
    assert task.url_rewrite_decision([{"op": "remove_rule"}], {}, req, False, None)["install"] is False
    with pytest.raises(mit.MitigationError, match=r"URL Rewrite module is not installed.*Set install_url_rewrite=true"):
        task.url_rewrite_decision(adds, {}, req, False, None)
    with pytest.raises(mit.MitigationError, match="install_url_rewrite=true needs repository_url"):
        task.url_rewrite_decision(adds, {}, req, True, None)
    need = task.url_rewrite_decision(adds, {"installed": True, "product_version": "7.2.1952"}, req, True,
                                     "https://repo/", package="my.msi")
    assert need == {"install": True, "package": "my.msi", "text": need["text"]} and "below 7.2.1993" in need["text"]


def test_blocking_adds_only_the_missing_ids_and_refuses_without_the_exchange_cmdlets():
    state = {"exchange": {"mitigations_blocked": ["m1.1", "PING1"]}}
    assert task.blocked_list_with(state, ["M1.1"]) is None            # case-insensitive: already blocked
    assert task.blocked_list_with(state, ["M1.1", "M2.1"]) == {"current": ["m1.1", "PING1"],
                                                               "wanted": ["m1.1", "PING1", "M2.1"]}
    with pytest.raises(mit.MitigationError, match="M1.1 must be blocked.*could not be used: access denied"):
        task.blocked_list_with({"exchange": None, "ems": {"error": "access denied"}}, ["M1.1"])


def test_the_backup_to_restore_is_the_latest_or_the_one_named_and_never_one_that_would_undo_other_changes():
    backups = [{"id": "A", "matches_current": False}, {"id": "B", "matches_current": True}]
    assert task.choose_backup(backups) == {"changed": False, "backup": backups[1]}
    assert task.choose_backup(backups, "A") == {"changed": True, "backup": backups[0]}
    with pytest.raises(mit.MitigationError, match="^backup C does not exist; backups on this server: A, B$"):
        task.choose_backup(backups, "C")
    with pytest.raises(mit.MitigationError, match="no rewrite configuration backup"):
        task.choose_backup([], "latest")
    with pytest.raises(mit.MitigationError, match="applicationHost.config has changed since backup A"):
        task.choose_backup([{"id": "A", "blocked_by": "applicationHost.config"}], "A")
    task.restore_verified([{"id": "A", "matches_current": True}], "A")
    with pytest.raises(mit.MitigationError, match="still differs"):
        task.restore_verified([{"id": "A", "matches_current": False}], "A")


def test_the_not_converged_message_names_the_option_that_restores():
    text = task.not_converged_message("Default Web Site", [{"op": "remove_precondition", "name": "p", "path": ""}],
                                      {"id": "20261126T080010Z-001"})
    assert "state=restored, restore_from=20261126T080010Z-001" in text and "remove precondition 'p'" in text
