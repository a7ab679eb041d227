"""Unit tests for the audit_report action plugin: built from mocks, writing into tmp_path.

It contacts no host, so the connection mock must never be used.
"""
from __future__ import annotations

import datetime
import json
import os
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.action.audit_report import ActionModule

TESTS_UNIT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(TESTS_UNIT, "data", "audit", "build_facts_results.json")
TODAY = "2026-11-26"


def _results():
    with open(DATA, encoding="utf-8") as handle:
        return json.load(handle)


def _plugin(args, *, check_mode=False):
    task = MagicMock(Task)
    task.args = dict(args)
    task.check_mode = check_mode
    task.async_val = 0
    connection = MagicMock()
    plugin = ActionModule(task=task, connection=connection, play_context=MagicMock(), loader=None, templar=None,
                          shared_loader_obj=None)
    return plugin, connection


@pytest.mark.parametrize("check_mode", [False, True], ids=["normal", "check_mode"])
def test_writes_every_format_and_returns_the_summary(tmp_path, check_mode):
    plugin, connection = _plugin({"results": _results(), "dest": str(tmp_path), "generated_on": TODAY},
                                 check_mode=check_mode)
    result = plugin.run(task_vars={})
    assert result["changed"] is False
    assert not result.get("failed")
    assert set(result["files"]) == {"html", "json", "csv", "markdown"}
    for path in result["files"].values():
        assert os.path.isfile(path) and os.path.dirname(path) == str(tmp_path)
    summary = result["summary"]
    assert summary["total"] == 14
    assert summary["by_state"] == {"audited": 12, "unreachable": 1, "failed": 1, "not_run": 0}
    assert summary["by_eems_status"] == {"working": 3, "not_working": 7, "disabled": 1, "not_applicable": 1,
                                         "unknown": 0}
    assert (summary["unreachable"], summary["failed"]) == (1, 1)
    assert summary["hosts"]["unreachable"] == ["EX99X"]
    assert connection.method_calls == [] and connection.exec_command.call_count == 0


def test_formats_and_title(tmp_path):
    plugin = _plugin({"results": _results(), "dest": str(tmp_path / "out"), "formats": ["markdown", "json"],
                      "title": "Contoso audit", "generated_on": TODAY})[0]
    result = plugin.run(task_vars={})
    assert sorted(result["files"]) == ["json", "markdown"]
    assert sorted(os.listdir(tmp_path / "out")) == ["exchange-audit.json", "exchange-audit.md"]
    with open(result["files"]["json"], encoding="utf-8") as handle:
        report = json.load(handle)
    assert (report["title"], report["generated_on"]) == ("Contoso audit", TODAY)


def test_generated_on_defaults_to_today(tmp_path):
    plugin = _plugin({"results": {}, "dest": str(tmp_path), "formats": ["json"]})[0]
    before = datetime.date.today().isoformat()
    result = plugin.run(task_vars={})
    with open(result["files"]["json"], encoding="utf-8") as handle:
        generated_on = json.load(handle)["generated_on"]
    assert generated_on in (before, datetime.date.today().isoformat())


def test_second_run_writes_identical_files(tmp_path):
    args = {"results": _results(), "dest": str(tmp_path), "generated_on": TODAY}
    first = _plugin(args)[0].run(task_vars={})
    contents = {fmt: open(path, "rb").read() for fmt, path in first["files"].items()}
    second = _plugin(args)[0].run(task_vars={})
    assert {fmt: open(path, "rb").read() for fmt, path in second["files"].items()} == contents
    assert second["changed"] is False


@pytest.mark.parametrize("args, message", [
    ({"formats": ["pdf"]}, r"formats.*pdf|pdf.*formats"),
    ({"formats": ["html", "xlsx"]}, "xlsx"),
    ({"results": "not a dict"}, "results"),
    ({"dest": None}, "dest"),
    ({"bogus": 1}, "Unsupported parameters"),
    ({"generated_on": "26/11/2026"}, "not an ISO date"),
])
def test_bad_arguments_fail_clearly(tmp_path, args, message):
    task_args = {"results": _results(), "dest": str(tmp_path), "generated_on": TODAY}
    task_args.update(args)
    if task_args["dest"] is None:
        del task_args["dest"]
    plugin = _plugin(task_args)[0]
    with pytest.raises(AnsibleActionFail, match=message):
        plugin.run(task_vars={})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("entry, kind", [("unreachable", "str"), (["x"], "list"), (42, "int")])
def test_non_dict_result_is_a_failed_row_naming_the_host(tmp_path, entry, kind):
    results = _results()
    results["EX19B"] = entry
    plugin = _plugin({"results": results, "dest": str(tmp_path), "generated_on": TODAY})[0]
    result = plugin.run(task_vars={})
    assert "EX19B" in result["summary"]["hosts"]["failed"]
    assert result["summary"]["total"] == len(results)
    row = next(s for s in json.load(open(result["files"]["json"], encoding="utf-8"))["servers"] if s["name"] == "EX19B")
    assert "results['EX19B'] is a %s" % kind in row["error"]


def test_dest_that_is_a_file_fails(tmp_path):
    blocker = tmp_path / "report.html"
    blocker.write_text("x")
    plugin = _plugin({"results": {}, "dest": str(blocker), "generated_on": TODAY})[0]
    with pytest.raises(AnsibleActionFail, match="exists and is not a directory"):
        plugin.run(task_vars={})


def test_null_entry_is_reported_as_not_run(tmp_path):
    results = {"EX01": None, "EX02": _results()["EXSE1"]}
    result = _plugin({"results": results, "dest": str(tmp_path), "formats": ["json"],
                      "generated_on": TODAY})[0].run(task_vars={})
    assert result["summary"]["by_state"] == {"audited": 1, "unreachable": 0, "failed": 0, "not_run": 1}
