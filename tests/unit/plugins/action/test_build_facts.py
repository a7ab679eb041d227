"""Unit tests for the build_facts action plugin: one seam, the connection."""
from __future__ import annotations

import json
import os
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.action.build_facts import ActionModule
from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_call

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data", "build_facts")
TODAY = "2026-11-26"


def _fixture(name):
    with open(os.path.join(DATA, name + ".json"), encoding="utf-8") as handle:
        return json.load(handle)["stdout"]


def _plugin(args, answer, *, check_mode=False, connection_password="conn-secret-pw"):
    task = MagicMock(Task)
    task.args = dict(args)
    task.check_mode = check_mode
    task.async_val = 0
    connection = MagicMock()
    connection.get_option.side_effect = lambda name: {"remote_user": "CONTOSO\\ansible",
                                                      "remote_password": connection_password}[name]
    connection.exec_command.return_value = (0, json.dumps(answer).encode(), b"")
    plugin = ActionModule(task=task, connection=connection, play_context=MagicMock(), loader=None, templar=None,
                          shared_loader_obj=None)
    return plugin, connection


def _sent(connection):
    (command,), kwargs = connection.exec_command.call_args
    return command, json.loads(kwargs["in_data"])


def test_outdated_2016_is_classified_judged_and_planned():
    plugin, connection = _plugin({"today": TODAY}, _fixture("ex16a"))
    result = plugin.run(task_vars={"inventory_hostname": "EX16A"})
    exchange = result["ansible_facts"]["exchange"]
    assert result["changed"] is False
    assert exchange["build"] == "15.1.2375.37"
    assert (exchange["build_info"]["product"], exchange["build_info"]["cu"], exchange["build_info"]["update"]) == \
        ("Exchange 2016", "CU22", "Nov22SU")
    assert exchange["eems_status"]["status"] == "not_working"
    assert exchange["eems_status"]["cause"] == "build_before_march_2023"
    assert [s["action"] for s in result["plan"]["steps"]][:1] == ["install_cu"]
    assert "eems_build_before_march_2023" in {f["id"] for f in result["findings"]}
    assert connection.exec_command.call_count == 1


@pytest.mark.parametrize("fixture, status, cause", [
    ("ex19c", "working", None),
    ("ex19e", "not_working", "setup_incomplete"),
    ("fbex01", "disabled", "disabled_at_organization"),
    ("ex19p", "not_working", "tls_inspecting_proxy"),
])
def test_eems_verdict_per_server(fixture, status, cause):
    plugin = _plugin({"today": TODAY}, _fixture(fixture))[0]
    eems = plugin.run(task_vars={"inventory_hostname": fixture})["ansible_facts"]["exchange"]["eems_status"]
    assert (eems["status"], eems["cause"]) == (status, cause)


def test_interrupted_setup_is_reported_with_disabled_services():
    plugin = _plugin({"today": TODAY}, _fixture("ex19e"))[0]
    result = plugin.run(task_vars={"inventory_hostname": "EX19E"})
    findings = {f["id"]: f for f in result["findings"]}
    # With Setup's watermark present the disabled services are Setup's doing.
    assert findings["exchange_services_disabled"]["severity"] == "critical"
    assert [s["action"] for s in result["plan"]["steps"]] == ["reboot", "resume_setup"]


def test_disabled_pop3_without_a_watermark_is_a_note_and_named_services_no_finding_at_all():
    answer = _fixture("ex19c")
    answer["data"]["services"] += [{"name": "MSExchangePOP3", "start_mode": "Disabled", "state": "Stopped"},
                                   {"name": "MSExchangeImap4", "start_mode": "Disabled", "state": "Stopped"}]
    result = _plugin({"today": TODAY}, answer)[0].run(task_vars={"inventory_hostname": "EX19C"})
    finding = {f["id"]: f for f in result["findings"]}["exchange_services_disabled"]
    assert finding["severity"] == "info" and "not an interrupted install" in finding["message"]
    result = _plugin({"today": TODAY, "services_meant_off": ["MSExchangePOP3", "msexchangeimap4"]},
                     answer)[0].run(task_vars={"inventory_hostname": "EX19C"})
    assert "exchange_services_disabled" not in {f["id"] for f in result["findings"]}


def test_without_exchange_cmdlets_the_result_says_why():
    plugin = _plugin({"today": TODAY}, _fixture("ex19b_no_credential"))[0]
    result = plugin.run(task_vars={"inventory_hostname": "EX19B"})
    finding = next(f for f in result["findings"] if f["id"] == "exchange_cmdlets_unavailable")
    assert "0x80090311" in finding["message"] and "ems_username" in finding["remedy"]
    assert result["ansible_facts"]["exchange"]["exchange"] is None


def test_ems_credential_defaults_to_the_connection_and_travels_only_on_stdin():
    plugin, connection = _plugin({"today": TODAY}, _fixture("ex16a"))
    result = plugin.run(task_vars={"inventory_hostname": "EX16A"})
    command, request = _sent(connection)
    assert command == _host_call.bootstrap_command()
    assert request["operation"] == "Get-ExchangeFacts"
    assert request["args"]["ems"] == {"mode": "auto", "username": "CONTOSO\\ansible", "password": "conn-secret-pw"}
    assert "conn-secret-pw" not in command
    assert "conn-secret-pw" not in json.dumps(result, default=str)


def test_explicit_ems_credential_wins():
    plugin, connection = _plugin({"today": TODAY, "ems_username": "CONTOSO\\exadmin", "ems_password": "ex-pw"},
                                 _fixture("ex16a"))
    result = plugin.run(task_vars={"inventory_hostname": "EX16A"})
    assert _sent(connection)[1]["args"]["ems"]["username"] == "CONTOSO\\exadmin"
    assert "ex-pw" not in json.dumps(result, default=str)


def test_check_mode_makes_the_same_single_read():
    plugin, connection = _plugin({"today": TODAY}, _fixture("ex16a"), check_mode=True)
    result = plugin.run(task_vars={"inventory_hostname": "EX16A"})
    assert result["changed"] is False and connection.exec_command.call_count == 1
    assert _sent(connection)[1]["operation"] == "Get-ExchangeFacts"


def test_policy_reaches_the_planner():
    plugin = _plugin({"today": TODAY, "target": "eems"}, _fixture("ex16a"))[0]
    plan = plugin.run(task_vars={"inventory_hostname": "EX16A"})["plan"]
    assert plan["target"]["policy"] == "eems"


def test_garbage_build_fails_naming_host_and_value():
    answer = _fixture("ex16a")
    answer["data"]["setup"]["exsetup_version"] = "15.x.garbage"
    plugin = _plugin({"today": TODAY}, answer)[0]
    with pytest.raises(AnsibleActionFail) as caught:
        plugin.run(task_vars={"inventory_hostname": "EX16A"})
    assert "EX16A" in str(caught.value) and "15.x.garbage" in str(caught.value)


def test_host_without_exchange_fails_plainly():
    answer = _fixture("ex16a")
    answer["data"]["setup"]["exsetup_version"] = None
    plugin = _plugin({"today": TODAY}, answer)[0]
    with pytest.raises(AnsibleActionFail, match="EX16A: Exchange is not installed"):
        plugin.run(task_vars={"inventory_hostname": "EX16A"})


def test_host_operation_failure_names_the_host():
    answer = {"ok": False, "changed": False, "data": None, "steps": [],
              "error": {"message": "Access is denied", "type": "System.UnauthorizedAccessException", "line": 3}}
    plugin = _plugin({"today": TODAY}, answer)[0]
    with pytest.raises(AnsibleActionFail, match="EX16A: host operation Get-ExchangeFacts failed: Access is denied"):
        plugin.run(task_vars={"inventory_hostname": "EX16A"})


@pytest.mark.parametrize("args, message", [
    ({"installer_format": "zip"}, "installer_format"),
    ({"today": "26/11/2026"}, "not an ISO date"),
    ({"ems_mode": "ssh"}, "ems_mode"),
])
def test_bad_arguments_are_refused_before_any_host_call(args, message):
    plugin, connection = _plugin(args, _fixture("ex16a"))
    with pytest.raises(Exception, match=message):
        plugin.run(task_vars={"inventory_hostname": "EX16A"})
    assert connection.exec_command.call_count == 0


def test_unknown_target_fails_before_the_host_is_contacted():
    plugin, connection = _plugin({"today": TODAY, "target": "bogus"}, _fixture("ex16a"))
    with pytest.raises(AnsibleActionFail) as caught:
        plugin.run(task_vars={"inventory_hostname": "EX16A"})
    message = str(caught.value)
    assert "EX16A" in message and "target" in message and "'bogus'" in message
    assert "latest, eems, eems_minimal" in message
    assert connection.exec_command.call_count == 0


def test_the_wmi_caption_and_version_reach_the_planner():
    from ansible_collections.onprem.exchange.plugins.plugin_utils._host_facts import planner_facts
    facts = planner_facts({"os": {"caption": "Microsoft Windows Server 2019 Datacenter", "version": "10.0.17763"}})
    assert (facts["os"], facts["os_version"]) == ("Microsoft Windows Server 2019 Datacenter", "10.0.17763")


def test_a_bad_extra_catalog_fails_before_the_host_is_contacted(tmp_path):
    bad = tmp_path / "extra.yml"
    bad.write_text("builds:\n- build: 15.2.2562.57\n  product: Exchange SE\n", encoding="utf-8")
    plugin, connection = _plugin({"today": TODAY}, _fixture("ex16a"))
    with pytest.raises(AnsibleActionFail) as caught:
        plugin.run(task_vars={"inventory_hostname": "EX16A", "exchange_catalog_files": [str(bad)]})
    assert "EX16A" in str(caught.value) and "extra.yml" in str(caught.value) and "builds entry 1" in str(caught.value)
    assert connection.exec_command.call_count == 0


def test_the_extra_catalog_reaches_the_classification(tmp_path):
    extra = tmp_path / "extra.yml"
    answer = _fixture("ex16a")
    plugin = _plugin({"today": TODAY, "esu_enrolled": True}, answer)[0]
    assert plugin.run(task_vars={"inventory_hostname": "EX16A"})["plan"]["target"]["build"] != "15.1.2507.99"
    extra.write_text(
        "builds:\n- {build: '15.1.2507.99', product: Exchange 2016, cu: CU23, update: Dec26SU, kind: SU,\n"
        "   name: Exchange Server 2016 CU23 Dec26SU, release_date: '2026-12-08', kb: KB5999003}\n", encoding="utf-8")
    plugin = _plugin({"today": TODAY, "esu_enrolled": True}, answer)[0]
    result = plugin.run(task_vars={"inventory_hostname": "EX16A", "exchange_catalog_files": str(extra)})
    assert result["plan"]["target"]["build"] == "15.1.2507.99"
