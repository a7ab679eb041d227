"""Every report action is the same run (plugin_utils/_report/action.py): built from mocks, writing into tmp_path."""
from __future__ import annotations

import importlib
import json
import os
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.plugin_utils._report.action import (
    ReportActionBase,
    placement_from_hostvars,
)

TODAY = "2026-11-26"
PATCHED = {"status": "patched", "build_before": "15.2.1544.39", "build_after": "15.2.1748.53",
           "target_build": "15.2.1748.53", "maintenance": "in_service"}
STUCK = {"status": "failed_in_maintenance", "build_before": "15.2.1748.46", "maintenance": "in_maintenance",
         "in_maintenance": True, "message": "Install: exit code 1603", "last_action": "installing"}
# Inputs by action: a minimal valid call of each.
CALLS = {
    "audit_report": {"results": {"EX1": None}},
    "patch_report": {"results": {"EX1": PATCHED, "EX2": STUCK}},
    "remediation_report": {"before": {"EX1": None}, "after": {"EX1": None}},
    "mitigation_report": {"results": {"EX1": None}},
    "readiness_report": {"results": {"EX1": None}},
}
FILES = {"audit_report": "exchange-audit", "patch_report": "exchange-patch",
         "remediation_report": "exchange-remediation", "mitigation_report": "exchange-protection",
         "readiness_report": "exchange-preflight"}


def _facts(organization, dag):
    return {"ansible_facts": {"exchange": {"exchange": {"organization_name": organization, "dag": dag}}}}


def _plugin(name, args):
    module = importlib.import_module("ansible_collections.onprem.exchange.plugins.action.%s" % name)
    task = MagicMock(Task)
    task.args = dict(args)
    task.check_mode = False
    task.async_val = 0
    connection = MagicMock()
    plugin = module.ActionModule(task=task, connection=connection, play_context=MagicMock(), loader=None,
                                 templar=None, shared_loader_obj=None)
    return module, plugin, connection


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_report_action_is_the_shared_run_and_says_only_its_report(name, tmp_path):
    module, plugin, connection = _plugin(name, dict(CALLS[name], dest=str(tmp_path), generated_on=TODAY))
    assert type(plugin).run is ReportActionBase.run
    assert module.ARGUMENT_SPEC == module.ActionModule.kind.argument_spec
    result = plugin.run(task_vars={})
    assert result["changed"] is False and not result.get("failed")
    assert {"summary", "servers", "files"} <= set(result)
    assert sorted(os.listdir(tmp_path)) == sorted(FILES[name] + ext for ext in (".csv", ".html", ".json", ".md"))
    assert connection.method_calls == []


def test_patch_report_returns_out_of_service_and_groups_by_the_hosts_facts(tmp_path):
    hostvars = {"EX1": _facts("Contoso", "DAG1"), "EX2": _facts("Contoso", None), "OTHER": _facts("X", "Y")}
    _module, plugin, _connection = _plugin("patch_report", dict(CALLS["patch_report"], dest=str(tmp_path),
                                                                generated_on=TODAY, formats=["json", "html"]))
    result = plugin.run(task_vars={"hostvars": hostvars})
    assert result["out_of_service"] == ["EX2: in maintenance; last done: installing"]
    rows = {s["name"]: s for s in json.loads(open(result["files"]["json"], encoding="utf-8").read())["servers"]}
    assert (rows["EX1"]["organization"], rows["EX1"]["dag"]) == ("Contoso", "DAG1")
    assert (rows["EX2"]["organization"], rows["EX2"]["dag"]) == ("Contoso", None)
    assert rows["EX1"]["change"] == "Exchange 2019 CU14 Feb26SU → Exchange 2019 CU15 Sep26SUv2"
    page = open(result["files"]["html"], encoding="utf-8").read()
    assert page.index("DAG DAG1") < page.index("Standalone servers")


def test_placement_reads_only_hosts_with_facts():
    hostvars = {"EX1": _facts("Contoso", "DAG1"), "EX2": {"ansible_facts": {}}, "EX3": "not a mapping"}
    assert placement_from_hostvars(hostvars, ["EX1", "EX2", "EX3", "EX4"]) == {"EX1": ("Contoso", "DAG1")}


def test_a_bad_extra_catalog_file_fails_naming_the_variable(tmp_path):
    _module, plugin, _connection = _plugin("patch_report", dict(CALLS["patch_report"], dest=str(tmp_path)))
    with pytest.raises(AnsibleActionFail, match="exchange_catalog_files: .*missing.yml"):
        plugin.run(task_vars={"exchange_catalog_files": str(tmp_path / "missing.yml")})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_bad_date_fails_before_anything_is_written(name, tmp_path):
    _module, plugin, _connection = _plugin(name, dict(CALLS[name], dest=str(tmp_path), generated_on="26/11/2026"))
    with pytest.raises(AnsibleActionFail, match="generated_on='26/11/2026' is not an ISO date"):
        plugin.run(task_vars={})
    assert os.listdir(tmp_path) == []
