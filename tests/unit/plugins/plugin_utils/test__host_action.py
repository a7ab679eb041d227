"""_host_action._ex_host_call: transient connection faults are retried, briefly,
for operations that are safe to send twice, and never for the others."""
from __future__ import annotations

import os
import re
from unittest.mock import MagicMock

import pytest
import requests
from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure

from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_action
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import SCRIPT_DIR, HostCallError


class Flaky:
    """Fails the first ``failures`` calls with ``error``, then answers."""

    def __init__(self, failures, error):
        self.failures = failures
        self.error = error
        self.calls = []

    def __call__(self, connection, operation, args):
        self.calls.append(operation)
        if len(self.calls) <= self.failures:
            raise self.error
        return {"changed": False, "data": {"ok": True}, "steps": []}


class _Action(_host_action.HostActionBase):
    def run(self, tmp=None, task_vars=None):  # pragma: no cover - not used here
        return {}


def _plugin():
    plugin = _Action.__new__(_Action)
    plugin._connection = MagicMock()
    return plugin


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    slept = []
    monkeypatch.setattr(_host_action.time, "sleep", slept.append)
    return slept


@pytest.mark.parametrize("error", [AnsibleConnectionFailure("winrm: connection refused"),
                                   requests.exceptions.ConnectionError("Connection reset by peer"),
                                   ConnectionResetError(104, "Connection reset by peer")])
def test_a_read_survives_one_blip(monkeypatch, no_waiting, error):
    host = Flaky(1, error)
    monkeypatch.setattr(_host_action, "run_host_operation", host)
    plugin = _plugin()
    answer = plugin._ex_host_call("Get-MaintenanceState", {}, {"inventory_hostname": "EX1"})
    assert answer["data"] == {"ok": True}
    assert host.calls == ["Get-MaintenanceState", "Get-MaintenanceState"]
    assert no_waiting == [_host_action.RETRY_DELAYS[0]]
    assert plugin._connection.reset.called  # a fresh connection for the second try


def test_a_refusal_of_a_few_seconds_is_absorbed_with_growing_waits(monkeypatch, no_waiting):
    host = Flaky(3, AnsibleConnectionFailure("connection refused"))
    monkeypatch.setattr(_host_action, "run_host_operation", host)
    _plugin()._ex_host_call("Enter-MaintenanceStep", {"step": "drain_transport"}, {"inventory_hostname": "EX1"})
    assert len(host.calls) == 4 and no_waiting == list(_host_action.RETRY_DELAYS[:3])


def test_a_host_that_stays_away_is_unreachable_after_bounded_tries(monkeypatch, no_waiting):
    host = Flaky(99, AnsibleConnectionFailure("connection refused"))
    monkeypatch.setattr(_host_action, "run_host_operation", host)
    with pytest.raises(_host_action.HostUnreachable) as caught:
        _plugin()._ex_host_call("Get-ExchangeFacts", {}, {"inventory_hostname": "EX1"})
    assert len(host.calls) == len(_host_action.RETRY_DELAYS) + 1
    assert sum(no_waiting) <= _host_action.RETRY_BUDGET
    assert isinstance(caught.value, AnsibleConnectionFailure)  # the task is unreachable, as before
    assert re.match(r"EX1: could not connect for Get-ExchangeFacts \(connection refused\); tried 5 times",
                    str(caught.value)), str(caught.value)


def test_an_installer_start_is_never_sent_twice(monkeypatch, no_waiting):
    host = Flaky(1, requests.exceptions.ConnectionError("Connection reset by peer"))
    monkeypatch.setattr(_host_action, "run_host_operation", host)
    with pytest.raises(_host_action.HostAnswerLost) as caught:
        _plugin()._ex_host_call("Start-InstallerTask", {}, {"inventory_hostname": "EX1"})
    assert host.calls == ["Start-InstallerTask"] and no_waiting == []
    assert isinstance(caught.value, AnsibleActionFail)
    assert "not repeated: it is not safe to send twice" in str(caught.value)


def test_an_operation_failure_is_not_retried(monkeypatch, no_waiting):
    host = Flaky(1, HostCallError("host operation Get-EemsState failed: nope", "operation", "Get-EemsState"))
    monkeypatch.setattr(_host_action, "run_host_operation", host)
    with pytest.raises(AnsibleActionFail, match="EX1: host operation Get-EemsState failed: nope"):
        _plugin()._ex_host_call("Get-EemsState", {}, {"inventory_hostname": "EX1"})
    assert host.calls == ["Get-EemsState"]


def test_a_programming_error_is_not_mistaken_for_a_connection_fault(monkeypatch, no_waiting):
    host = Flaky(1, TypeError("unsupported operand"))
    monkeypatch.setattr(_host_action, "run_host_operation", host)
    with pytest.raises(TypeError):
        _plugin()._ex_host_call("Get-EemsState", {}, {"inventory_hostname": "EX1"})
    assert host.calls == ["Get-EemsState"]


def test_every_host_operation_is_classified_as_safe_to_repeat_or_not():
    operations = {name[:-4] for name in os.listdir(SCRIPT_DIR) if name.endswith(".ps1")} - {"Invoke-HostOperation"}
    assert _host_action.SAFE_TO_REPEAT.isdisjoint(_host_action.NOT_REPEATED)
    assert operations == _host_action.SAFE_TO_REPEAT | _host_action.NOT_REPEATED
    # Only reads and the maintenance steps (which read their state first) are repeated.
    for name in _host_action.SAFE_TO_REPEAT:
        assert name.split("-")[0] in ("Get", "Test") or name in ("Enter-MaintenanceStep", "Exit-MaintenanceStep")


def test_a_nul_byte_anywhere_in_the_arguments_is_refused_before_sending(monkeypatch, no_waiting):
    host = Flaky(0, None)
    monkeypatch.setattr(_host_action, "run_host_operation", host)
    with pytest.raises(AnsibleActionFail) as caught:
        _plugin()._ex_host_call("Set-EemsServerConfig", {"ems": {"password": "p\x00w"}}, {"inventory_hostname": "EX1"})
    assert str(caught.value) == ("EX1: the Set-EemsServerConfig argument ems.password contains a NUL byte; "
                                 "nothing was sent to the server")
    assert host.calls == []


# -- the shared opening ---------------------------------------------------------

class _Opening(_host_action.HostActionBase):
    ARGUMENT_SPEC = {"mode": {"type": "str", "choices": ["a", "b"], "default": "a"},
                     "new": {"type": "str", "aliases": ["old"],
                             "deprecated_aliases": [{"name": "old", "version": "2.0.0",
                                                     "collection_name": "onprem.exchange"}]}}
    ARGUMENT_RULES = {"required_one_of": [["mode", "new"]]}

    def run(self, tmp=None, task_vars=None):  # pragma: no cover - not used here
        return {}


def _opening(args, templar=None):
    from ansible.playbook.task import Task
    task = MagicMock(Task)
    task.args = dict(args)
    return _Opening(task=task, connection=MagicMock(), play_context=MagicMock(), loader=None, templar=templar,
                    shared_loader_obj=None)


def test_the_opening_names_the_host_in_a_refused_argument_and_announces_a_deprecated_alias(monkeypatch):
    import ansible.plugins.action as action_base
    announced = []
    monkeypatch.setattr(action_base, "display", MagicMock(deprecated=lambda msg, **kw: announced.append(kw)))
    with pytest.raises(AnsibleActionFail, match=r"^EX9: value of mode must be one of: a, b, got: c"):
        _opening({"mode": "c"})._ex_open({"inventory_hostname": "EX9"})
    args = _opening({"old": "x"})._ex_open({"inventory_hostname": "EX9"})
    assert args["new"] == "x" and announced and announced[0]["version"] == "2.0.0"


def test_the_opening_reads_today_at_the_boundary_and_names_the_host_for_a_bad_date_or_catalog(tmp_path):
    import datetime
    plugin = _opening({})
    plugin._ex_open({"inventory_hostname": "EX9"})
    assert plugin._ex_today("2026-11-26") == datetime.date(2026, 11, 26)
    assert plugin._ex_today(None) == datetime.date.today()
    with pytest.raises(AnsibleActionFail, match=r"^EX9: today='26/11/2026' is not an ISO date \(YYYY-MM-DD\)$"):
        plugin._ex_today("26/11/2026")
    bad = tmp_path / "extra.yml"
    bad.write_text("builds: [{product: Exchange 2019}]\n")
    plugin = _opening({})
    plugin._ex_open({"inventory_hostname": "EX9", "exchange_catalog_files": [str(bad)]})
    with pytest.raises(AnsibleActionFail, match=r"^EX9: .*extra.yml"):
        plugin._ex_catalog()
