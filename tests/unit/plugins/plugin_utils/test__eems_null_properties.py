"""The controller accepts null for the EEMS properties a build lacks.

MitigationsEnabled, MitigationsBlocked, MitigationsApplied and
DataCollectionEnabled exist only from the September 2021 CUs (2016 CU22,
2019 CU11) on; the host scripts answer null for them on older builds
(tests/lab/data/exchange_value_forms.yml).  Null means "no such switch",
never "switched off".
"""
from __future__ import annotations

import copy
import json
import os
from unittest.mock import MagicMock

from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.action.build_facts import ActionModule
from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_settings import desired_settings, plan_changes
from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_status import judge_eems

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data", "build_facts")
NULL_FLAGS = {"server_mitigations_enabled": None, "mitigations_blocked": None, "mitigations_applied": None,
              "data_collection_enabled": None, "organization_mitigations_enabled": None}


def _cu10_answer():
    """EX19C's captured answer as a 2019 CU10 server (before EEMS) would give it."""
    with open(os.path.join(DATA, "ex19c.json"), encoding="utf-8") as handle:
        answer = json.load(handle)["stdout"]
    facts = answer["data"]
    facts["setup"]["exsetup_version"] = "15.02.0922.027"
    facts["setup"]["msi_build"] = "15.2.922.7"
    facts["services"] = [s for s in facts["services"] if s["name"] != "MSExchangeMitigation"]
    facts["mitigation_events"] = []
    facts["exchange"].update(NULL_FLAGS, admin_display_version="Version 15.2 (Build 922.7)")
    return answer


def test_null_flags_are_no_switch_to_blame_in_the_eems_verdict():
    facts = _cu10_answer()["data"]
    verdict = judge_eems(facts, {"eems_fetch_ok": False, "build": "15.2.922.27"})
    # Before: "disabled at organization", with a remedy that cannot work on this build.
    assert (verdict["status"], verdict["cause"]) == ("not_working", "build_before_march_2023")


def test_null_flags_are_not_false_when_nothing_else_is_known():
    facts = _cu10_answer()["data"]
    assert judge_eems(facts, {})["cause"] not in ("disabled_at_organization", "disabled_at_server")


def test_build_facts_reports_a_pre_eems_server_without_failing():
    task = MagicMock(Task)
    task.args = {"today": "2026-11-26"}
    task.check_mode = False
    task.async_val = 0
    connection = MagicMock()
    connection.get_option.side_effect = lambda name: {"remote_user": "LAB\\ansible", "remote_password": "pw"}[name]
    connection.exec_command.return_value = (0, json.dumps(_cu10_answer()).encode(), b"")
    plugin = ActionModule(task=task, connection=connection, play_context=MagicMock(), loader=None, templar=None,
                          shared_loader_obj=None)
    result = plugin.run(task_vars={"inventory_hostname": "EX19OLD"})
    exchange = result["ansible_facts"]["exchange"]
    assert exchange["exchange"]["server_mitigations_enabled"] is None
    assert exchange["eems_status"]["cause"] == "build_before_march_2023"
    assert not [f for f in result["findings"] if f["id"].startswith("eems_disabled")]


def test_eems_settings_leave_a_build_without_the_properties_alone():
    current = {"setup": {"exsetup_version": "15.02.0922.027"}, "setup_watermark": None,
               # Even if the service were installed, no property means no switch.
               "services": [{"name": "MSExchangeMitigation", "start_mode": "Automatic", "state": "Running"}],
               "mitigation_events": [], "ems": {"available": True},
               "exchange": dict(copy.deepcopy(NULL_FLAGS), organization_name="Contoso", internet_web_proxy="")}
    plan = plan_changes(current, desired_settings({"organization_mitigations_enabled": True,
                                                   "mitigations_enabled": True}))
    assert plan["changes"] == [] and plan["organization"] is None and plan["server"] == {}
    assert "no EEMS settings" in plan["left_alone"][0]["reason"]


def test_summary_takes_the_organisation_flag_from_a_server_that_could_read_it():
    from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_summary import summarize

    def record(flag, message):
        return {"exchange_eems": {"state": "handled", "after": {"status": "working"}, "before": None,
                                  "changed": False, "organization": {"name": "Contoso", "mitigations_enabled": flag,
                                                                     "changed": False, "message": message}}}
    hostvars = {"EX13A": record(None, "organisation Contoso: this server's Exchange build has no MitigationsEnabled"),
                "EXSE1": record(False, "organisation Contoso: MitigationsEnabled would be set to True by EXSE1")}
    org = summarize(["EX13A", "EXSE1"], hostvars)["organizations"]["Contoso"]
    assert org["mitigations_enabled"] is False and "EXSE1" in org["message"]
