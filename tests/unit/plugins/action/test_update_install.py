"""Unit tests for the update_install action plugin: one seam, the host-call helper."""
from __future__ import annotations

import json
import os
from unittest.mock import MagicMock

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.action import update_install
from ansible_collections.onprem.exchange.plugins.modules import update_install as doc_stub

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data", "build_facts")
PLAN = {"steps": [
    {"action": "install_su", "from_build": "15.2.1748.46", "to_build": "15.2.1748.53", "update": "Sep26SUv2",
     "installer": "Exchange2019-KB5129956-x64-en.msp"},
    {"action": "reboot", "from_build": "15.2.1748.53", "to_build": "15.2.1748.53"},
]}


def _facts(name="ex19c"):
    with open(os.path.join(DATA, name + ".json"), encoding="utf-8") as handle:
        return json.load(handle)["stdout"]["data"]


def _plugin(args, *, check_mode=False, diff=False):
    task = MagicMock(Task)
    task.args = dict(args)
    task.check_mode = check_mode
    task.diff = diff
    task.async_val = 0
    connection = MagicMock()
    connection.get_option.side_effect = lambda name: {"remote_user": "LAB\\ansible", "remote_password": "pw"}[name]
    play_context = MagicMock()
    play_context.check_mode = check_mode
    return update_install.ActionModule(task=task, connection=connection, play_context=play_context, loader=None,
                                       templar=None, shared_loader_obj=None)


@pytest.fixture
def calls(monkeypatch):
    """Record every host operation; answer reads from recorded facts."""
    sent = []

    def fake(connection, operation, args=None):
        sent.append(operation)
        if operation == "Get-ExchangeFacts":
            facts = _facts()
            facts["setup"]["exsetup_version"] = "15.02.1748.046"
            return {"changed": False, "data": facts, "steps": []}
        raise AssertionError("unexpected host operation %s" % operation)

    monkeypatch.setattr(update_install, "run_host_operation", fake)
    monkeypatch.setattr("ansible_collections.onprem.exchange.plugins.plugin_utils._host_action.run_host_operation", fake)
    return sent


def test_argument_spec_matches_the_documentation():
    documented = yaml.safe_load(doc_stub.DOCUMENTATION)["options"]
    spec = {k: v for k, v in update_install.ARGUMENT_SPEC.items() if not k.startswith("ems_")}
    assert set(documented) == set(spec)
    for name, option in spec.items():
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("default") == option.get("default"), name
    assert update_install.ARGUMENT_SPEC["setup_password"]["no_log"] is True


def test_check_mode_predicts_and_sends_no_writing_operation(calls):
    result = _plugin({"plan": PLAN}, check_mode=True, diff=True).run(task_vars={"inventory_hostname": "EX19C"})
    assert result["changed"] is True
    assert [s["action"] for s in result["steps_done"]] == ["install_su"]
    assert result["build_after"] == "15.2.1748.53"
    assert result["diff"] == {"before": {"build": "15.2.1748.46", "pending_reboot": False},
                              "after": {"build": "15.2.1748.53", "pending_reboot": False}}
    assert not set(calls) & set(update_install.WRITING_OPERATIONS)


def test_plan_and_step_are_mutually_exclusive(calls):
    with pytest.raises(Exception, match="mutually exclusive"):
        _plugin({"plan": PLAN, "step": PLAN["steps"][0]}).run(task_vars={})


def test_a_stale_plan_with_free_disk_is_refused_with_the_host_named(calls):
    with pytest.raises(AnsibleActionFail, match="EX19C: the plan needs disk space freed first"):
        _plugin({"plan": {"steps": [{"action": "free_disk", "reason": "3 GB free"}]}}, check_mode=True).run(
            task_vars={"inventory_hostname": "EX19C"})


def test_a_connection_lost_after_the_installer_ran_is_a_failure_in_maintenance_not_unreachable(calls, monkeypatch):
    from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import HostUnreachable
    plugin = _plugin({"plan": PLAN, "poll_interval": 0.01})
    monkeypatch.setattr(plugin, "_ex_run_installer", lambda *a: ({"exit_code": 0}, {
        "result": "succeeded", "log_excerpt": [], "message": "ok", "reboot_required": True}))
    monkeypatch.setattr(plugin, "_ex_reboot", lambda *a: {"rebooted": True})

    def lost(*_args):
        raise HostUnreachable("EX19C: could not connect for Test-ExchangeInstallHealth (connection refused); tried 5 "
                              "times over 15 s")._ex_lost("Test-ExchangeInstallHealth", 5)

    monkeypatch.setattr(plugin, "_ex_wait_for_services", lost)
    result = plugin.run(task_vars={"inventory_hostname": "EX19C"})
    assert result["failed"] is True and result["installer_started"] is True
    assert result["unreachable_during_install"] is True
    assert [s["action"] for s in result["steps_done"]] == ["install_su"]
    assert "the connection was lost after the install began" in result["msg"]
    assert "the server stays in maintenance" in result["msg"]
