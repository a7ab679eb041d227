"""Issue 13 traps around the installer, through real ansible-playbook runs against the lab.

Services kept off on purpose (POP3/IMAP4), a pending restart only
UpdateExeVolatile shows, the verbose MSI log whose verdict is far from its
end, the Extended Protection opt-outs, resuming a Setup from media older
than the _DiagnosticData licence switch, and an Exchange 2013 CU that comes
as a self-extracting .exe.
"""
from __future__ import annotations

import json

import pytest

from labtools import run_playbook, write_inventory  # noqa: I001 (sets the import paths)
from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_call  # noqa: E402
from lab.client import WinRMClient  # noqa: E402
from test_patch import _patch  # noqa: E402 (the patch run and its report rows, shared with test_patch_hooks)

AUDIT = "playbooks/audit.yml"
TARGET = "15.2.1748.53"  # 2019 CU15 Sep26SUv2 (ESU)
CU15_ISO = "ExchangeServer2019-x64-CU15.ISO"
SU_MSP = "Exchange2019-KB5129956-x64-en.msp"
POP_IMAP = ("MSExchangePOP3", "MSExchangePOP3BE", "MSExchangeImap4", "MSExchangeIMAP4BE")


def _fleet(**servers):
    rows = []
    for name, overrides in servers.items():
        row = {"name": name, "build": "15.2.1748.39", "reboot_seconds": 10}
        row.update(overrides)
        rows.append(row)
    return {
        "lab": {"installer_seconds": {"cu": 20, "su": 10, "prepare_schema": 5, "prepare_ad": 5}},
        "organizations": [{"name": "Contoso", "esu_enrolled": True}],
        "repository": {"packages": [{"name": CU15_ISO, "size_kb": 256}, {"name": SU_MSP, "size_kb": 64}]},
        "servers": rows,
        "databases": [{"name": "DB-%s" % r["name"], "copies": {r["name"]: {}}} for r in rows],
    }


def _pop_imap_off():
    return {name: {"start_mode": "Disabled", "state": "Stopped"} for name in POP_IMAP}


def _install(lab, tmp_path, host, options, name="install"):
    """onprem.exchange.update_install alone, the way a playbook of one's own calls it."""
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    playbook = tmp_path / ("%s.yml" % name)
    task = dict({"poll_interval": 0.3, "reboot_timeout": 120, "services_timeout": 5}, **options)
    playbook.write_text(json.dumps([{
        "name": "install", "hosts": host, "gather_facts": False,
        "tasks": [{"name": "install", "onprem.exchange.update_install": task, "register": "installed"},
                  {"name": "show", "ansible.builtin.debug": {"var": "installed"}}],
    }]), encoding="utf-8")
    return run_playbook(inventory, str(playbook), "-v")


def _out(result):
    return result.stdout[-4000:] + result.stderr[-2000:]


def _runs(lab, name):
    return lab.state.server(name).get("installer_runs") or []


# -- services kept off on purpose ------------------------------------------

def test_a_server_with_pop3_and_imap4_disabled_on_purpose_is_patched_and_returns_to_service(lab_factory, tmp_path):
    # Services start with the boot here, so every health read is counted
    # against the services meant off, not against the start-up wait.
    lab = lab_factory(_fleet(PS1={"services": _pop_imap_off(), "services_start_seconds": 0}))
    result, rows = _patch(lab, tmp_path, ["PS1"], "-e", "exchange_patch_services_timeout=60")
    assert result.returncode == 0, _out(result)
    assert rows["PS1"]["status"] == "patched", rows["PS1"]
    # One health read after the restart and one at the end: no polling for
    # services that are meant to stay off until services_timeout runs out.
    assert lab.stats("PS1")["operations"]["Test-ExchangeInstallHealth"] <= 3
    server = lab.state.server("PS1")
    assert server["build"] == TARGET
    # The admin's choice survives the SU, and nobody waited for those services.
    assert {n: server["services"][n]["start_mode"] for n in POP_IMAP} == {n: "Disabled" for n in POP_IMAP}
    assert server["services"]["MSExchangeTransport"]["state"] == "Running"


def test_a_service_the_admin_names_as_meant_off_is_never_waited_for(lab_factory, tmp_path):
    # UM was Automatic before; the admin keeps it stopped and says so.
    lab = lab_factory(_fleet(PS1={"faults": {"services_fail_start": ["MSExchangeUM"]},
                                  "services": {"MSExchangeUM": {"start_mode": "Automatic", "state": "Running"}}}))
    result, rows = _patch(lab, tmp_path, ["PS1"], "-e", json.dumps({"exchange_patch_services_meant_off":
                                                                    ["MSExchangeUM"]}))
    assert result.returncode == 0, _out(result)
    assert rows["PS1"]["status"] == "patched"
    # Without the list the same server is held back, naming the service.
    lab2 = lab_factory(_fleet(PS1={"faults": {"services_fail_start": ["MSExchangeUM"]},
                                   "services": {"MSExchangeUM": {"start_mode": "Automatic", "state": "Running"}}}))
    result, rows = _patch(lab2, tmp_path, ["PS1"], name="unnamed")
    assert result.returncode != 0
    assert "automatic services not running: MSExchangeUM" in rows["PS1"]["message"]


def test_the_audit_no_longer_calls_disabled_pop3_an_interrupted_install(lab_factory, tmp_path):
    lab = lab_factory(_fleet(PS1={"services": _pop_imap_off()},
                             PS2={"setup_watermark": "MailboxRole: x",
                                  "services": {"MSExchangeIS": {"start_mode": "Disabled", "state": "Stopped"}}}))
    inventory = write_inventory(lab, tmp_path / "inventory.yml")

    def findings(*extra, name):
        reports = tmp_path / name
        result = run_playbook(inventory, AUDIT, "-e", "exchange_report_dir=%s" % reports, *extra)
        assert result.returncode == 0, _out(result)
        report = json.loads((reports / "exchange-audit.json").read_text(encoding="utf-8"))
        return {s["name"]: {f["id"]: f for f in s.get("findings") or []} for s in report["servers"]}

    rows = findings(name="plain")
    disabled = rows["PS1"]["exchange_services_disabled"]
    assert disabled["severity"] == "info" and "not an interrupted install" in disabled["message"]
    assert "setup_interrupted" not in rows["PS1"]
    # A watermark is what makes it an interrupted Setup.
    assert rows["PS2"]["exchange_services_disabled"]["severity"] == "critical"
    assert "setup_interrupted" in rows["PS2"]
    rows = findings("-e", json.dumps({"exchange_services_meant_off": list(POP_IMAP)}), name="named")
    assert "exchange_services_disabled" not in rows["PS1"]


# -- pending restart, MSI log ------------------------------------------------

def test_a_restart_only_update_exe_volatile_shows_is_done_before_installing(lab_factory, tmp_path):
    lab = lab_factory(_fleet(PS1={"update_exe_volatile": True}))
    boots = lab.state.server("PS1")["boot_count"]
    result, rows = _patch(lab, tmp_path, ["PS1"])
    assert result.returncode == 0, _out(result)
    assert rows["PS1"]["steps_done"] == ["reboot", "install_su Sep26SUv2"]
    assert lab.state.server("PS1")["boot_count"] == boots + 2


def test_an_su_whose_verbose_log_ends_in_hundreds_of_property_lines_is_a_success(lab_factory, tmp_path):
    lab = lab_factory(_fleet(PS1={}))
    result, rows = _patch(lab, tmp_path, ["PS1"])
    assert result.returncode == 0, _out(result)
    assert rows["PS1"]["status"] == "patched"
    log = lab.state.server("PS1")["installer_task"]["log"]
    verdict = max(i for i, line in enumerate(log) if "Installation operation completed successfully" in line)
    assert len(log) - verdict > 200  # far beyond the 200-line tail the poll returns


# -- Setup switches ------------------------------------------------------------

def test_extended_protection_opt_out_reaches_setup_that_knows_it(lab_factory, tmp_path):
    lab = lab_factory(_fleet(PM1={"build": "15.2.1544.39"}))
    result, rows = _patch(lab, tmp_path, ["PM1"], "-e", "exchange_patch_extended_protection=off_frontend_ews")
    assert result.returncode == 0, _out(result)
    cu = [r for r in _runs(lab, "PM1") if r["kind"] == "cu"]
    assert cu and cu[0]["switches"] == ["/Mode:Upgrade", "/IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF",
                                        "/DoNotEnableEP_FEEWS"]
    assert lab.state.server("PM1")["build"] == TARGET


def test_an_unknown_extended_protection_choice_fails_before_the_host_is_touched(lab_factory, tmp_path):
    lab = lab_factory(_fleet(PS1={}))
    result = _install(lab, tmp_path, "PS1", {"step": {"action": "install_su", "to_build": TARGET,
                                                      "installer": SU_MSP}, "extended_protection": "none"})
    assert result.returncode != 0
    assert "extended_protection" in _out(result) and "off_frontend_ews" in _out(result)
    assert "Start-InstallerTask" not in lab.stats("PS1")["operations"]


def test_resuming_setup_from_media_older_than_the_diagnostic_data_switch_uses_the_plain_licence_switch(
        lab_factory, tmp_path):
    # 2019 CU9 with a CU10 Setup stopped part-way; CU10 Setup predates the
    # _DiagnosticData switch (2019 CU11) and refuses it.
    lab = lab_factory(_fleet(PR1={
        "build": "15.2.858.5", "setup_watermark": "MailboxRole: Microsoft.Exchange.Management.Deployment.x",
        "services": {"MSExchangeIS": {"start_mode": "Disabled", "state": "Stopped"}}}))
    result = _install(lab, tmp_path, "PR1", {"step": {"action": "resume_setup"},
                                             "resume_installer": "ExchangeServer2019-x64-CU10.ISO"})
    assert result.returncode == 0, _out(result)
    runs = _runs(lab, "PR1")
    assert runs[-1]["switches"] == ["/Mode:Upgrade", "/IAcceptExchangeServerLicenseTerms"]
    # The task result says which switches Setup was given.
    assert '"/IAcceptExchangeServerLicenseTerms"' in result.stdout
    server = lab.state.server("PR1")
    assert server["setup_watermark"] is None and server["build"].startswith("15.2.922.")


def test_an_exchange_2013_cu_exe_is_unpacked_and_setup_run_from_it(lab_factory, tmp_path):
    lab = lab_factory(_fleet(EX13={"build": "15.0.1473.6", "os": "Windows Server 2012 R2 Datacenter",
                                   "dotnet_release": 528049}))
    step = {"action": "install_cu", "from_build": "15.0.1473.6", "to_build": "15.0.1497.2", "update": "CU23",
            "installer": "Exchange2013-x64-cu23.exe"}
    result = _install(lab, tmp_path, "EX13", {"step": step})
    assert result.returncode == 0, _out(result)
    run = [r for r in _runs(lab, "EX13") if r["kind"] == "cu"][-1]
    assert run["extract_to"].lower() == "c:\\exchangeupdates\\exchange2013-x64-cu23"
    # CU23's self-extractor takes /extract:<folder> /q, not the /X: of CU20 and before.
    assert run["unpack"] == "extract"
    # 2013 Setup knows only the plain licence switch.
    assert run["switches"] == ["/Mode:Upgrade", "/IAcceptExchangeServerLicenseTerms"]
    assert lab.state.server("EX13")["build"] == "15.0.1497.2"


def test_an_exchange_2013_cu_whose_unpack_switches_no_source_names_is_not_unpacked_blindly(lab_factory, tmp_path):
    # CU22: no public source gives its self-extractor's switches (CU21 and CU23 differ). A Setup of
    # CU22 stopped part-way on a CU21 server, to be finished from the same package.
    lab = lab_factory(_fleet(EX13={
        "build": "15.0.1395.12", "os": "Windows Server 2012 R2 Datacenter", "dotnet_release": 461814,
        "setup_watermark": "MailboxRole: Microsoft.Exchange.Management.Deployment.x",
        "services": {"MSExchangeIS": {"start_mode": "Disabled", "state": "Stopped"}}}))
    result = _install(lab, tmp_path, "EX13", {"step": {"action": "resume_setup"},
                                              "resume_installer": "Exchange2013-x64-cu22.exe"})
    assert result.returncode != 0
    assert "Exchange2013-x64-cu22.exe are not known, so it is not unpacked blindly" in result.stdout, _out(result)
    assert not [r for r in _runs(lab, "EX13") if r["kind"] == "cu"]
    assert lab.state.server("EX13")["build"] == "15.0.1395.12"


def test_an_exchange_2013_cu_unpacked_by_hand_runs_setup_from_its_folder(lab_factory, tmp_path):
    # The way out for a package whose switches are unknown: the admin unpacked it beside itself.
    lab = lab_factory(_fleet(EX13={
        "build": "15.0.1395.12", "os": "Windows Server 2012 R2 Datacenter", "dotnet_release": 461814,
        "setup_watermark": "MailboxRole: Microsoft.Exchange.Management.Deployment.x",
        "extracted_media": ["c:\\exchangeupdates\\exchange2013-x64-cu22"],
        "services": {"MSExchangeIS": {"start_mode": "Disabled", "state": "Stopped"}}}))
    result = _install(lab, tmp_path, "EX13", {"step": {"action": "resume_setup"},
                                              "resume_installer": "Exchange2013-x64-cu22.exe"})
    assert result.returncode == 0, _out(result)
    run = [r for r in _runs(lab, "EX13") if r["kind"] == "cu"][-1]
    assert run["extract_to"] is None and run["unpack"] is None
    assert lab.state.server("EX13")["setup_watermark"] is None


def test_media_older_than_2019_cu14_never_gets_the_extended_protection_switches(lab_factory, tmp_path):
    # 2016 CU23 Setup does not turn Extended Protection on, nor know the opt-outs.
    lab = lab_factory(_fleet(EX16={"build": "15.1.2375.7", "os": "Windows Server 2016 Standard",
                                   "dotnet_release": 528449}))
    step = {"action": "install_cu", "from_build": "15.1.2375.7", "to_build": "15.1.2507.6", "update": "CU23",
            "installer": "ExchangeServer2016-x64-CU23.ISO"}
    result = _install(lab, tmp_path, "EX16", {"step": step, "extended_protection": "off"})
    assert result.returncode == 0, _out(result)
    run = [r for r in _runs(lab, "EX16") if r["kind"] == "cu"][-1]
    assert run["switches"] == ["/Mode:Upgrade", "/IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF"]
    assert lab.state.server("EX16")["build"] == "15.1.2507.6"


# -- the host operations over WinRM ------------------------------------------------

def test_over_winrm_update_exe_volatile_is_a_pending_reboot_reason_and_odd_choices_are_refused(lab_factory):
    lab = lab_factory(_fleet(PS1={"update_exe_volatile": True}))
    client = WinRMClient.for_lab(lab, "PS1")
    try:
        facts = _host_call.run_host_operation(client, "Get-ExchangeFacts", {"ems": {"mode": "remote"}})["data"]
        assert facts["pending_reboot"] == {"pending": True, "reasons": ["UpdateExeVolatile"]}
        # Refused before anything else is looked at, the account included.
        base = {"kind": "cu", "installer_path": "C:\\ExchangeUpdates\\" + CU15_ISO,
                "staging_dir": "C:\\ExchangeUpdates", "licence": "diagnostic_data", "update": "CU15",
                "expected_build": "15.2.1748.10", "username": "LAB\\ansible", "password": "unused"}
        for name, value, words in (("extended_protection", "$(Stop-Computer)", "Unknown extended_protection"),
                                   ("licence", "DiagnosticDataON /Mode:Uninstall", "Unknown licence"),
                                   ("unpack", '/extract:"C:\\Windows" /q', "Unknown unpack")):
            with pytest.raises(_host_call.HostCallError, match=words):
                _host_call.run_host_operation(client, "Start-InstallerTask", dict(base, **{name: value}))
        assert not _runs(lab, "PS1")
    finally:
        client.close()
