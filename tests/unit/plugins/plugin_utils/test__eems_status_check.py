"""The EEMS judge's additions for onprem.exchange.eems: a forced check's evidence and plan-aware remedies."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_status import (
    REMEDIES, judge_check, remedy_with_plan)

_OK = {"id": 1005, "time": "t2", "message": "Mitigation Service fetched definitions successfully."}
_APPLIED = {"id": 1006, "time": "t1", "message": "Mitigation PING1 (EEMS heartbeat probe) applied."}
_OLD_CERT = {"id": 1008, "time": "t1", "message": "Exception encountered while fetching mitigations. "
                                                  "FetchMitigation: Connection attempted against untrusted endpoint."}
_EKU = {"id": 1008, "time": "t2", "message": "An unexpected exception occurred. Diagnostic information: Exception "
                                             "encountered while fetching mitigations : This XML is not deemed safe "
                                             "to consume since Response xml's leaf certificate is from unknown "
                                             "issuer or has EKU mismatch"}
_PROXY = {"id": 1008, "time": "t1", "message": "Could not establish trust relationship ... TLS certificate or its "
                                               "chain validation failed."}
_UNREACHABLE = {"id": 1008, "time": "t1", "message": "System.Net.WebException: Unable to connect to the remote server"}
_DISABLED = {"id": 1005, "time": "t1", "message": "Mitigation Service is disabled by configuration "
                                                  "(organization: False, server: True). No mitigations were fetched."}


@pytest.mark.parametrize("events, finished, expected", [
    ([_OK], False, ("working", None)),
    ([_EKU, _APPLIED], False, ("not_working", "build_before_june_2026")),   # an error anywhere decides
    ([_OLD_CERT], False, ("not_working", "build_before_march_2023")),
    ([_PROXY], False, ("not_working", "tls_inspecting_proxy")),
    ([_UNREACHABLE], False, ("not_working", "endpoint_unreachable")),
    ([_DISABLED], False, ("disabled", "disabled_at_organization")),
    ([_APPLIED], False, None),                                                # check may still be running
    ([_APPLIED], True, ("working", None)),
    ([], False, None),
    ([], True, ("unknown", "no_evidence_after_check")),
])
def test_forced_check_evidence(events, finished, expected):
    verdict = judge_check(events, checked_from="t0", finished=finished)
    assert (verdict and (verdict["status"], verdict["cause"])) == expected
    if verdict and verdict["cause"]:
        assert verdict["remedy"] == REMEDIES[verdict["cause"]]


def test_a_grown_applied_list_is_evidence_too():
    verdict = judge_check([], ["PING1"], ["PING1", "M2.1.0"], checked_from="t0", finished=True)
    assert verdict["status"] == "working" and "M2.1.0" in verdict["evidence"]


_STEPS = [{"action": "install_cu", "update": "CU23", "to_build": "15.1.2507.6"},
          {"action": "reboot", "update": None, "to_build": "15.1.2507.6"},
          {"action": "install_su", "update": "Mar23SU", "to_build": "15.1.2507.23"},
          {"action": "reboot", "update": None, "to_build": "15.1.2507.23"}]


@pytest.mark.parametrize("cause, plan, starts, contains", [
    ("build_before_march_2023", {"steps": _STEPS, "reachable": True, "findings": []},
     "Install CU23 then Mar23SU (to 15.1.2507.23)", "fetch mitigation definitions"),
    ("build_before_june_2026", {"steps": [], "reachable": False, "findings": [
        {"id": "eems_target_unreachable", "message": "No build reachable meets the June 2026 EEMS cut-off.",
         "remedy": "Enrol in ESU."}]}, "No build reachable", "Enrol in ESU."),
    ("tls_inspecting_proxy", {"steps": _STEPS, "reachable": True, "findings": []}, "Exempt", "TLS inspection"),
    ("build_before_march_2023", None, "Install the update the plan names", "March 2023"),
])
def test_build_remedies_name_the_planned_updates(cause, plan, starts, contains):
    remedy = remedy_with_plan(cause, plan)
    assert remedy.startswith(starts) and contains in remedy
