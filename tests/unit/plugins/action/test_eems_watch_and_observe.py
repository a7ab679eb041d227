"""Unit tests for the eems_watch and eems_observe action plugins: built from mocks, writing into tmp_path."""
from __future__ import annotations

import json
import os
from unittest.mock import MagicMock, patch

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.action import eems_observe, eems_watch
from ansible_collections.onprem.exchange.plugins.modules import eems_observe as observe_doc
from ansible_collections.onprem.exchange.plugins.modules import eems_watch as watch_doc

OBSERVATION = {"observed_at": "t", "build": "15.02.2562.053", "service": {"start_mode": "Automatic", "state": "Running"},
               "organization": "Contoso", "organization_enabled": True, "server_enabled": True, "applied": ["PING1"],
               "blocked": [], "events": [], "last_success": None, "exchange_error": None}


def _plugin(module, args, *, check_mode=False):
    task = MagicMock(Task)
    task.args = dict(args)
    task.check_mode = check_mode
    task.async_val = 0
    connection = MagicMock()
    return module.ActionModule(task=task, connection=connection, play_context=MagicMock(), loader=None,
                               templar=None, shared_loader_obj=None), connection


def _watch(tmp_path, results, run_at, check_mode=False):
    plugin, connection = _plugin(eems_watch, {"results": results, "history_dir": str(tmp_path / "hist"),
                                              "run_at": run_at}, check_mode=check_mode)
    result = plugin.run(task_vars={})
    assert connection.exec_command.call_count == 0
    return result


def test_history_is_written_then_compared_and_check_mode_writes_nothing(tmp_path):
    first = _watch(tmp_path, {"EX1": {"observation": OBSERVATION}}, "t1")
    assert first["summary"]["baseline"] and first["summary"]["history_written"]
    path = tmp_path / "hist" / "eems-watch-history.json"
    assert json.loads(path.read_text(encoding="utf-8"))["written_at"] == "t1"
    stopped = dict(OBSERVATION, service={"start_mode": "Automatic", "state": "Stopped"})
    checked = _watch(tmp_path, {"EX1": {"observation": stopped}}, "t2", check_mode=True)
    assert checked["summary"]["alerts"] == 1 and not checked["summary"]["history_written"]
    assert json.loads(path.read_text(encoding="utf-8"))["written_at"] == "t1"
    real = _watch(tmp_path, {"EX1": {"observation": stopped}}, "t2")
    assert [c["kind"] for c in real["summary"]["changes"]] == ["service_stopped"] and real["changed"] is False
    assert not [n for n in os.listdir(tmp_path / "hist") if n.endswith(".tmp")]


def test_a_nul_in_history_dir_is_refused_naming_the_option(tmp_path):
    plugin, _connection = _plugin(eems_watch, {"results": {}, "history_dir": str(tmp_path) + "\x00x"})
    with pytest.raises(AnsibleActionFail, match="history_dir must be a folder path without control characters"):
        plugin.run(task_vars={})


def test_a_broken_history_file_names_the_file_and_what_to_do(tmp_path):
    (tmp_path / "hist").mkdir()
    (tmp_path / "hist" / "eems-watch-history.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(AnsibleActionFail, match="eems-watch-history.json.*move it away"):
        _watch(tmp_path, {}, "t1")


def test_observe_makes_exactly_one_host_call(tmp_path):
    plugin, _connection = _plugin(eems_observe, {})
    state = {"now": "t", "services": [], "mitigation_events": [], "exchange": None, "ems": {"error": "denied"}}
    with patch.object(eems_observe.ActionModule, "_ex_host_call", return_value={"data": state}) as call:
        result = plugin.run(task_vars={"inventory_hostname": "EX1"})
    assert call.call_count == 1 and call.call_args[0][0] == "Get-EemsState"
    assert result["changed"] is False and result["observation"]["exchange_error"] == "denied"


@pytest.mark.parametrize("module, doc", [(eems_watch, watch_doc), (eems_observe, observe_doc)])
def test_spec_matches_doc_stub(module, doc):
    options = yaml.safe_load(doc.DOCUMENTATION)["options"] or {}
    own = {k: v for k, v in module.ARGUMENT_SPEC.items() if not k.startswith("ems_")}
    assert set(options) == set(own)
    for name, spec in own.items():
        for key in ("type", "required", "choices", "default", "elements"):
            assert options[name].get(key, False if key == "required" else None) == spec.get(
                key, False if key == "required" else None), (name, key)
