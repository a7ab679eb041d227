"""Installer verdicts, post-install health, what is left of a plan: table-driven."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import load_catalog
from ansible_collections.onprem.exchange.plugins.plugin_utils._install_judge import (
    InstallPlanError,
    ad_prep_needed,
    installer_kind,
    judge_installer,
    licence_mode,
    media_rules,
    pending_actions,
    service_modes,
    verify_health,
)

SETUP_OK = "[11/26/2026 08:10:00.0000] [0] The Exchange Server setup operation completed successfully."
MSI_OK = "MSI (s) (0C:10): Installation operation completed successfully."
MSI_FAIL = ["MSI (s) (0C:10): Note: 1: 1708", "noise line", "Action ended: INSTALL. Return value 3.",
            "MSI (s) (0C:10): MainEngineThread is returning 1603"]


@pytest.mark.parametrize("task, kind, result, reboot, words", [
    ({"state": "running"}, "cu", "running", False, "still running"),
    ({"state": "finished", "exit_code": 0, "log_tail": [SETUP_OK]}, "cu", "succeeded", False, "exit code 0"),
    ({"state": "finished", "exit_code": 3010, "log_tail": [MSI_OK]}, "su", "succeeded", True, "restart is required"),
    ({"state": "finished", "exit_code": 1603, "log_tail": MSI_FAIL}, "su", "failed", False, "fatal error"),
    ({"state": "finished", "exit_code": 1642, "log_tail": []}, "su", "failed", False, "wrong CU"),
    ({"state": "finished", "exit_code": 77, "log_tail": []}, "cu", "failed", False, "unknown exit code"),
    ({"state": "vanished", "log_tail": ["Setup was interrupted."]}, "cu", "failed", False, "not a success"),
    ({"state": "finished", "exit_code": None}, "cu", "failed", False, "without an exit code"),
    # Exit code 0 without Setup's own success line is not trusted.
    ({"state": "finished", "exit_code": 0, "log_tail": ["[ERROR] something broke"]}, "cu", "failed", False,
     "does not say"),
    ({"state": "finished", "exit_code": 0, "log_tail": MSI_FAIL[:1]}, "su", "failed", False, "does not report"),
])
def test_installer_verdicts(task, kind, result, reboot, words):
    verdict = judge_installer(task, kind)
    assert verdict["result"] == result
    assert verdict["reboot_required"] is reboot
    assert words in verdict["message"]


def test_a_failure_quotes_the_relevant_log_lines_only():
    verdict = judge_installer({"state": "finished", "exit_code": 1603, "log_tail": MSI_FAIL}, "su")
    assert verdict["log_excerpt"] == ["Action ended: INSTALL. Return value 3.",
                                      "MSI (s) (0C:10): MainEngineThread is returning 1603"]


HEALTHY = {"exsetup_version": "15.02.1748.053",
           "services": [{"name": "MSExchangeIS", "start_mode": "Automatic", "state": "Running"},
                        {"name": "MSExchangeNotificationsBroker", "start_mode": "Manual", "state": "Stopped"}],
           "web_config_tokens": [],
           "components": [{"component": "ServerWideOffline", "state": "Inactive", "requesters": ["Maintenance"]},
                          {"component": "HubTransport", "state": "Active", "requesters": []}]}


@pytest.mark.parametrize("change, key, words", [
    ({}, None, None),
    ({"exsetup_version": "15.02.1748.046"}, "build_ok", "expected 15.2.1748.53"),
    ({"services": [{"name": "MSExchangeIS", "start_mode": "Disabled", "state": "Stopped"}]}, "services_ok",
     "did not put them back"),
    ({"services": [{"name": "W3SVC", "start_mode": "Automatic", "state": "Stopped"}]}, "services_ok",
     "not running: W3SVC"),
    ({"web_config_tokens": ["C:\\x\\web.config"]}, "web_config_ok", "without elevation"),
    ({"components": [{"component": "ServerWideOffline", "state": "Inactive", "requesters": ["Functional"]}]},
     "components_ok", "ServerWideOffline (Functional)"),
    ({"components": None, "ems_error": "Access is denied"}, "components_ok", "Access is denied"),
    # An interrupted Setup is read from the watermark and the Setup log.
    ({"setup_watermark": {"role": "MailboxRole", "watermark": "MailboxRole: ServiceControlTask"}}, "setup_ok",
     "stopped part-way"),
    ({"setup_log": {"last_verdict_line": "[0] The Exchange Server setup operation didn't complete. More details"}},
     "setup_ok", "did not complete"),
    ({"setup_log": {"last_verdict_line": SETUP_OK}}, None, None),
])
def test_post_install_verdicts(change, key, words):
    verdict = verify_health(dict(HEALTHY, **change), "15.2.1748.53")
    for name in ("build_ok", "services_ok", "setup_ok", "web_config_ok", "components_ok"):
        assert verdict[name] is (name != key), name
    if words:
        assert any(words in problem for problem in verdict["problems"]), verdict["problems"]
    else:
        assert verdict["problems"] == []


@pytest.mark.parametrize("product, cu, mode", [
    ("Exchange 2019", "CU15", "diagnostic_data"), ("Exchange 2019", "CU11", "diagnostic_data"),
    ("Exchange 2019", "CU10", "legacy"), ("Exchange 2016", "CU23", "diagnostic_data"),
    ("Exchange 2016", "CU21", "legacy"), ("Exchange SE", "RTM", "diagnostic_data"), ("Exchange 2013", "CU23", "legacy"),
])
def test_licence_switch_follows_the_cu(product, cu, mode):
    assert licence_mode(product, cu) == mode


def test_installer_kinds_and_exe_refusal():
    assert installer_kind("install_cu", "x.ISO") == "cu"
    assert installer_kind("install_su", "Exchange2019-KB1-x64-en.msp") == "su"
    with pytest.raises(InstallPlanError, match="installer_format=msp"):
        installer_kind("install_su", "Exchange2019-KB1-x64-en.exe")


@pytest.mark.parametrize("target, org, needed", [
    ("15.2.1748.10", ["15.2.1544.4", "15.2.1544.4"], True),
    ("15.2.1748.10", ["15.2.1544.4", "15.2.1748.10"], False),
    ("15.2.2562.17", ["15.2.1748.10"], True),
    ("15.2.1748.10", [], True),
])
def test_ad_prep_only_for_the_first_server_of_a_new_cu_line(target, org, needed):
    assert ad_prep_needed(target, org) is needed


STEPS = [
    {"action": "reboot", "to_build": "15.2.1544.39"},
    {"action": "install_cu", "from_build": "15.2.1544.39", "to_build": "15.2.1748.10", "update": "CU15",
     "installer": "ExchangeServer2019-x64-CU15.ISO"},
    {"action": "reboot", "to_build": "15.2.1748.10"},
    {"action": "install_su", "from_build": "15.2.1748.10", "to_build": "15.2.1748.53", "update": "Sep26SUv2",
     "installer": "Exchange2019-KB5129956-x64-en.msp"},
]


@pytest.mark.parametrize("build, expected", [
    ("15.2.1544.39", [("install_cu", "ExchangeServer2019-x64-CU15.ISO"),
                      ("install_su", "CU15-Exchange2019-KB5129956-x64-en.msp")]),
    ("15.02.1748.010", [("install_su", "CU15-Exchange2019-KB5129956-x64-en.msp")]),
    ("15.2.1748.53", []),
    ("15.2.2562.17", []),  # already beyond: nothing, never a downgrade
])
def test_pending_actions_skip_what_the_server_already_has(build, expected):
    todo = pending_actions(STEPS, {"build": build}, load_catalog())
    assert [(a["action"], a["staged_name"]) for a in todo] == expected


def test_pending_actions_refuse_what_they_cannot_do():
    catalog = load_catalog()
    with pytest.raises(InstallPlanError, match="disk space"):
        pending_actions([{"action": "free_disk", "reason": "2 GB free"}], {"build": "15.2.1544.39"}, catalog)
    with pytest.raises(InstallPlanError, match="unreadable"):
        pending_actions(STEPS, {"build": "not-a-build"}, catalog)
    with pytest.raises(InstallPlanError, match="not a step"):
        pending_actions(["install everything"], {"build": "15.2.1544.39"}, catalog)
    resume = pending_actions([{"action": "resume_setup"}], {"build": "15.2.1544.14", "setup_watermark": "x"}, catalog)
    assert [a["action"] for a in resume] == ["resume_setup"]


POP_IMAP_OFF = [{"name": "MSExchangeIS", "start_mode": "Automatic", "state": "Running"},
                {"name": "MSExchangePOP3", "start_mode": "Disabled", "state": "Stopped"},
                {"name": "MSExchangeImap4", "start_mode": "Disabled", "state": "Stopped"},
                {"name": "MSExchangeUM", "start_mode": "Automatic", "state": "Stopped"}]


def test_services_off_on_purpose_are_judged_against_their_own_start_mode_or_the_admins_list():
    health = dict(HEALTHY, services=POP_IMAP_OFF)
    # Without knowing the start modes before, disabled services are suspicious.
    assert verify_health(health)["services_ok"] is False
    before = service_modes(POP_IMAP_OFF[:3] + [{"name": "MSExchangeUM", "start_mode": "Automatic"}])
    verdict = verify_health(health, None, before)
    # POP3/IMAP4 were Disabled before: fine; UM was Automatic and does not run.
    assert verdict["problems"] == ["automatic services not running: MSExchangeUM"]
    verdict = verify_health(health, None, before, meant_off=["msexchangeum"])
    assert verdict["services_ok"] is True and verdict["problems"] == []
    # A service Automatic before and Disabled after is the installer's doing.
    after = [dict(POP_IMAP_OFF[0], start_mode="Disabled", state="Stopped")] + POP_IMAP_OFF[1:3]
    verdict = verify_health(dict(HEALTHY, services=after), None, before)
    assert verdict["services_ok"] is False and "MSExchangeIS" in verdict["problems"][0]
    assert "were enabled before the install" in verdict["problems"][0]


def test_disabled_services_seen_while_a_setup_watermark_is_present_are_not_taken_as_the_admins_choice():
    modes = service_modes(POP_IMAP_OFF, setup_interrupted=True)
    assert "MSExchangePOP3" not in modes and modes["MSExchangeIS"] == "Automatic"
    left_disabled = dict(HEALTHY, services=POP_IMAP_OFF[:2])
    assert verify_health(left_disabled, None, modes)["services_ok"] is False
    assert verify_health(left_disabled, None, modes, meant_off=["MSExchangePOP3"])["services_ok"] is True


def test_an_su_is_judged_from_the_verdict_lines_of_its_whole_log_not_its_tail():
    tail = ["MSI (s) (0C:10): Property(S): P%03d = x" % i for i in range(200)]
    verdict = judge_installer({"state": "finished", "exit_code": 0, "log_tail": tail, "log_markers": [MSI_OK]}, "su")
    assert verdict["result"] == "succeeded"
    verdict = judge_installer({"state": "finished", "exit_code": 0, "log_tail": tail,
                               "log_markers": ["Action ended: INSTALL. Return value 3."]}, "su")
    assert verdict["result"] == "failed" and "Return value 3" in verdict["log_excerpt"][0]


def test_media_rules_name_the_first_builds_with_the_newer_setup_switches():
    rules = media_rules(load_catalog())
    # 2016 CU22 and 2019 CU11 brought the _DiagnosticData licence switch;
    # 2019 CU14 turned Extended Protection on in Setup (and took the opt-outs).
    assert sorted(rules["diagnostic_data_from"]) == ["15.1.2375.7", "15.2.986.5"]
    assert rules["extended_protection_from"] == ["15.2.1544.4"]


def test_a_resumed_setup_lets_the_media_pick_the_licence_switch_and_a_2013_cu_may_be_an_exe():
    resume = pending_actions([{"action": "resume_setup"}], {"build": "15.2.922.7", "setup_watermark": "x"},
                             load_catalog())
    assert resume[0]["licence"] == "by_media"
    assert installer_kind("install_cu", "Exchange2013-x64-cu23.exe") == "cu"
    with pytest.raises(InstallPlanError, match="Exchange 2013 CU"):
        installer_kind("install_cu", "Exchange2013-x64-cu23.zip")


def test_a_2013_cu_package_is_unpacked_with_the_switches_of_its_own_generation():
    from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import load_catalog
    from ansible_collections.onprem.exchange.plugins.plugin_utils._install_judge import unpack_style
    catalog = load_catalog()
    cu = {"product": "Exchange 2013"}
    assert unpack_style(catalog, dict(cu, cu="CU23"), "Exchange2013-x64-cu23.exe") == "extract"
    assert unpack_style(catalog, dict(cu, cu="CU21"), "Exchange2013-x64-cu21.exe") == "rar"
    assert unpack_style(catalog, dict(cu, cu="CU20"), "Exchange2013-x64-cu20.exe") == "x"
    assert unpack_style(catalog, dict(cu, cu="SP1"), "Exchange2013-x64-SP1.exe") == "x"
    assert unpack_style(catalog, dict(cu, cu="CU22"), "Exchange2013-x64-cu22.exe") is None   # no source
    # A resumed Setup names only its file.
    assert unpack_style(catalog, {"action": "resume_setup"}, "Exchange2013-x64-cu23.exe") == "extract"
    assert unpack_style(catalog, {"product": "Exchange 2019", "cu": "CU15"}, "ExchangeServer2019-x64-CU15.ISO") is None
