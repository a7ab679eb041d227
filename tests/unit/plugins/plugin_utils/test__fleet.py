"""What the playbooks compute across the fleet (plugin_utils/_fleet.py), through the filters they call."""
from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.exchange.plugins.filter import patch_window
from ansible_collections.onprem.exchange.plugins.filter.fleet import FilterModule, eems_org_writers, host_results
from ansible_collections.onprem.exchange.plugins.plugin_utils._fleet import remediation_groups, remediation_lines

from labtools import REPO_ROOT

HOSTVARS = {
    "EX1": {"exchange_audit": {"build": "15.2.1748.39"}, "exchange_remediate_before": {"build": "old"}},
    "EX2": {"exchange_audit": None, "exchange_remediate_before": None},   # audit failed: defined, None
    "EX3": {"other": 1},                                                  # left before the audit
}


def test_host_results_gives_every_host_with_none_for_one_without_a_result():
    assert host_results(["EX1", "EX2", "EX3"], HOSTVARS, "exchange_audit") == {
        "EX1": {"build": "15.2.1748.39"}, "EX2": None, "EX3": None}


def test_host_results_only_with_keeps_hosts_where_the_variable_is_defined_even_as_none():
    assert host_results(["EX1", "EX2", "EX3"], HOSTVARS, "exchange_audit", only_with="exchange_remediate_before") == {
        "EX1": {"build": "15.2.1748.39"}, "EX2": None}


def test_host_results_keeps_the_order_of_the_hosts_and_accepts_an_unknown_host():
    assert list(host_results(["EX3", "EX1", "NOPE"], HOSTVARS, "exchange_audit")) == ["EX3", "EX1", "NOPE"]


def test_host_results_refuses_a_single_host_name():
    with pytest.raises(AnsibleFilterError, match="host_results: the hosts must be a list"):
        host_results("EX1", HOSTVARS, "exchange_audit")


def _audit(actions, reachable=True):
    return {"plan": {"reachable": reachable, "steps": [{"action": a} for a in actions]}}


@pytest.mark.parametrize("audit, resume, groups", [
    (_audit(["install_su"]), "", ["exchange_remediate_patch", "exchange_remediate_covered"]),
    # A fallback target still gains steps: patched, and held (the target is out of reach).
    (_audit(["install_cu", "install_su"], reachable=False), "",
     ["exchange_remediate_patch", "exchange_remediate_hold"]),
    (_audit([]), "", ["exchange_remediate_no_patch", "exchange_remediate_covered"]),
    (_audit([], reachable=False), "", ["exchange_remediate_no_patch", "exchange_remediate_hold"]),
    # An interrupted Setup without its media waits, on mitigations; with them it is finished tonight.
    (_audit(["resume_setup", "install_su"]), "", ["exchange_remediate_no_patch", "exchange_remediate_hold"]),
    (_audit(["resume_setup", "install_su"]), "ExchangeServer2019-x64-CU15.ISO",
     ["exchange_remediate_patch", "exchange_remediate_hold"]),
    # No audit (the server failed it) or no plan: nothing tonight, not held.
    (None, "", ["exchange_remediate_no_patch", "exchange_remediate_covered"]),
    ({"error": "unreachable"}, "", ["exchange_remediate_no_patch", "exchange_remediate_covered"]),
    # reachable missing means reachable; null means not.
    ({"plan": {"steps": []}}, "", ["exchange_remediate_no_patch", "exchange_remediate_covered"]),
    ({"plan": {"steps": [], "reachable": None}}, "", ["exchange_remediate_no_patch", "exchange_remediate_hold"]),
])
def test_remediation_groups(audit, resume, groups):
    assert remediation_groups(audit, resume) == groups


def _read(org, start_type="Automatic"):
    return {"exchange_eems_before": {"organization": {"name": org},
                                     "settings": {"service": {"StartType": start_type}}}}


def test_eems_org_writers_picks_the_first_host_by_name_with_the_service_per_organisation():
    hostvars = {"B2": _read("Contoso"), "A1": _read("Contoso", start_type=None), "C3": _read("Contoso"),
                "F1": _read("Fabrikam"), "X9": {"exchange_eems_before": {"unreachable": True}}, "Y1": {}}
    assert eems_org_writers(["C3", "B2", "A1", "F1", "X9", "Y1"], hostvars) == {"Contoso": "B2", "Fabrikam": "F1"}


def test_remediation_lines():
    remediation = {"summary": {"working_before": 1, "working_after": 3, "total": 3, "updated": 2},
                   "servers": [{"name": "EX1", "verdict": "working", "reason": ""},
                               {"name": "EX2", "verdict": "not_working", "reason": "2013: out of support"}],
                   "files": {"html": "reports/exchange-remediation.html"}}
    assert remediation_lines(remediation) == [
        "EEMS working before: 1, after: 3 of 3; updated: 2",
        "EX1: working",
        "EX2: not_working - 2013: out of support",
        "Report: reports/exchange-remediation.html"]


def test_every_filter_of_the_playbooks_and_the_role_is_documented_beside_it():
    for name in list(FilterModule().filters()) + list(patch_window.FilterModule().filters()):
        with open(os.path.join(REPO_ROOT, "plugins", "filter", name + ".yml"), encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        assert doc["DOCUMENTATION"]["name"] == name
