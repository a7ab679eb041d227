"""The mitigation plugins' argument specs match their doc stubs; the report renders per server and CVE."""
from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.onprem.exchange.plugins.action import mitigation
from ansible_collections.onprem.exchange.plugins.modules import mitigation as mitigation_doc
from ansible_collections.onprem.exchange.plugins.plugin_utils import _protection_report


# The report's spec and docs (with the onprem.exchange.report fragment) are
# checked with every plugin's in tests/unit/plugins/test_argument_specs.py.
@pytest.mark.parametrize("spec, stub", [(mitigation.ARGUMENT_SPEC, mitigation_doc)])
def test_spec_matches_doc_stub(spec, stub):
    doc = yaml.safe_load(stub.DOCUMENTATION)
    options = dict(doc["options"])
    if "onprem.exchange.ems" in doc.get("extends_documentation_fragment", []):
        options.update({name: {"type": "str", "choices": ["auto", "remote", "snapin"], "default": "auto"}
                        if name == "ems_mode" else {"type": "str"} for name in ("ems_mode", "ems_username",
                                                                                "ems_password")})
    assert set(options) == set(spec)
    for name, item in spec.items():
        for key in ("type", "required", "choices", "default", "elements", "aliases"):
            assert options[name].get(key, False if key == "required" else None) == item.get(
                key, False if key == "required" else None), (name, key)
    assert spec.get("ems_password", {}).get("no_log", True)


def _entry(cve, protected_by, findings=()):
    return {"cve": cve, "name": cve.lower(), "protected_by": protected_by, "code_fix": protected_by == "code_fix",
            "present": protected_by == "mitigation", "findings": [{"message": m} for m in findings]}


def test_protection_report_per_server_and_cve(tmp_path):
    results = {
        "EX2": {"results": [{"mitigations": [_entry("CVE-2022-41040", "code_fix")]},
                            {"mitigations": [_entry("CVE-2026-42897", "nothing", ["=cmd|' /C calc'!A0"])]}]},
        "EX1": {"mitigations": [_entry("CVE-2026-42897", "mitigation")]},
        "EX3": {"unreachable": True, "msg": "timed out"},
        "EX4": None,
    }
    report = _protection_report.build_report(results, generated_on="2026-11-26", title="t")
    assert [s["name"] for s in report["servers"]] == ["EX1", "EX2", "EX3", "EX4"]
    assert report["summary"]["by_protection"] == {"code_fix": 1, "mitigation": 1, "nothing": 1}
    assert report["summary"]["by_state"] == {"checked": 2, "unreachable": 1, "failed": 0, "not_run": 1}
    assert report["summary"]["hosts"]["unprotected"] == ["EX2"]
    files = _protection_report.write_report(report, tmp_path, ["json", "csv", "markdown", "html"])
    assert json.loads(open(files["json"], encoding="utf-8").read()) == report
    assert "'=cmd" in open(files["csv"], encoding="utf-8").read()  # no spreadsheet formula
    assert "| EX2 | checked | CVE-2026-42897 | NOTHING |" in open(files["markdown"], encoding="utf-8").read()


def test_protection_report_names_each_failed_items_cause_not_the_loops_closing_line():
    # The shapes Ansible registers for a loop: its own msg is a closing line.
    results = {
        "EX1": {"msg": "All items completed", "unreachable": True, "changed": False, "results": [
            {"item": "all", "unreachable": True, "msg": "winrm connection error: Connection refused"}]},
        "EX2": {"msg": "One or more items failed", "failed": True, "changed": False, "results": [
            {"item": "CVE-2022-41040", "mitigations": [_entry("CVE-2022-41040", "mitigation")]},
            {"item": "CVE-2026-42897", "failed": True, "msg": "EX2: the rewrite configuration did not converge"}]},
        "EX3": {"msg": "All items completed", "unreachable": True, "results": []},
    }
    report = _protection_report.build_report(results, generated_on="2026-11-26", title="t")
    rows = {s["name"]: s for s in report["servers"]}
    assert rows["EX1"]["status"] == "unreachable"
    assert rows["EX1"]["error"] == "all: winrm connection error: Connection refused"
    assert rows["EX2"]["status"] == "failed"
    assert rows["EX2"]["error"] == "CVE-2026-42897: EX2: the rewrite configuration did not converge"
    assert [c["cve"] for c in rows["EX2"]["cves"]] == ["CVE-2022-41040"]  # what did work is still shown
    assert rows["EX3"]["error"] == "All items completed (no item said why)"


def test_protection_report_cause_is_the_hosts_own_words_without_ansibles_task_failed_prefix():
    results = {"EX1": {"msg": "All items completed", "unreachable": True, "changed": False, "results": [
        {"item": "all", "unreachable": True,
         "msg": "Task failed: EX1: could not connect for Get-RewriteConfiguration (connection refused)"}]}}
    report = _protection_report.build_report(results, generated_on="2026-11-26", title="t")
    assert report["servers"][0]["error"] == "all: EX1: could not connect for Get-RewriteConfiguration (connection refused)"
