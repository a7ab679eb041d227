"""Edge Transport servers in the controller's judgement (issue 13): told
apart from the host's answer, no EEMS verdict or finding, no AD preparation,
no redirect, and nothing for the EEMS watch to alarm about."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _dag_gate as gate
from ansible_collections.onprem.exchange.plugins.plugin_utils._edge import eems_result, is_edge_transport
from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_status import judge_eems
from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_watch import compare, next_record, observe
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_facts import local_findings, planner_facts
from ansible_collections.onprem.exchange.plugins.plugin_utils._install_judge import ad_prep_applies

EDGE_FACTS = {
    "edge_transport": True, "setup": {"exsetup_version": "15.02.1118.007"}, "setup_watermark": None,
    "services": [{"name": "MSExchangeTransport", "start_mode": "Automatic", "state": "Running"}],
    "mitigation_events": [], "ems": {"available": True, "mode": "local", "error": None},
    "exchange": {"roles": ["Edge"], "organization_name": None, "organization_mitigations_enabled": None,
                 "server_mitigations_enabled": None},
}


@pytest.mark.parametrize("raw, expected", [
    ({"edge_transport": True}, True),
    ({"edge_transport": False, "exchange": {"roles": ["Mailbox"]}}, False),
    # An answer without the registry fact (an older script) still counts by its role.
    ({"exchange": {"roles": ["Edge"]}}, True),
    ({"exchange": {"roles": "Edge"}}, True),
    ({"roles": ["EdgeTransport"]}, True),
    ({}, False),
    (None, False),
])
def test_an_edge_server_is_told_by_its_registry_key_or_its_role(raw, expected):
    assert is_edge_transport(raw) is expected


def test_eems_on_edge_is_not_applicable_with_its_reason_and_raises_no_finding():
    # Even with no Mitigation Service and an old build, which on a Mailbox server is a critical finding.
    verdict = judge_eems(EDGE_FACTS, {"eems_fetch_ok": False, "eems_2026_ok": False, "build": "15.2.1118.7"})
    assert (verdict["status"], verdict["cause"]) == ("not_applicable", "edge_transport")
    assert verdict["evidence"] == "Edge Transport servers do not run the Mitigation Service"
    assert local_findings(EDGE_FACTS, verdict) == []
    mailbox = dict(EDGE_FACTS, edge_transport=False, exchange=dict(EDGE_FACTS["exchange"], roles=["Mailbox"]))
    assert judge_eems(mailbox, {"eems_fetch_ok": False})["status"] == "not_working"


def test_the_eems_module_result_on_edge_is_ok_unchanged_and_says_why():
    result = eems_result("EDGE1", judge_eems(EDGE_FACTS), "15.2.1118.7")
    assert result["changed"] is False and "failed" not in result
    assert result["skipped_reason"] == "Edge Transport servers do not run the Mitigation Service"
    assert result["eems"]["status"] == "not_applicable" and result["changes"] == []


def test_planner_facts_carry_the_edge_role_even_without_exchange_cmdlets():
    facts = planner_facts(dict(EDGE_FACTS, exchange=None))
    assert facts["roles"] == ["Edge"] and facts["edge_transport"] is True


def test_no_active_directory_preparation_is_planned_for_an_edge_server():
    cu = {"kind": "cu", "action": "install_cu"}
    assert ad_prep_applies(cu, {"edge_transport": False}) is True
    assert ad_prep_applies(cu, {"edge_transport": True}) is False
    assert ad_prep_applies({"kind": "su", "action": "install_su"}, {}) is False
    assert ad_prep_applies({"kind": "cu", "action": "resume_setup"}, {}) is False


def test_maintenance_on_edge_drains_and_waits_without_redirect_or_dag_steps():
    state = {"server": "EDGE1", "edge_transport": True, "dag": None, "components": {
        "ServerWideOffline": "Active", "HubTransport": "Active"}, "cluster_node": None, "auto_activation": None,
        "move_now": False, "queue_messages": 6, "active_copies": [], "databases": [], "members": [],
        "transport_servers": []}
    assert gate.enter_steps(state) == ["drain_transport", "wait_queues", "server_offline"]
    assert gate.judge_gate(state)["open"] is True
    offline = dict(state, components={"ServerWideOffline": "Inactive", "HubTransport": "Draining"}, queue_messages=0)
    assert gate.exit_steps(offline) == ["server_online", "resume_transport"]
    # A Mailbox server with queued mail still hands it on.
    assert "redirect_messages" in gate.enter_steps(dict(state, edge_transport=False))


def test_the_eems_watch_raises_no_alarm_for_an_edge_server():
    state = dict(EDGE_FACTS, now="2026-11-26T08:00:00+00:00", exchange=None,
                 ems={"available": False, "mode": "local", "error": None})
    first = {"EDGE1": {"observation": observe(state)}}
    assert first["EDGE1"]["observation"]["exchange_error"] is None
    record = next_record(None, first, "2026-11-26T08:00:00+00:00")
    again = compare(record, first, "2026-11-27T08:00:00+00:00")
    assert again["alerts"] == 0 and again["changes"] == []
    # Silent the next day (down, or out of the run's reach): no "stopped reporting" for a server without EEMS.
    silent = compare(record, {"EDGE1": {"state": "unreachable", "error": "timed out"}}, "2026-11-28T08:00:00+00:00")
    assert silent["alerts"] == 0, silent["changes"]


def test_edge_cmdlets_unavailable_points_at_the_local_snap_ins_not_a_remote_credential():
    forced = dict(EDGE_FACTS, exchange=None, ems={"available": False, "mode": "remote",
                                                  "error": "This is an Edge Transport server: ..."})
    finding = next(f for f in local_findings(forced, judge_eems(forced)) if f["id"] == "exchange_cmdlets_unavailable")
    assert "ems_mode at auto" in finding["remedy"] and "ems_username" not in finding["remedy"]
