"""Setup's software prerequisites (Visual C++ 2012/2013, UCMA 4.0): what a server lacks, and how
preflight and the audit judge it against the plan."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_facts, _readiness
from ansible_collections.onprem.exchange.plugins.plugin_utils import _setup_prerequisites as sp
from ansible_collections.onprem.exchange.plugins.plugin_utils._update_planner import plan_update

from test__readiness import REPO, _answers, _facts, _prereq

TODAY = "2026-11-26"


def _runtime(year, version, kind="Minimum"):
    major, minor, build = (int(p) for p in version.split("."))
    return {"display_name": "Microsoft Visual C++ %s x64 %s Runtime - %s" % (year, kind, version),
            "display_version": version, "version_number": (major << 24) | (minor << 16) | build}


def _installed(vc2012="11.0.61030", vc2013="12.0.40664", ucma="5.0.8308.0"):
    runtimes = []
    for year, version in (("2012", vc2012), ("2013", vc2013)):
        if version:
            runtimes += [_runtime(year, version), _runtime(year, version, "Additional")]
    return {"vc_redistributables": runtimes,
            "ucma": {"installed": bool(ucma), "version": ucma, "source": "ucma_key" if ucma else None}}


def _server(build="15.2.1118.26", edge=False, **installed):
    return _facts(setup={"exsetup_version": build}, edge_transport=edge, setup_prerequisites=_installed(**installed))


def _plan(build):
    return plan_update({"build": build, "dotnet_release": 533320, "roles": ["Mailbox"],
                        "os": "Windows Server 2019 Datacenter"}, {"target": "latest"}, today=TODAY)


CU_PLAN = _plan("15.2.1118.26")        # 2019 CU12: CU15, then SE, then an SU
SU_PLAN = _plan("15.2.2562.46")        # SE RTM Aug26SU: one SU
NOTHING_PLAN = _plan("15.2.2562.53")   # current


def test_the_plans_used_here_are_what_they_claim():
    assert sp.setup_runs(CU_PLAN) is True
    assert [s["action"] for s in SU_PLAN["steps"]] == ["install_su", "reboot"] and sp.setup_runs(SU_PLAN) is False
    assert NOTHING_PLAN["steps"] == [] and sp.setup_runs(NOTHING_PLAN) is False
    assert sp.setup_runs(None) is None
    assert sp.setup_runs({"steps": [{"action": "upgrade_to_se"}]}) is True


def test_the_shipped_minimums_are_health_checkers_version_numbers():
    # CSS-Exchange Shared/VisualCRedistributableVersionFunctions.ps1: 184610406 and 201367256.
    packages = sp.load()["packages"]
    assert sp._from_number(184610406) == (11, 0, 61030) and packages["vcredist2012"]["min_version"] == "11.0.61030"
    assert sp._from_number(201367256) == (12, 0, 40664) and packages["vcredist2013"]["min_version"] == "12.0.40664"
    for product in ("Exchange 2016", "Exchange 2019", "Exchange SE"):
        assert sp.required_packages(product, edge=False) == ["vcredist2012", "vcredist2013", "ucma4"]
        assert sp.required_packages(product, edge=True) == ["vcredist2012"]
    # A product the file does not know gets every product's list.
    assert sp.required_packages("Exchange 2031", edge=False) == ["vcredist2012", "vcredist2013", "ucma4"]


def test_a_server_with_every_package_has_no_gap_and_an_older_answer_is_unknown_not_a_gap():
    assert sp.gaps(_server()) == []
    assert sp.gaps(_facts()) is None  # no setup_prerequisites: a script from before this check
    verdict = _readiness.judge(_answers(_server()), _prereq(), repository_url=REPO, plan=CU_PLAN)
    assert verdict["status"] == "ready", verdict["findings"]


@pytest.mark.parametrize("missing, name", [
    ({"vc2012": None}, "Visual C++ Redistributable Package for Visual Studio 2012"),
    ({"vc2013": None}, "Visual C++ Redistributable Package for Visual Studio 2013"),
    ({"ucma": None}, "Unified Communications Managed API 4.0, Core Runtime 64-bit"),
])
def test_each_missing_package_blocks_patch_when_the_plan_runs_setup_and_the_fix_names_it(missing, name):
    facts = _server(**missing)
    verdict = _readiness.judge(_answers(facts), _prereq(), repository_url=REPO, plan=CU_PLAN)
    assert verdict["status"] == "not_ready"
    assert verdict["jobs"] == {"audit": "ready", "stage": "ready", "patch": "blocked", "mitigate": "ready",
                               "eems": "ready"}
    [finding] = verdict["findings"]
    assert finding["id"] == "setup_prerequisite_missing" and finding["severity"] == "blocker"
    assert finding["message"].startswith("%s is not installed." % name)
    assert "Exchange SE RTM Sep26SUv2 runs Exchange Setup" in finding["message"]
    assert finding["fix"].startswith("Install %s" % name)


def test_the_fix_says_where_each_package_comes_from():
    [finding] = _readiness.judge(_answers(_server(vc2013=None, ucma=None)), _prereq(), repository_url=REPO,
                                 plan=CU_PLAN)["findings"]
    assert finding["fix"] == (
        "Install Visual C++ Redistributable Package for Visual Studio 2013 (12.0.40664 or later) from Microsoft "
        "support article 4032938, \"Update for Visual C++ 2013 Redistributable Package\" (x64); Install Unified "
        "Communications Managed API 4.0, Core Runtime 64-bit from the Microsoft Download Center, or the "
        "\\UCMARedist folder of the Exchange Server media.")


def test_an_older_runtime_is_a_warning_with_both_versions():
    verdict = _readiness.judge(_answers(_server(vc2012="11.0.50727")), _prereq(), repository_url=REPO, plan=CU_PLAN)
    assert verdict["status"] == "ready_with_warnings" and verdict["jobs"]["patch"] == "warning"
    [finding] = verdict["findings"]
    assert finding["id"] == "setup_prerequisite_old"
    assert "Visual Studio 2012 is 11.0.50727, older than 11.0.61030" in finding["message"]


def test_the_newest_of_several_entries_counts_and_a_missing_version_number_falls_back_to_the_display_version():
    facts = _server(vc2013="12.0.21005")
    facts["setup_prerequisites"]["vc_redistributables"].append(_runtime("2013", "12.0.40664"))
    assert sp.gaps(facts) == []
    entry = dict(_runtime("2013", "12.0.40664"), version_number=None)
    facts = _server(vc2013=None)
    facts["setup_prerequisites"]["vc_redistributables"].append(entry)
    assert sp.gaps(facts) == []
    # A matching entry without any readable version: installed, version unknown, not a gap.
    facts["setup_prerequisites"]["vc_redistributables"][-1] = dict(entry, display_version=None)
    assert sp.gaps(facts) == []


def test_an_su_only_plan_makes_a_missing_package_a_warning_not_a_blocker():
    for plan in (SU_PLAN, NOTHING_PLAN):
        verdict = _readiness.judge(_answers(_server("15.2.2562.46", vc2013=None)), _prereq(), repository_url=REPO,
                                   plan=plan)
        assert verdict["status"] == "ready_with_warnings" and verdict["jobs"]["patch"] == "warning"
        [finding] = verdict["findings"]
        assert finding["severity"] == "warning" and "installs no Cumulative Update" in finding["message"]


def test_without_a_plan_a_missing_package_still_blocks():
    [finding] = _readiness.judge(_answers(_server(ucma=None)), _prereq(), repository_url=REPO,
                                 plan=None)["findings"]
    assert finding["severity"] == "blocker" and "No update plan could be made" in finding["message"]


def test_edge_needs_only_the_2012_runtime():
    edge = _server("15.2.1748.53", edge=True, vc2013=None, ucma=None)
    assert sp.gaps(edge) == []
    verdict = _readiness.judge(_answers(edge), _prereq(), repository_url=REPO, plan=CU_PLAN)
    assert "setup_prerequisite_missing" not in [f["id"] for f in verdict["findings"]]
    edge = _server("15.2.1748.53", edge=True, vc2012=None, vc2013=None, ucma=None)
    assert [g["package"] for g in sp.gaps(edge)] == ["vcredist2012"]


def test_the_audit_finding_matches_preflights_and_follows_the_plan():
    facts = _server(vc2013=None)
    [audit] = _host_facts.setup_prerequisite_findings(facts, CU_PLAN)
    [preflight] = _readiness.judge(_answers(facts), _prereq(), repository_url=REPO, plan=CU_PLAN)["findings"]
    assert audit["id"] == preflight["id"] and audit["severity"] == "critical"
    assert audit["remedy"] == preflight["fix"]
    assert audit["message"].split(". ")[0] == preflight["message"].split(". ")[0]
    [su_only] = _host_facts.setup_prerequisite_findings(facts, SU_PLAN)
    assert su_only["severity"] == "warning" and "next one will stop on it" in su_only["message"]
    assert _host_facts.setup_prerequisite_findings(_server(), CU_PLAN) == []
    assert _host_facts.setup_prerequisite_findings(_facts(), CU_PLAN) == []


def test_the_judgement_does_not_change_its_input():
    facts = _server(vc2013=None, ucma=None)
    before = copy.deepcopy(facts)
    sp.gaps(facts, "Exchange 2019")
    _host_facts.setup_prerequisite_findings(facts, CU_PLAN)
    assert facts == before
