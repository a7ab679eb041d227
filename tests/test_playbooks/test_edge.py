"""Edge Transport servers through the playbooks and real WinRM (issue 13):
an Edge server has no /PowerShell endpoint, no IIS, no DAG and no
Mitigation Service.  Audit, EEMS and mitigations include it and treat it as
such: its facts come from its local cmdlets, it gets a plan and never an
EEMS or IIS finding, and the EEMS and mitigation modules call it not
applicable (green, nothing changed)."""
from __future__ import annotations

import json
import re

import pytest

from labtools import run_playbook, write_inventory  # noqa: I001 (sets the import paths)
from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_call  # noqa: E402
from lab.client import WinRMClient  # noqa: E402

OLD_2019 = "15.2.1118.7"  # 2019 CU12 RTM: before both EEMS cut-offs


def _fleet():
    return {
        "lab": {"clock_factor": 0},
        "servers": [
            {"name": "MBX1", "build": OLD_2019},
            {"name": "EDGE1", "build": OLD_2019, "roles": ["Edge"]},
        ],
    }


def _recap(stdout):
    return {m.group(1): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", stdout, re.M)}


def _managed(lab):
    """What an EEMS or mitigation run could change on the Edge server."""
    server = lab.state.server("EDGE1")
    return json.dumps({k: server.get(k) for k in ("services", "eems", "iis", "events", "component_states",
                                                  "url_rewrite_version", "build")}, sort_keys=True, default=str)


def _out(result):
    return result.stdout[-4000:] + result.stderr[-2000:]


def test_over_winrm_edge_facts_come_from_local_cmdlets_and_remote_is_refused_plainly(lab_factory):
    lab = lab_factory(_fleet())
    client = WinRMClient.for_lab(lab, "EDGE1")
    try:
        facts = _host_call.run_host_operation(client, "Get-ExchangeFacts", {"ems": {"mode": "auto"}})["data"]
        assert facts["edge_transport"] is True
        assert facts["ems"] == {"available": True, "mode": "local", "error": None}
        assert facts["exchange"]["roles"] == ["Edge"] and facts["exchange"]["dag"] is None
        assert facts["exchange"]["organization_name"] is None
        assert facts["rewrite_rules"] is None  # no IIS on Edge
        names = {s["name"] for s in facts["services"]}
        assert "MSExchangeTransport" in names and "MSExchangeMitigation" not in names
        # No credential is needed locally (no second hop); remote, when forced, says why it cannot work.
        forced = _host_call.run_host_operation(client, "Get-ExchangeFacts", {"ems": {"mode": "remote"}})["data"]
        assert forced["exchange"] is None
        assert "Edge Transport server" in forced["ems"]["error"] and "ems_mode=auto" in forced["ems"]["error"]
        state = _host_call.run_host_operation(client, "Get-MaintenanceState", {"ems": {"mode": "auto"}})["data"]
        assert state["edge_transport"] is True and state["dag"] is None and state["auto_activation"] is None
        assert set(state["components"]) == {"ServerWideOffline", "HubTransport"}
        # Outside the domain: the workgroup is no part of its name (the primary DNS suffix is).
        identity = _host_call.run_host_operation(client, "Get-HostIdentity", {"token": "t"})["data"]
        assert identity["domain"] == "WORKGROUP" and identity["fqdn"] == facts["fqdn"] == "EDGE1.lab.contoso.test"
        # Its WinRM answers only its own local account, not the domain's.
        domain = lab.state.data["lab"]["credential"]
        with pytest.raises(Exception, match="(?i)401|unauthori|credentials were rejected"):
            _host_call.run_host_operation(WinRMClient.for_lab(lab, "EDGE1", username=domain["username"],
                                                              password=domain["password"]),
                                          "Get-HostIdentity", {"token": "t"})
        # Setup on Edge never prepares Active Directory: the host refuses it outright.
        with pytest.raises(_host_call.HostCallError, match="never prepares Active Directory"):
            _host_call.run_host_operation(client, "Start-InstallerTask", {
                "kind": "prepare_ad", "installer_path": "C:\\ExchangeUpdates\\ExchangeServer2019-x64-CU15.ISO",
                "staging_dir": "C:\\ExchangeUpdates", "licence": "diagnostic_data", "update": "CU15",
                "expected_build": "15.2.1748.10", "username": "EDGE1\\exadmin", "password": "Edge-Passw0rd!"})
    finally:
        client.close()
    mailbox = WinRMClient.for_lab(lab, "MBX1")
    try:
        facts = _host_call.run_host_operation(mailbox, "Get-ExchangeFacts", {"ems": {"mode": "auto"}})["data"]
        # auto is still the remote session on a Mailbox server (it needs the credential).
        assert facts["edge_transport"] is False and facts["ems"]["mode"] == "remote"
        assert "0x80090311" in facts["ems"]["error"]
    finally:
        mailbox.close()


def test_audit_plans_the_edge_server_and_raises_no_eems_finding_for_it(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / "reports"
    result = run_playbook(inventory, "playbooks/audit.yml", "-e", "exchange_report_dir=%s" % reports)
    assert result.returncode == 0, _out(result)
    report = json.loads((reports / "exchange-audit.json").read_text(encoding="utf-8"))
    rows = {s["name"]: s for s in report["servers"]}
    edge, mailbox = rows["EDGE1"], rows["MBX1"]
    assert edge["status"] == "audited", edge
    assert (edge["eems_status"], edge["eems_cause"]) == ("not_applicable", "edge_transport"), edge
    # The same build needs the same update on both; only the Mailbox server has EEMS to lose.
    assert edge["next_steps"] == mailbox["next_steps"] and edge["next_steps"] != "none", (edge, mailbox)
    assert mailbox["eems_status"] == "not_working"
    text = json.dumps(edge)
    assert "eems_march_2023" not in text and "eems_june_2026" not in text and "url_rewrite" not in text, edge
    assert "eems_march_2023" in json.dumps(mailbox)


@pytest.mark.parametrize("playbook", ["playbooks/eems.yml", "playbooks/mitigate.yml"])
def test_eems_and_mitigate_runs_that_include_the_edge_server_are_green_and_leave_it_alone(
        lab_factory, tmp_path, playbook):
    lab = lab_factory(_fleet())
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    before = _managed(lab)
    result = run_playbook(inventory, playbook, "-e", "exchange_report_dir=%s" % (tmp_path / "reports"),
                          "-e", "exchange_eems_verify_timeout=0")
    recap = _recap(result.stdout)
    # Green for the Edge server: nothing changed, nothing failed, and nothing was asked of it.
    assert recap["EDGE1"] == (0, 0), _out(result)
    assert _managed(lab) == before
    if playbook.endswith("eems.yml"):
        # The summary names it not applicable, with the reason; never a failure.
        assert re.search(r'"EDGE1: not_applicable \(edge_transport\) Nothing to do: Edge Transport servers do not '
                         r'run the Mitigation Service', result.stdout), _out(result)
    else:
        report = json.loads((tmp_path / "reports" / "exchange-protection.json").read_text(encoding="utf-8"))
        row = next(s for s in report["servers"] if s["name"] == "EDGE1")
        assert (row["status"], row["cves"], row["error"]) == ("checked", [], None), row
        assert "EDGE1" not in report["summary"]["hosts"]["unprotected"]
    assert result.returncode == 0, _out(result)


def test_preflight_judges_the_edge_server_by_what_it_has(lab_factory, tmp_path):
    # No RBAC (local Administrators manage an Edge server), no IIS for URL
    # Rewrite, no Mitigation Service to reach the OCS: none is a finding there.
    lab = lab_factory(_fleet())
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / "reports"
    result = run_playbook(inventory, "playbooks/preflight.yml", "-e", "exchange_report_dir=%s" % reports)
    assert result.returncode == 0, _out(result)
    report = json.loads((reports / "exchange-preflight.json").read_text(encoding="utf-8"))
    rows = {s["name"]: s for s in report["servers"]}
    assert rows["EDGE1"]["findings"] == [], rows["EDGE1"]
    assert rows["EDGE1"]["status"] == "ready"
    # Outside the domain: no Active Directory preparation is read for it; its neighbour's is.
    assert lab.stats("EDGE1")["operations"].get("Get-ActiveDirectoryPrepState", 0) == 0
    assert lab.stats("MBX1")["operations"]["Get-ActiveDirectoryPrepState"] == 1
    # The same checks still hold for the Mailbox server beside it.
    assert "url_rewrite_missing" not in {f["id"] for f in rows["MBX1"]["findings"]}
    assert rows["MBX1"]["server"]["role_groups"] == ["Organization Management"]


def test_the_eems_watch_raises_nothing_for_the_edge_server_even_when_it_goes_quiet(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / "reports"

    def watch():
        result = run_playbook(inventory, "playbooks/eems_watch.yml", "-e", "exchange_report_dir=%s" % reports)
        match = re.search(r'TASK \[Show what changed\].*?"msg": (\[.*?\n    \])', result.stdout, re.S)
        assert match, _out(result)
        return json.loads(match.group(1))

    watch()  # baseline
    history = json.loads((reports / "eems-watch-history.json").read_text(encoding="utf-8"))
    assert history["servers"]["EDGE1"]["observation"]["edge_transport"] is True
    # The Edge server stops answering: a Mailbox server would be "stopped reporting"; an Edge has no EEMS to lose.
    lab.wsman.set_down("EDGE1", True)
    lines = watch()
    assert not [line for line in lines[1:] if " EDGE1 " in line], lines


def test_a_cu_on_the_edge_server_reads_no_ad_preparation_and_gets_no_extended_protection_switch(
        lab_factory, tmp_path):
    # 2019 CU14 -> CU15 + its SU, with the EP opt-out set for the estate (a Mailbox server would get it).
    target = "15.2.1748.53"
    lab = lab_factory({
        "lab": {"installer_seconds": {"cu": 20, "su": 10, "prepare_schema": 5, "prepare_ad": 5}},
        "organizations": [{"name": "Contoso", "esu_enrolled": True}],
        "repository": {"packages": [{"name": "ExchangeServer2019-x64-CU15.ISO", "size_kb": 256},
                                    {"name": "Exchange2019-KB5129956-x64-en.msp", "size_kb": 64}]},
        "servers": [{"name": "EDGE1", "build": "15.2.1544.39", "roles": ["Edge"], "reboot_seconds": 10}],
    })
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / "reports"
    result = run_playbook(inventory, "playbooks/patch.yml", "-e", "exchange_report_dir=%s" % reports, "-e", json.dumps({
        "exchange_patch_target": target, "exchange_patch_esu_enrolled": True, "exchange_patch_poll_interval": 0.3,
        "exchange_patch_reboot_timeout": 120, "exchange_patch_services_timeout": 5,
        "exchange_patch_extended_protection": "off_frontend_ews", "exchange_patch_allow_ad_prep": True}))
    assert result.returncode == 0, _out(result)
    assert lab.state.server("EDGE1")["build"] == target
    runs = lab.state.server("EDGE1").get("installer_runs") or []
    assert [r["kind"] for r in runs] == ["cu", "su"], runs
    assert runs[0]["switches"] == ["/Mode:Upgrade", "/IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF"]
    assert lab.stats("EDGE1")["operations"].get("Get-ActiveDirectoryPrepState", 0) == 0
