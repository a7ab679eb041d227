"""Unit tests for the eems action plugin: one seam, the connection, answering per host operation."""
from __future__ import annotations

import copy
import json
from unittest.mock import MagicMock

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.action.eems import ARGUMENT_SPEC, ActionModule
from ansible_collections.onprem.exchange.plugins.modules import eems as doc_stub

WRITES = {"Set-EemsOrganizationConfig", "Set-EemsServerConfig", "Set-MitigationServiceState"}
PASSWORD = "conn-secret-pw"


def _state(build="15.02.2562.053", **exchange):
    base = {"roles": ["Mailbox"], "organization_name": "Contoso", "organization_mitigations_enabled": False,
            "server_mitigations_enabled": False, "mitigations_blocked": ["M2.1.0"], "mitigations_applied": [],
            "data_collection_enabled": False, "internet_web_proxy": ""}
    base.update(exchange)
    return {"now": "2026-11-26T08:00:00+00:00", "computer_name": "EX01", "setup": {"exsetup_version": build},
            "setup_watermark": None,
            "services": [{"name": "MSExchangeMitigation", "start_mode": "Manual", "state": "Stopped"}],
            "mitigation_events": [], "ems": {"available": True, "mode": "remote", "error": None}, "exchange": base}


class FakeHost:
    """Answers host operations the way the scripts do, and records them."""

    def __init__(self, state, *, org_set_meanwhile=False, start_error=None, events=None):
        self.state = state
        self.sent = []
        self.org_set_meanwhile = org_set_meanwhile
        self.start_error = start_error
        self.events = events if events is not None else [
            {"id": 1005, "level": "Information", "time": "2026-11-26T08:01:00+00:00",
             "message": "fetched definitions successfully"}]

    def exec_command(self, cmd, in_data=None, sudoable=False):
        request = json.loads(in_data)
        name, args = request["operation"], request["args"]
        self.sent.append((name, args))
        data, changed = getattr(self, name.replace("-", "_"))(args)
        return 0, json.dumps({"ok": True, "changed": changed, "data": data, "steps": []}).encode(), b""

    def Get_EemsState(self, args):
        return copy.deepcopy(self.state), False

    def Get_MitigationServiceEvent(self, args):
        return {"now": "x", "since": args["since"], "events": self.events}, False

    def Set_EemsOrganizationConfig(self, args):
        exchange = self.state["exchange"]
        before = exchange["organization_mitigations_enabled"]
        exchange["organization_mitigations_enabled"] = args["mitigations_enabled"]
        changed = not self.org_set_meanwhile and before != args["mitigations_enabled"]
        return {"organization_name": "Contoso", "before": before, "after": args["mitigations_enabled"]}, changed

    def Set_EemsServerConfig(self, args):
        keys = {"mitigations_enabled": "server_mitigations_enabled", "mitigations_blocked": "mitigations_blocked",
                "data_collection_enabled": "data_collection_enabled", "internet_web_proxy": "internet_web_proxy"}
        for option, value in args["settings"].items():
            self.state["exchange"][keys[option]] = value
        return {value: self.state["exchange"][value] for value in keys.values()}, True

    def Set_MitigationServiceState(self, args):
        service = self.state["services"][0]
        if args.get("start_mode"):
            service["start_mode"] = args["start_mode"]
        if not self.start_error:
            service["state"] = "Running"
        return {"name": "MSExchangeMitigation", "checked_from": "2026-11-26T08:00:30+00:00", "started": bool(args["start"]) and not self.start_error,
                "restarted": bool(args["restart"]), "start_error": self.start_error,
                "start_mode": service["start_mode"], "state": service["state"]}, True


def _run(args, host, *, check_mode=False, diff=False):
    task = MagicMock(Task)
    task.args = dict(args)
    task.check_mode = check_mode
    task.diff = diff
    task.async_val = 0
    connection = MagicMock()
    connection.get_option.side_effect = lambda name: {"remote_user": "CONTOSO\\ansible",
                                                      "remote_password": PASSWORD}[name]
    connection.exec_command.side_effect = host.exec_command
    plugin = ActionModule(task=task, connection=connection, play_context=MagicMock(), loader=None, templar=None,
                          shared_loader_obj=None)
    return plugin.run(task_vars={"inventory_hostname": "EX01"})


ALL_ON = {"organization_mitigations_enabled": True, "mitigations_enabled": True, "service_running": True,
          "mitigations_blocked": {"add": ["M1.1"]}, "today": "2026-11-26", "verify_interval": 0.01, "verify_timeout": 5}


@pytest.mark.smoke
def test_check_mode_predicts_and_sends_nothing_that_writes():
    host = FakeHost(_state())
    result = _run(ALL_ON, host, check_mode=True, diff=True)
    assert {name for name, _args in host.sent} == {"Get-EemsState"}
    assert result["changed"] is True
    assert [(c["scope"], c["setting"]) for c in result["changes"]] == [
        ("organization", "MitigationsEnabled"), ("server", "MitigationsEnabled"), ("server", "MitigationsBlocked"),
        ("service", "StartType"), ("service", "Status")]
    assert result["diff"]["after"]["server"]["MitigationsBlocked"] == ["M2.1.0", "M1.1"]
    assert result["verification"] == {"performed": False, "forced_check": True,
                                      "reason": "check mode: the check would be forced"}


def test_real_run_applies_the_difference_reads_again_and_verifies():
    host = FakeHost(_state())
    result = _run(ALL_ON, host)
    assert [name for name, _args in host.sent] == ["Get-EemsState", "Set-EemsOrganizationConfig", "Set-EemsServerConfig",
                                                   "Set-MitigationServiceState", "Get-EemsState",
                                                   "Get-MitigationServiceEvent"]
    server_args = host.sent[2][1]
    assert server_args["settings"] == {"mitigations_enabled": True, "mitigations_blocked": ["M2.1.0", "M1.1"]}
    assert server_args["expected_blocked"] == ["M2.1.0"]
    assert result["eems"]["status"] == "working" and result["verification"]["performed"] is True
    assert result["organization"]["set_by"] == "EX01"
    assert PASSWORD not in json.dumps(result)


def test_second_run_changes_nothing_and_sends_no_write():
    host = FakeHost(_state())
    _run(ALL_ON, host)
    host.sent.clear()
    result = _run(ALL_ON, host)
    assert result["changed"] is False and result["changes"] == []
    assert not WRITES & {name for name, _args in host.sent}
    assert "already has MitigationsEnabled=True" in result["organization"]["message"]


def test_organisation_set_meanwhile_by_another_host_is_not_a_change_here():
    host = FakeHost(_state(server_mitigations_enabled=True, mitigations_blocked=[]), org_set_meanwhile=True)
    host.state["services"][0].update(start_mode="Automatic", state="Running")
    result = _run({"organization_mitigations_enabled": True, "verify_timeout": 0}, host)
    assert result["changed"] is False
    assert "set meanwhile by another host" in result["organization"]["message"]


def test_service_that_will_not_start_fails_with_cause_and_remedy():
    host = FakeHost(_state(), start_error="Cannot start service MSExchangeMitigation on computer '.'.")
    result = _run(ALL_ON, host)
    assert result["failed"] is True
    assert result["eems"]["cause"] == "service_will_not_start"
    assert result["msg"].startswith("EX01: EEMS settings did not converge: service Status is 'Stopped'")
    assert "Cannot start service" in result["msg"] and "System log" in result["msg"]


def test_outdated_build_names_the_planned_update():
    host = FakeHost(_state(build="15.01.2375.037"), events=[
        {"id": 1008, "level": "Error", "time": "t", "message": "FetchMitigation: Connection attempted against untrusted endpoint."}])
    result = _run(ALL_ON, host)
    assert (result["eems"]["status"], result["eems"]["cause"]) == ("not_working", "build_before_march_2023")
    assert result["eems"]["remedy"].startswith("Install CU23 then Mar23SU (to 15.1.2507.23)")


def test_bad_input_names_the_host_and_calls_nothing():
    host = FakeHost(_state())
    with pytest.raises(AnsibleActionFail, match=r"^EX01: mitigations_blocked.set holds 'M1.1;x'"):
        _run({"mitigations_blocked": {"set": ["M1.1;x"]}}, host)
    with pytest.raises(AnsibleActionFail, match=r"^EX01: .*mitigations_blocked.*adds and removes m1.1 at once"):
        _run({"mitigations_blocked": {"add": ["M1.1"], "remove": ["m1.1"]}}, host)
    with pytest.raises(AnsibleActionFail, match=r"^EX01: mitigations_blocked_mode must be one of add, remove, exact"):
        _run({"mitigations_blocked": ["M1.1"], "mitigations_blocked_mode": "replace"}, host)
    assert host.sent == []


def test_the_pre_1_0_list_with_a_mode_still_works_and_is_announced_as_deprecated(monkeypatch):
    import ansible.plugins.action as action_base
    announced = []
    monkeypatch.setattr(action_base, "display", MagicMock(deprecated=lambda msg, **kw: announced.append((msg, kw))))
    host = FakeHost(_state(mitigations_blocked=["M2.1.0", "PING1"]))
    result = _run({"mitigations_blocked": ["ping1"], "mitigations_blocked_mode": "remove"}, host)
    server_args = next(a for name, a in host.sent if name == "Set-EemsServerConfig")
    assert server_args["settings"] == {"mitigations_blocked": ["M2.1.0"]} and result["changed"]
    assert announced and "mitigations_blocked_mode is deprecated" in announced[0][0]
    assert announced[0][1]["version"] == "2.0.0"


def test_spec_matches_doc_stub():
    options = yaml.safe_load(doc_stub.DOCUMENTATION)["options"]
    own = {k: v for k, v in ARGUMENT_SPEC.items() if not k.startswith("ems_")}
    assert set(options) == set(own)
    for name, spec in own.items():
        doc = options[name]
        for key in ("type", "required", "choices", "default", "elements"):
            assert doc.get(key, False if key == "required" else None) == spec.get(
                key, False if key == "required" else None), (name, key)
    for text in (doc_stub.EXAMPLES, doc_stub.RETURN):
        yaml.safe_load(text)
