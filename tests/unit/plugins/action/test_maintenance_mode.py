"""maintenance_mode action plugin with the host-call seam replaced: order of
operations, check mode sends no write, spec matches the doc stub."""
from __future__ import annotations

import copy
from unittest.mock import MagicMock

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.action import maintenance_mode as plugin_module
from ansible_collections.onprem.exchange.plugins.modules import maintenance_mode as doc_stub
from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_action
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import HostCallError

MEMBER = {"components": {"HubTransport": "Active", "ServerWideOffline": "Active"}, "cluster_node": "Up",
          "auto_activation": "Unrestricted", "move_now": False}
STATE = dict(copy.deepcopy(MEMBER), server="EX19B", fqdn="EX19B.lab", dag="DAG01", queue_messages=0, active_copies=[],
             databases=[{"name": "DB01", "active_server": "EX19C", "copies": [
                 {"server": "EX19B", "status": "Healthy"}, {"server": "EX19C", "status": "Mounted"},
                 {"server": "EX19D", "status": "Healthy"}]}],
             members=[dict(copy.deepcopy(MEMBER), name="EX19C"), dict(copy.deepcopy(MEMBER), name="EX19D")],
             transport_servers=[])


class FakeHost:
    """Applies Enter/Exit steps to a state dict, as the lab would."""

    def __init__(self, state):
        self.state = copy.deepcopy(state)
        self.calls = []

    def __call__(self, connection, operation, args):
        self.calls.append((operation, args.get("step")))
        s = self.state
        if operation == "Get-MaintenanceState":
            return {"changed": False, "data": copy.deepcopy(s), "steps": []}
        effect = {"drain_transport": ("components", "HubTransport", "Draining"),
                  "server_offline": ("components", "ServerWideOffline", "Inactive"),
                  "server_online": ("components", "ServerWideOffline", "Active"),
                  "resume_transport": ("components", "HubTransport", "Active")}.get(args["step"])
        if effect:
            s["components"][effect[1]] = effect[2]
        elif args["step"] == "suspend_cluster_node":
            s["cluster_node"] = "Paused"
        elif args["step"] == "resume_cluster_node":
            s["cluster_node"] = "Up"
        elif args["step"] == "block_activation":
            s.update(auto_activation="Blocked", move_now=True, active_copies=[])
        elif args["step"] == "allow_activation":
            s.update(auto_activation="Unrestricted", move_now=False)
        return {"changed": True, "data": {"detail": "done"}, "steps": []}


def _run(monkeypatch, state, args, check_mode=False):
    return _run_with(monkeypatch, FakeHost(state), args, check_mode)


def _run_with(monkeypatch, host, args, check_mode=False):
    monkeypatch.setattr(_host_action, "run_host_operation", host)
    task = MagicMock(Task)
    task.args = dict({"poll_interval": 0.01}, **args)
    task.check_mode = check_mode
    task.diff = False
    task.async_val = 0
    connection = MagicMock()
    connection.get_option.side_effect = lambda name: {"remote_user": "LAB\\ansible", "remote_password": "pw"}[name]
    plugin = plugin_module.ActionModule(task=task, connection=connection, play_context=MagicMock(), loader=None,
                                        templar=None, shared_loader_obj=None)
    return plugin.run(task_vars={"inventory_hostname": "EX19B"}), host


def test_enter_runs_the_procedure_in_order_each_step_read_back(monkeypatch):
    result, host = _run(monkeypatch, STATE, {"state": "present"})
    writes = [step for op, step in host.calls if op != "Get-MaintenanceState"]
    assert writes == ["drain_transport", "suspend_cluster_node", "block_activation", "server_offline"]
    assert result["changed"] is True and result["state"]["in_maintenance"] is True
    assert result["gate"]["open"] is True
    # Every write is followed by a read.
    for index, (op, _args) in enumerate(host.calls):
        if op != "Get-MaintenanceState":
            assert host.calls[index + 1][0] == "Get-MaintenanceState"


def test_check_mode_sends_only_reads(monkeypatch):
    result, host = _run(monkeypatch, STATE, {"state": "present"}, check_mode=True)
    assert {op for op, _args in host.calls} == {"Get-MaintenanceState"}
    assert result["changed"] is True
    assert [s["name"] for s in result["steps"]] == ["drain_transport", "suspend_cluster_node", "block_activation",
                                                    "server_offline"]


def test_leave_is_the_reverse_and_a_second_leave_changes_nothing(monkeypatch):
    entered, host = _run(monkeypatch, STATE, {"state": "present"})
    left, host = _run(monkeypatch, host.state, {"state": "absent"})
    assert [s["name"] for s in left["steps"]] == ["server_online", "resume_cluster_node", "allow_activation",
                                                  "resume_transport"]
    again, host = _run(monkeypatch, host.state, {"state": "absent"})
    assert again["changed"] is False and host.calls == [("Get-MaintenanceState", None)]


def test_a_closed_gate_refuses_at_once_and_writes_nothing(monkeypatch):
    state = copy.deepcopy(STATE)
    state["members"][0]["cluster_node"] = "Paused"
    with pytest.raises(AnsibleActionFail, match="EX19B: the DAG gate of DAG01 is closed: EX19C is in maintenance"):
        _run(monkeypatch, state, {"state": "present"})


def test_losing_the_tie_break_withdraws_the_claim(monkeypatch):
    class Racing(FakeHost):
        # EX19A claims at the same moment as EX19B: EX19A's lower name wins.
        def __call__(self, connection, operation, args):
            answer = super().__call__(connection, operation, args)
            if operation == "Enter-MaintenanceStep" and args["step"] == "drain_transport":
                self.state["members"].append(dict(copy.deepcopy(MEMBER), name="EX19A",
                                                  components={"HubTransport": "Draining",
                                                              "ServerWideOffline": "Active"}))
            return answer

    host = Racing(STATE)
    with pytest.raises(AnsibleActionFail, match="closed after the claim: claimed by EX19A. The claim was withdrawn"):
        _run_with(monkeypatch, host, {"state": "present"})
    assert [s for op, s in host.calls if op != "Get-MaintenanceState"] == ["drain_transport", "resume_transport"]


@pytest.mark.parametrize("module, stub", [
    ("maintenance_mode", doc_stub),
])
def test_spec_matches_doc_stub(module, stub):
    options = yaml.safe_load(stub.DOCUMENTATION)["options"]
    spec = {k: v for k, v in plugin_module.ARGUMENT_SPEC.items() if k not in _host_action.EMS_ARGUMENT_SPEC}
    assert set(options) == set(spec)
    for name, entry in spec.items():
        for key in ("type", "required", "choices", "default", "elements"):
            assert options[name].get(key, False if key == "required" else None) == entry.get(
                key, False if key == "required" else None), (name, key)


class CutAfter(FakeHost):
    """Applies ``step`` and then the host is gone: its answer and every later call are lost."""

    def __init__(self, state, step):
        super().__init__(state)
        self.cut_step = step
        self.cut = False

    def __call__(self, connection, operation, args):
        if self.cut:
            self.calls.append((operation, args.get("step")))
            from ansible.errors import AnsibleConnectionFailure
            raise AnsibleConnectionFailure("winrm: connection refused")
        answer = super().__call__(connection, operation, args)
        if args.get("step") == self.cut_step:
            self.cut = True
            import requests
            raise requests.exceptions.ConnectionError("Connection reset by peer")
        return answer


def _run_cut(monkeypatch, state, args, step):
    monkeypatch.setattr(_host_action, "RETRY_DELAYS", (0.0, 0.0))
    return _run_with(monkeypatch, CutAfter(state, step), args)


def test_a_connection_lost_after_the_node_was_paused_is_a_failure_that_says_what_was_applied(monkeypatch):
    result, host = _run_cut(monkeypatch, STATE, {"state": "present"}, "suspend_cluster_node")
    assert host.state["cluster_node"] == "Paused"  # applied on the host before the cut
    assert result["failed"] is True and result["changed"] is True
    assert result["possibly_out_of_service"] is True and result["connection_lost"] is True
    assert [(s["name"], s["changed"]) for s in result["steps"]] == [("drain_transport", True),
                                                                    ("suspend_cluster_node", None)]
    assert result["msg"].startswith("EX19B: the connection was lost while entering maintenance, after: "
                                    "drain_transport (done), suspend_cluster_node (answer lost). "
                                    "The server may be out of service."), result["msg"]
    # The step was sent again (it is safe to repeat) before giving up.
    assert host.calls.count(("Enter-MaintenanceStep", "suspend_cluster_node")) == 3


def test_a_connection_lost_while_leaving_says_the_server_may_still_be_out(monkeypatch):
    entered, host = _run(monkeypatch, STATE, {"state": "present"})
    result, host = _run_cut(monkeypatch, host.state, {"state": "absent"}, "server_online")
    assert result["failed"] is True and result["possibly_out_of_service"] is True
    assert "while leaving maintenance, after: server_online (answer lost)" in result["msg"], result["msg"]


def test_a_host_unreachable_before_any_step_stays_unreachable(monkeypatch):
    from ansible.errors import AnsibleConnectionFailure
    host = CutAfter(STATE, None)
    host.cut = True
    monkeypatch.setattr(_host_action, "RETRY_DELAYS", (0.0,))
    with pytest.raises(AnsibleConnectionFailure, match="EX19B: could not connect for Get-MaintenanceState"):
        _run_with(monkeypatch, host, {"state": "present"})


def test_a_single_copy_database_is_refused_at_once_even_with_a_gate_wait(monkeypatch):
    state = copy.deepcopy(STATE)
    state["databases"].append({"name": "SOLO", "active_server": "EX19B", "copies": [
        {"server": "EX19B", "status": "Mounted"}]})
    state["active_copies"] = ["SOLO"]
    with pytest.raises(AnsibleActionFail, match="refused up front .*SOLO holds a single copy") as refused:
        _run(monkeypatch, state, {"state": "present", "gate_timeout": 3600})
    assert "Nothing was changed on EX19B" in str(refused.value)
    # Allowed: the window goes on and does not wait for SOLO to move.
    result, host = _run(monkeypatch, state, {"state": "present", "allow_single_copy_outage": True,
                                             "move_timeout": 0})
    assert result["single_copy_outage"] == ["SOLO"] and result["state"]["in_maintenance"] is True
    assert "wait_moves" not in [s["name"] for s in result["steps"]]


def test_min_healthy_copies_zero_is_refused_with_the_rule(monkeypatch):
    with pytest.raises(AnsibleActionFail, match="EX19B: min_healthy_copies=0 is not allowed: a database's last "
                                                "healthy copy is never taken down"):
        _run(monkeypatch, STATE, {"state": "present", "min_healthy_copies": 0})


class ClaimingNeighbour(FakeHost):
    """EX19C claims at the gate (drains its transport) just as EX19B hands
    it the queued mail, so its first Redirect-Message is refused."""

    def __call__(self, connection, operation, args):
        if args.get("step") == "redirect_messages":
            self.calls.append((operation, args.get("step"), args.get("target")))
            if args["target"] == "EX19C.lab":
                for server in self.state["members"] + self.state["transport_servers"]:
                    if server["name"] == "EX19C":
                        server["components"]["HubTransport"] = "Draining"
                raise HostCallError("Redirect-Message: the target server EX19C.lab is not accepting messages",
                                    "operation_failed", operation)
            self.state["queue_messages"] = 0
            return {"changed": True, "data": {"detail": "redirected"}, "steps": []}
        return super().__call__(connection, operation, args)


def _with_transport_servers():
    state = copy.deepcopy(STATE)
    state["transport_servers"] = [dict(copy.deepcopy(MEMBER), name=n, fqdn=n + ".lab") for n in ("EX19C", "EX19D")]
    state["queue_messages"] = 3
    return state


def test_a_redirect_target_that_refuses_is_chosen_again_on_a_fresh_read(monkeypatch):
    host = ClaimingNeighbour(_with_transport_servers())
    result = _run_with(monkeypatch, host, {"state": "present"})[0]
    redirects = [c[2] for c in host.calls if c[1] == "redirect_messages"]
    assert redirects == ["EX19C.lab", "EX19D.lab"]
    assert result["state"]["in_maintenance"] is True
    refused = [s for s in result["steps"] if s["name"] == "redirect_messages" and s["changed"] is False]
    assert refused and "EX19C.lab refused the mail" in refused[0]["detail"]


def test_a_redirect_target_the_admin_named_is_not_swapped(monkeypatch):
    host = ClaimingNeighbour(_with_transport_servers())
    with pytest.raises(AnsibleActionFail, match="not accepting messages"):
        _run_with(monkeypatch, host, {"state": "present", "redirect_to": "EX19C.lab"})
    assert [c[2] for c in host.calls if c[1] == "redirect_messages"] == ["EX19C.lab"]
