"""playbooks/patch.yml over DAGs shaped the way they are really run (issue 13):
a two-member DAG, a three-member DAG whose third member is a lagged copy kept
with activation Blocked on purpose, a member holding a database with a
single copy, an Edge Transport server (local cmdlets only, transport
drained, no DAG step) and a server with POP3/IMAP4 disabled on purpose.
One window; no two members of a DAG out together;
each case handled as the role documents."""
from __future__ import annotations

import json

from labtools import run_playbook, write_inventory

PLAYBOOK = "playbooks/patch.yml"
TARGET = "15.2.1748.53"  # 2019 CU15 Sep26SUv2 (ESU)
FROM = "15.2.1748.46"    # SU only, so the window stays short
SU_MSP = "Exchange2019-KB5129956-x64-en.msp"
HOSTS = ["TW1", "TW2", "LG1", "LG2", "LG3", "EDGE1", "PO1"]
POP_IMAP = ("MSExchangePOP3", "MSExchangePOP3BE", "MSExchangeImap4", "MSExchangeIMAP4BE")
# What maintenance may do on an Edge Transport server: drain transport (and
# wait for its queues), take it offline, and the reverse.  No redirect, no
# cluster, no activation step.
EDGE_STEPS = {"drain_transport", "server_offline", "server_online", "resume_transport"}


def _fleet():
    servers = [{"name": n, "build": FROM, "dag": "TWO" if n.startswith("TW") else "LAG", "reboot_seconds": 10}
               for n in HOSTS if n not in ("EDGE1", "PO1")]
    servers[-1]["auto_activation"] = "Blocked"  # LG3: the lagged copy, never activated by Active Manager
    # An Edge Transport server with mail in its queues: no /PowerShell endpoint,
    # no DAG, no Mitigation Service (see tests/lab/fleet.py).
    servers.append({"name": "EDGE1", "build": FROM, "roles": ["Edge"], "reboot_seconds": 10, "queue_messages": 6})
    # POP3 and IMAP4 kept off by the admin (not named anywhere): judged against
    # their own start mode before the install, so never waited for.
    servers.append({"name": "PO1", "build": FROM, "reboot_seconds": 10,
                    "services": {n: {"start_mode": "Disabled", "state": "Stopped"} for n in POP_IMAP}})
    databases = [
        # The most common DAG there is: two members, two copies per database.
        {"name": "TDB1", "active": "TW1", "copies": {"TW1": {"activation_preference": 1},
                                                     "TW2": {"activation_preference": 2}}},
        {"name": "TDB2", "active": "TW2", "copies": {"TW2": {"activation_preference": 1},
                                                     "TW1": {"activation_preference": 2}}},
        {"name": "LDB1", "active": "LG1", "copies": {"LG1": {"activation_preference": 1},
                                                     "LG2": {"activation_preference": 2},
                                                     "LG3": {"activation_preference": 3}}},
        {"name": "LDB2", "active": "LG2", "copies": {"LG2": {"activation_preference": 1},
                                                     "LG1": {"activation_preference": 2},
                                                     "LG3": {"activation_preference": 3}}},
        # Not replicated: it cannot move off LG2.
        {"name": "SOLO", "active": "LG2", "copies": {"LG2": {}}},
    ]
    return {
        "lab": {"installer_seconds": {"cu": 30, "su": 15, "prepare_schema": 10, "prepare_ad": 10}},
        "organizations": [{"name": "Contoso", "esu_enrolled": True}],
        "dags": [{"name": "TWO"}, {"name": "LAG"}],
        "repository": {"packages": [{"name": SU_MSP, "size_kb": 64}]},
        "servers": servers,
        "databases": databases,
    }


def _patch(lab, tmp_path, name, **extra_vars):
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / ("reports-" + name)
    variables = {"exchange_patch_target": TARGET, "exchange_patch_esu_enrolled": True,
                 "exchange_patch_poll_interval": 0.3, "exchange_patch_gate_poll_interval": 0.3,
                 "exchange_patch_gate_timeout": 300, "exchange_patch_reboot_timeout": 120,
                 "exchange_patch_services_timeout": 5}
    variables.update(extra_vars)
    result = run_playbook(inventory, PLAYBOOK, "--limit", ",".join(HOSTS) + ",localhost",
                          "-e", "exchange_report_dir=%s" % reports, "-e", json.dumps(variables))
    rows = {}
    if (reports / "exchange-patch.json").exists():
        report = json.loads((reports / "exchange-patch.json").read_text(encoding="utf-8"))
        rows = {s["name"]: s for s in report["servers"]}
    return result, rows


def _out(result):
    return result.stdout[-5000:] + result.stderr[-2000:]


def _events(lab, server):
    return [e["event"] for e in lab.maintenance_log if e["server"] == server]


def test_one_window_patches_a_two_member_dag_and_a_lagged_member_and_refuses_a_single_copy_database(
        lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    result, rows = _patch(lab, tmp_path, "default")
    # LG2 is refused on purpose, so the run is not green; everything else went through.
    assert result.returncode != 0, _out(result)
    assert lab.dag_violations() == []
    builds = {n: lab.state.server(n)["build"] for n in HOSTS}
    # Both members of the two-member DAG, one after the other (the default rule).
    assert builds["TW1"] == builds["TW2"] == TARGET, _out(result)
    assert rows["TW1"]["status"] == rows["TW2"]["status"] == "patched"
    # The lagged member was patched, did not hold the gate shut for LG1, and
    # came back Blocked, as the admin had it, with its record spent.
    assert builds["LG1"] == builds["LG3"] == TARGET
    lg3 = lab.state.server("LG3")
    assert lg3["auto_activation"] == "Blocked" and not lg3["activation_move_now"]
    assert not (lg3.get("maintenance_record") or {}).get("ActivationPolicyBefore")
    assert "block_activation" in _events(lab, "LG3") and "allow_activation" in _events(lab, "LG3")
    for name in ("TW1", "TW2", "LG1"):
        assert lab.state.server(name)["auto_activation"] == "Unrestricted"
    # LG2 holds SOLO, a single copy: refused before anything changed, with the reason.
    assert builds["LG2"] == FROM
    assert _events(lab, "LG2") == []
    assert "SOLO holds a single copy (not replicated)" in rows["LG2"]["message"], rows["LG2"]
    assert "allow_single_copy_outage" in rows["LG2"]["message"]
    # The Edge Transport server was patched with its local cmdlets: transport
    # drained until its queues were empty, no redirect (no Mailbox server to
    # hand mail to from an Edge), no DAG step, and back in service.
    assert builds["EDGE1"] == TARGET and rows["EDGE1"]["status"] == "patched", rows.get("EDGE1")
    edge_events = _events(lab, "EDGE1")
    assert "drain_transport" in edge_events and "resume_transport" in edge_events, edge_events
    assert set(edge_events) <= EDGE_STEPS | {"reboot_start", "reboot_end"}, edge_events
    edge = lab.state.server("EDGE1")
    assert edge["component_states"].get("HubTransport", "Active") == "Active"
    assert edge["component_states"].get("ServerWideOffline", "Active") == "Active"
    assert edge["queue"]["messages"] == 0
    # POP3/IMAP4 stayed off as the admin had them, and the server was patched without waiting for them.
    assert builds["PO1"] == TARGET and rows["PO1"]["status"] == "patched", rows.get("PO1")
    po1 = lab.state.server("PO1")["services"]
    assert {n: po1[n]["start_mode"] for n in POP_IMAP} == {n: "Disabled" for n in POP_IMAP}
    assert po1["MSExchangeTransport"]["state"] == "Running"
    # The cluster core group (the PAM) never stayed on a member out of service.
    assert all("move_cluster_group" in _events(lab, n) for n in ("TW1", "LG1"))
    # Every server is back in service.
    last = {e["server"]: e["out_of_service"] for e in lab.maintenance_log}
    assert last and not any(last.values()), last


def test_the_admin_may_accept_a_single_copy_outage_and_the_stricter_rule_names_itself(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    # The stricter rule: two healthy copies must stay. The two-member DAG cannot
    # give that; the refusal names the rule. A short gate wait keeps it quick.
    strict, rows = _patch(lab, tmp_path, "strict", exchange_patch_min_healthy_copies=2,
                          exchange_patch_gate_timeout=2, exchange_patch_allow_single_copy_outage=True)
    assert strict.returncode != 0
    assert lab.state.server("TW1")["build"] == FROM
    assert "Held back by rule: min_healthy_copies" in rows["TW1"]["message"], rows["TW1"]
    assert lab.dag_violations() == []

    allowed, rows = _patch(lab, tmp_path, "allowed", exchange_patch_allow_single_copy_outage=True)
    assert allowed.returncode == 0, _out(allowed)
    assert {n: lab.state.server(n)["build"] for n in HOSTS} == {n: TARGET for n in HOSTS}
    assert lab.dag_violations() == []
    # SOLO stayed on LG2 (it had nowhere to go) and the window did not wait for it to move.
    solo = next(db for db in lab.state.data["databases"] if db["name"] == "SOLO")
    assert solo["active"] == "LG2"
    assert "server_offline" in _events(lab, "LG2")
