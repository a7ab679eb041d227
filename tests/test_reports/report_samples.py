"""One input per report, each with hostile host text, for the report page tests.

The audit input is the lab fleet's real build_facts results
(tests/unit/data/audit); the others are shaped as their playbooks register them.
"""
from __future__ import annotations

import copy
import json
import os

from ansible_collections.onprem.exchange.plugins.plugin_utils import (
    _audit_report,
    _patch_report,
    _protection_report,
    _readiness_report,
    _remediation_report,
)

TODAY = "2026-11-26"
# A server name and messages as a hostile (or just unlucky) host could send them.
EVIL_NAME = "<script>window.__pwned=1</script>"
EVIL_IMG = '"><img src=x onerror="window.__pwned=2">'
EVIL_FORMULA = "=cmd|' /C calc'!A0"
EVIL_MARKDOWN = "EX|pipe\n| injected | row |"
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "unit", "data", "audit")


def _audit_results():
    with open(os.path.join(DATA, "build_facts_results.json"), encoding="utf-8") as handle:
        results = json.load(handle)
    results[EVIL_NAME] = copy.deepcopy(results["EX19C"])
    results[EVIL_MARKDOWN] = copy.deepcopy(results["EX19D"])
    results["EX19A"]["findings"][0]["message"] = EVIL_IMG
    results["EX19A"]["findings"][0]["remedy"] = EVIL_FORMULA
    results["EX99X"]["msg"] = EVIL_FORMULA
    return results


def _patch_results():
    planned = [{"action": "install_cu", "update": "CU15"}, {"action": "install_su", "update": "Sep26SUv2"}]
    started, finished = "2026-11-26T08:00:00+00:00", "2026-11-26T08:40:00+00:00"
    return {
        "PM1": {"status": "patched", "build_before": "15.2.1544.39", "build_after": "15.2.1748.53",
                "target_build": "15.2.1748.53", "maintenance": "in_service", "started": started, "finished": finished,
                "steps_done": [dict(step, result="succeeded") for step in planned], "planned_steps": planned},
        "PM2": {"status": "failed_in_maintenance", "build_before": "15.2.1748.46", "build_after": "15.2.1748.46",
                "maintenance": "in_maintenance", "in_maintenance": True, "message": EVIL_IMG,
                "started": started, "finished": "2026-11-26T08:20:00+00:00", "planned_steps": planned[1:],
                "steps_done": [{"action": "install_su", "update": "Sep26SUv2", "result": "failed", "rc": 1603}]},
        "PS1": {"status": "up_to_date", "build_before": "15.2.1748.53", "build_after": "15.2.1748.53",
                "started": started, "finished": "2026-11-26T08:01:00+00:00"},
        EVIL_NAME: {"status": "not_started_window_closed", "message": EVIL_FORMULA, "planned_steps": planned},
        EVIL_MARKDOWN: None,
    }


def _protection_results():
    def entry(cve, protected_by, findings=()):
        return {"cve": cve, "name": cve.lower(), "protected_by": protected_by, "code_fix": protected_by == "code_fix",
                "present": protected_by == "mitigation", "findings": [{"message": m} for m in findings]}
    return {
        "EX1": {"mitigations": [entry("CVE-2026-42897", "mitigation"), entry("CVE-2022-41040", "code_fix")]},
        "EX2": {"results": [{"mitigations": [entry("CVE-2026-42897", "nothing", [EVIL_FORMULA, EVIL_IMG])]}]},
        "EX3": {"unreachable": True, "msg": EVIL_MARKDOWN},
        EVIL_NAME: {"mitigations": [entry("CVE-2026-42897", "code_fix")]},
    }


def _readiness_results():
    def result(readiness, findings=(), build="15.2.1748.53", dag="DAG1"):
        return {"readiness": readiness, "jobs": {"audit": "ok", "patch": "blocked" if readiness == "not_ready"
                                                 else "ok"},
                "findings": list(findings),
                "server": {"build": build, "organization": "Contoso", "dag": dag, "computer_name": "x"}}
    blocker = {"id": "ems_unreachable", "severity": "blocker", "jobs": ["patch", "eems"], "message": EVIL_IMG,
               "fix": EVIL_FORMULA}
    return {"EX1": result("ready"), "EX2": result("not_ready", [blocker], build="15.2.1544.39"),
            "EX3": result("ready_with_warnings", [dict(blocker, severity="warning")], dag=None),
            "EX4": {"unreachable": True, "msg": "timed out"}, "EX5": result("ready"),
            EVIL_NAME: result("ready", dag=EVIL_MARKDOWN)}


# Where the patch and protection servers sit, as the report actions read it
# from each host's facts: (organisation, DAG).
PATCH_PLACEMENT = {"PM1": ("Contoso", "DAG1"), "PM2": ("Contoso", "DAG1"), "PS1": ("Contoso", None),
                   EVIL_NAME: ("Contoso", EVIL_MARKDOWN)}
PROTECTION_PLACEMENT = {"EX1": ("Contoso", "DAG1"), "EX2": ("Fabrikam", None), EVIL_NAME: ("Contoso", "DAG1")}


def reports(placed=False):
    """{kind: (report, KIND)} for every report.  ``placed``: the patch and
    protection servers get an organisation and DAG too (the audit, remediation
    and readiness inputs always carry theirs)."""
    audit = _audit_results()
    after = copy.deepcopy(audit)
    after["EX16A"]["ansible_facts"]["exchange"]["build_info"]["build"] = "15.1.2507.61"
    after["EX16A"]["ansible_facts"]["exchange"]["build_info"].pop("display_name", None)
    kinds = {
        "audit": (_audit_report.KIND, (audit,), {}),
        "patch": (_patch_report.KIND, (_patch_results(),), {"window_end": "2026-11-26T10:00:00Z"}),
        "remediation": (_remediation_report.KIND, (audit, after), {}),
        "protection": (_protection_report.KIND, (_protection_results(),), {}),
        "readiness": (_readiness_report.KIND, (_readiness_results(),), {}),
    }
    if placed:
        kinds["patch"][2]["placement"] = PATCH_PLACEMENT
        kinds["protection"][2]["placement"] = PROTECTION_PLACEMENT
    return {name: (kind.build(*inputs, generated_on=TODAY, title="%s of %s" % (name, EVIL_NAME), **options), kind)
            for name, (kind, inputs, options) in kinds.items()}
