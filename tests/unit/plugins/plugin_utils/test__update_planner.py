"""The update planner: each product line and policy, prerequisites, and invariants over every build."""
from __future__ import annotations

import csv
import datetime
import json
import os

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import parse_build
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import load_catalog
from ansible_collections.onprem.exchange.plugins.plugin_utils._update_planner import (
    PlanInputError,
    plan_update,
)

TODAY = datetime.date(2026, 11, 26)
STEP_KEYS = {"order", "action", "from_build", "to_build", "update", "kb", "installer", "reason", "esu_only"}
CSV_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "data", "exchange_builds.csv")
with open(CSV_PATH, newline="", encoding="utf-8") as _handle:
    BUILDS = [row["build"] for row in csv.DictReader(_handle)]


# A Windows Server release each product line runs on (Learn supportability matrix).
OS_FOR = {"15.0": "Windows Server 2012 R2", "15.1": "Windows Server 2016", "15.2": "Windows Server 2019"}


def facts(build, **extra):
    minor = "15.%d" % int(build.replace("Version ", "").split(".")[1].split(" ")[0])
    data = {"build": build, "dotnet_release": 528040, "pending_reboot": False, "setup_watermark": None,
            "free_disk_gb": 120.0, "os": OS_FOR.get(minor, "Windows Server 2019"), "roles": ["Mailbox"]}
    data.update(extra)
    return data


def plan(build, target="latest", esu=False, today=TODAY, **fact_overrides):
    return plan_update(facts(build, **fact_overrides), {"target": target, "esu_enrolled": esu}, today=today)


def actions(result):
    return [s["action"] for s in result["steps"]]


def installs(result):
    return [(s["action"], s["to_build"], s["installer"]) for s in result["steps"] if s["action"] != "reboot"]


def finding_ids(result):
    return {f["id"] for f in result["findings"]}


# -- Exchange 2019 CU12 Mar23SU: meets March 2023, not June 2026 ------------------

def test_2019_cu12_mar23su_latest_goes_through_cu15_to_se():
    result = plan("15.2.1118.26")
    assert result["current"]["update"] == "Mar23SU"
    assert installs(result) == [
        ("install_cu", "15.2.1748.10", "ExchangeServer2019-x64-CU15.ISO"),
        ("upgrade_to_se", "15.2.2562.17", "ExchangeServerSE-x64.iso"),
        ("install_su", "15.2.2562.53", "ExchangeSubscriptionEdition-KB5129955-x64-en.msp"),
    ]
    assert actions(result) == ["install_cu", "reboot", "upgrade_to_se", "reboot", "install_su", "reboot"]
    assert result["reachable"] is True
    assert result["meets_eems"] == {"march_2023": True, "june_2026": True}
    assert not any(s["esu_only"] for s in result["steps"])


def test_2019_cu12_mar23su_eems_minimal_without_esu_takes_se_june_2026():
    result = plan("15.2.1118.26", "eems_minimal")
    assert result["target"]["build"] == "15.2.2562.43"
    assert result["target"]["update"] == "Jun26SU"
    assert [s["update"] for s in result["steps"] if s["action"] != "reboot"] == ["CU15", "RTM", "Jun26SU"]
    assert result["meets_eems"] == {"march_2023": True, "june_2026": True}
    assert {"eems_june_2026_not_met", "unfixed_cves", "end_of_life"} <= finding_ids(result)


def test_2019_cu12_mar23su_eems_minimal_with_esu_is_the_smallest_change():
    result = plan("15.2.1118.26", "eems_minimal", esu=True)
    assert installs(result) == [
        ("install_cu", "15.2.1544.4", "ExchangeServer2019-x64-CU14.ISO"),
        ("install_su", "15.2.1544.41", "Exchange2019-KB5094142-x64-en.msp"),
    ]
    su = result["steps"][-2]
    assert su["esu_only"] is True and su["kb"] == "KB5094142"
    assert "CU14" in result["steps"][0]["reason"] and "Jun26SU" in result["steps"][0]["reason"]


# -- Exchange 2019 CU15: ESU enrolled versus not ---------------------------------

def test_2019_cu15_eems_minimal_enrolled_installs_the_esu_june_update():
    result = plan("15.2.1748.43", "eems_minimal", esu=True)
    assert installs(result) == [("install_su", "15.2.1748.46", "Exchange2019-KB5094140-x64-en.msp")]
    assert result["steps"][0]["esu_only"] is True


def test_2019_cu15_eems_minimal_not_enrolled_upgrades_to_se_instead():
    result = plan("15.2.1748.43", "eems_minimal", esu=False)
    assert installs(result) == [
        ("upgrade_to_se", "15.2.2562.17", "ExchangeServerSE-x64.iso"),
        ("install_su", "15.2.2562.43", "ExchangeSubscriptionEdition-KB5094139-x64-en.msp"),
    ]
    assert "in place" in result["steps"][0]["reason"]


def test_esu_only_explicit_target_needs_enrolment():
    result = plan("15.2.1748.43", "15.2.1748.46", esu=False)
    assert result["reachable"] is False and result["steps"] == []
    assert "esu_required" in finding_ids(result)
    assert plan("15.2.1748.43", "15.2.1748.46", esu=True)["reachable"] is True


# -- Exchange 2016 CU22: the dead end ---------------------------------------------

def test_2016_cu22_latest_without_esu_stops_at_oct25su():
    result = plan("15.1.2375.7")
    assert installs(result) == [
        ("install_cu", "15.1.2507.6", "ExchangeServer2016-x64-CU23.iso"),
        ("install_su", "15.1.2507.61", "Exchange2016-KB5066369-x64-en.msp"),
    ]
    assert result["meets_eems"] == {"march_2023": True, "june_2026": False}
    assert "no_in_place_upgrade" in finding_ids(result)


def test_2016_cu22_latest_with_esu_reaches_the_last_esu_update():
    result = plan("15.1.2375.7", esu=True)
    assert result["target"]["build"] == "15.1.2507.75"
    assert result["steps"][-2]["esu_only"] is True
    assert "esu_ended" in finding_ids(result)


def test_2016_cu22_eems_minimal_without_esu_is_unreachable_but_gets_the_march_level():
    result = plan("15.1.2375.7", "eems_minimal")
    assert result["reachable"] is False
    assert result["target"]["fallback"] is True
    assert result["target"]["update"] == "Mar23SU"
    assert result["meets_eems"] == {"march_2023": True, "june_2026": False}
    unreachable = [f for f in result["findings"] if f["id"] == "eems_target_unreachable"][0]
    assert unreachable["severity"] == "critical"
    assert "Exchange SE" in unreachable["remedy"]


def test_2016_cu22_eems_minimal_with_esu_reaches_jun26su():
    result = plan("15.1.2375.7", "eems_minimal", esu=True)
    assert result["reachable"] is True
    assert result["target"]["build"] == "15.1.2507.69"


def test_2016_cannot_be_upgraded_to_se():
    result = plan("15.1.2507.61", "15.2.2562.43")
    assert result["reachable"] is False and result["steps"] == []
    assert "no_upgrade_path" in finding_ids(result)


def test_2016_old_dotnet_bridges_through_an_intermediate_cu():
    # CU12 runs only on .NET 4.7.2, CU23 only on 4.8: CU14 runs on both.
    result = plan_update(facts("15.1.1713.5", dotnet_release=461808),
                         {"available_media": ["ExchangeServer2016-x64-CU14.iso"]}, today=TODAY)
    assert [(s["action"], s["update"]) for s in result["steps"] if s["action"] != "reboot"] == [
        ("install_cu", "CU14"), ("install_dotnet", ".NET Framework 4.8"), ("install_cu", "CU23"),
        ("install_su", "Oct25SU")]


# -- Exchange 2013: end of life ---------------------------------------------------

def test_2013_latest_is_the_final_update_with_a_migration_finding():
    result = plan("15.0.1497.2")
    assert installs(result) == [("install_su", "15.0.1497.48", "Exchange2013-KB5024296-x64-en.msp")]
    assert {"end_of_life", "migrate_exchange_2013"} <= finding_ids(result)
    assert result["meets_eems"] == {"march_2023": None, "june_2026": None}
    assert "EEMS" not in result["steps"][0]["reason"] and "cut-off" not in result["steps"][0]["reason"]


def test_2013_eems_is_unreachable_with_no_steps():
    result = plan("15.0.1497.48", "eems", esu=True)
    assert result["reachable"] is False and result["steps"] == []
    assert "eems_unavailable" in finding_ids(result)


# -- Exchange SE ------------------------------------------------------------------

@pytest.mark.parametrize("target", ["latest", "eems", "15.2.2562.53"])
def test_se_current_has_nothing_to_do(target):
    result = plan("15.2.2562.53", target)
    assert result["steps"] == [] and result["reachable"] is True
    assert not [f for f in result["findings"] if f["severity"] != "info"]


def test_se_feb26su_eems_minimal_is_one_public_su():
    result = plan("15.02.2562.037", "eems_minimal")
    assert installs(result) == [("install_su", "15.2.2562.43", "ExchangeSubscriptionEdition-KB5094139-x64-en.msp")]
    assert result["steps"][0]["esu_only"] is False


def test_se_newer_than_catalog_is_left_alone_and_reported():
    result = plan("15.2.2562.60")
    assert result["steps"] == [] and result["reachable"] is True
    assert "build_not_in_catalog" in finding_ids(result)


# -- explicit targets -------------------------------------------------------------

def test_explicit_target_in_admin_display_form():
    result = plan("15.2.1544.36", "Version 15.2 (Build 1748.10)")
    assert installs(result) == [("install_cu", "15.2.1748.10", "ExchangeServer2019-x64-CU15.ISO")]


@pytest.mark.parametrize("current, target, finding", [
    ("15.2.1748.39", "15.2.1544.36", "target_is_downgrade"),
    ("15.2.1748.39", "15.2.1748.38", "target_is_downgrade"),
    ("15.2.1118.26", "15.2.1748.99", "target_unknown"),
    ("15.2.1118.26", "15.2.1748.x", "target_unreadable"),
    ("15.2.1544.36", "15.2.1118.40", "target_is_downgrade"),
])
def test_unreachable_explicit_targets_are_findings(current, target, finding):
    result = plan(current, target)
    assert result["reachable"] is False and result["steps"] == []
    assert finding in finding_ids(result)


def test_explicit_target_equal_to_current():
    result = plan("15.2.1748.39", "15.02.1748.039")
    assert result["reachable"] is True and result["steps"] == []


# -- prerequisites ----------------------------------------------------------------

def test_pending_reboot_comes_first_and_low_disk_before_installs():
    result = plan("15.2.1748.43", "eems", pending_reboot=True, free_disk_gb=5.5)
    assert actions(result)[:3] == ["reboot", "free_disk", "upgrade_to_se"]
    assert {"pending_reboot", "low_disk_space"} <= finding_ids(result)


def test_su_only_plan_uses_the_smaller_disk_threshold():
    assert "free_disk" not in actions(plan("15.2.2562.37", "eems", free_disk_gb=15.0))
    assert "free_disk" in actions(plan_update(facts("15.2.2562.37", free_disk_gb=15.0),
                                              {"target": "eems", "min_free_disk_gb": 20}, today=TODAY))


def test_interrupted_setup_stops_the_plan_after_resume():
    result = plan("15.2.1118.26", setup_watermark="Mailbox:BridgeheadRole", pending_reboot=True)
    assert actions(result) == ["reboot", "resume_setup"]
    assert "setup_interrupted" in finding_ids(result)


@pytest.mark.parametrize("os_name, version, installer", [
    ("Windows Server 2019", "4.8", "ndp48-x86-x64-allos-enu.exe"),
    ("Windows Server 2022", "4.8.1", "NDP481-x86-x64-AllOS-ENU.exe"),
])
def test_old_dotnet_is_installed_before_the_cu(os_name, version, installer):
    result = plan("15.2.1118.26", "15.2.1748.10", dotnet_release=461808, os=os_name)
    assert actions(result) == ["install_dotnet", "reboot", "install_cu", "reboot"]
    assert result["steps"][0]["update"] == ".NET Framework %s" % version
    assert result["steps"][0]["installer"] == installer


def test_unknown_facts_are_warnings_not_failures():
    result = plan_update({"build": "15.2.1748.39"}, {"target": "eems", "esu_enrolled": True}, today=TODAY)
    assert {"dotnet_unknown", "free_disk_unknown"} <= finding_ids(result)
    assert result["reachable"] is True


def test_edge_servers_get_no_eems_findings_but_the_same_plan():
    # An old 2019 build: EEMS cut-offs missed on a Mailbox server, none on an
    # Edge Transport server (no Mitigation Service there); the update is the same.
    mailbox = plan("15.2.1118.7", roles=["Mailbox"])
    edge = plan("15.2.1118.7", roles=["Edge"])
    assert {"eems_march_2023_not_met", "eems_june_2026_not_met"} <= finding_ids(mailbox)
    assert not {f for f in finding_ids(edge) if f.startswith("eems")}
    assert actions(edge) == actions(mailbox) and actions(edge)


# -- bad input --------------------------------------------------------------------

def test_unreadable_build_is_a_finding_not_a_crash():
    result = plan("15.2.1748", "latest")
    assert result["current"] is None and result["steps"] == [] and result["reachable"] is False
    assert result["findings"][0]["id"] == "build_unreadable"
    assert "'15.2.1748'" in result["findings"][0]["message"]


@pytest.mark.parametrize("bad_facts, bad_policy", [
    ({}, {}), ([], {}), ({"build": "15.2.1748.10"}, {"target": ""}),
    ({"build": "15.2.1748.10"}, {"installer_format": "zip"}),
    ({"build": "15.2.1748.10"}, {"min_free_disk_gb": "lots"}),
])
def test_wrongly_shaped_input_raises(bad_facts, bad_policy):
    with pytest.raises(PlanInputError):
        plan_update(bad_facts, bad_policy, today=TODAY)


def test_planner_never_reads_the_clock():
    with pytest.raises(PlanInputError):
        plan_update(facts("15.2.1748.39"), {})
    # The same facts planned for an earlier date see ESU, not end of life.
    assert plan("15.2.1748.39", today="2026-05-01")["current"]["lifecycle"] == "esu"


def test_output_shape():
    result = plan("15.2.1118.26", "eems", esu=True)
    assert set(result) == {"current", "target", "steps", "findings", "reachable", "meets_eems", "today"}
    for index, step in enumerate(result["steps"], start=1):
        assert set(step) == STEP_KEYS and step["order"] == index and step["reason"]
    for finding in result["findings"]:
        assert set(finding) == {"id", "severity", "message", "remedy"}
        assert finding["severity"] in ("info", "warning", "critical")
    json.dumps(result)


# -- invariants over every catalog build -----------------------------------------

@pytest.mark.parametrize("policy", [
    {"target": "latest", "esu_enrolled": False}, {"target": "latest", "esu_enrolled": True},
    {"target": "eems", "esu_enrolled": False}, {"target": "eems", "esu_enrolled": True},
], ids=["latest", "latest-esu", "eems", "eems-esu"])
def test_invariants_for_every_reference_build(policy):
    catalog = load_catalog()
    for build in BUILDS:
        result = plan_update(facts(build), policy, today=TODAY, catalog=catalog)
        where = "%s %s" % (build, policy)
        previous = parse_build(build)
        cu = result["current"]["cu"]
        for step in result["steps"]:
            to_build = parse_build(step["to_build"])
            assert to_build >= previous, where           # never downgrades
            if step["action"] == "install_su":
                entry = catalog.find(to_build)
                assert entry.cu == cu, where             # an SU matches the CU it lands on
                assert step["installer"] and step["kb"], where
                if not policy["esu_enrolled"]:
                    assert not step["esu_only"], where   # no ESU update without enrolment
            if step["action"] in ("install_cu", "upgrade_to_se"):
                cu = catalog.find(to_build).cu
                assert step["installer"], where
            previous = to_build
        if policy["target"] == "eems" and result["reachable"]:
            assert result["meets_eems"] == {"march_2023": True, "june_2026": True}, where
        if policy["target"] == "latest":
            assert result["reachable"] is True, where


def test_the_current_build_is_parsed_once_at_the_boundary_and_travels_inward_as_a_value(monkeypatch):
    from ansible_collections.onprem.exchange.plugins.plugin_utils import _exchange_build
    from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import load_catalog
    from ansible_collections.onprem.exchange.plugins.plugin_utils._update_planner import plan_update
    catalog = load_catalog()
    original = _exchange_build.ExchangeBuild.parse.__func__
    parsed = []

    def counting(cls, value):
        if isinstance(value, str):
            parsed.append(value)
        return original(cls, value)

    monkeypatch.setattr(_exchange_build.ExchangeBuild, "parse", classmethod(counting))
    plan = plan_update({"build": "15.02.1544.004", "roles": ["Mailbox"], "os": "Windows Server 2019"},
                       {"target": "latest"}, today="2026-11-26", catalog=catalog)
    assert plan["steps"]
    # Once as the host gave it (classify), once in the catalog's short form (the planner), never per rule.
    assert parsed.count("15.02.1544.004") == 1 and parsed.count("15.2.1544.4") == 1
    parsed.clear()
    assert catalog.describe_change("15.2.1544.4", "15.2.2562.17").startswith("Exchange 2019 CU14")
    assert sorted(parsed) == ["15.2.1544.4", "15.2.2562.17"]
