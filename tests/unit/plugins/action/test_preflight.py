"""Unit tests for the preflight and readiness_report action plugins, built from mocks."""
from __future__ import annotations

import json
from unittest.mock import MagicMock

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.action import preflight, readiness_report
from ansible_collections.onprem.exchange.plugins.modules import preflight as preflight_doc
from ansible_collections.onprem.exchange.plugins.plugin_utils import _readiness

PASSWORD = "repo-secret-pw"


def _plugin(module, args, connection=None):
    task = MagicMock(Task)
    task.args = dict(args)
    task.check_mode = False
    task.async_val = 0
    connection = connection or MagicMock()
    return module.ActionModule(task=task, connection=connection, play_context=MagicMock(), loader=None, templar=None,
                               shared_loader_obj=None)


# readiness_report (with the onprem.exchange.report fragment) is checked with
# every plugin in tests/unit/plugins/test_argument_specs.py.
@pytest.mark.parametrize("module, doc", [(preflight, preflight_doc)])
def test_spec_matches_doc_stub(module, doc):
    options = yaml.safe_load(doc.DOCUMENTATION)["options"]
    own = {k: v for k, v in module.ARGUMENT_SPEC.items() if not k.startswith("ems_")}
    assert set(options) == set(own)
    for name, spec in own.items():
        for key in ("type", "required", "choices", "default", "elements"):
            assert options[name].get(key, False if key == "required" else None) == spec.get(
                key, False if key == "required" else None), (name, key)


@pytest.mark.parametrize("args, message", [
    ({"staging_dir": "relative\\dir"}, "EX01: staging_dir 'relative\\\\dir' must be an absolute local folder"),
    ({"repository_url": "ftp://x/"}, "EX01: repository_url 'ftp://x/' must be an http(s):// URL"),
    ({"repository_username": "u"}, "EX01: repository_username and repository_password go together"),
    ({"min_free_disk_gb": -1}, "EX01: min_free_disk_gb must not be negative"),
    ({"target": "newest"}, "EX01: option target: target 'newest' is not allowed; use one of latest, eems"),
])
def test_bad_input_names_the_host_and_option_and_contacts_nothing(args, message):
    connection = MagicMock()
    with pytest.raises(AnsibleActionFail) as caught:
        _plugin(preflight, args, connection).run(task_vars={"inventory_hostname": "EX01"})
    assert str(caught.value).startswith(message)
    connection.exec_command.assert_not_called()


class ReadOnlyHost:
    """Answers each read with an empty-but-valid or broken answer and records what was sent."""

    def __init__(self):
        self.sent = []

    def exec_command(self, cmd, in_data=None, sudoable=False):
        request = json.loads(in_data)
        self.sent.append((request["operation"], request["args"]))
        if request["operation"] == "Get-HostIdentity":
            data = {k: "x" for k in ("computer_name", "fqdn", "domain", "os_caption", "os_version", "last_boot",
                                     "local_time", "powershell_version")}
            data["token"] = request["args"]["token"]
        else:
            data = {"broken": True}  # off every other contract
        return 0, json.dumps({"ok": True, "changed": False, "data": data}).encode(), b""


def test_off_contract_answers_become_findings_and_only_reads_are_sent():
    host = ReadOnlyHost()
    connection = MagicMock()
    connection.exec_command.side_effect = host.exec_command
    connection.get_option.side_effect = lambda name: {"remote_user": "CONTOSO\\ansible",
                                                      "remote_password": PASSWORD}[name]
    result = _plugin(preflight, {"repository_url": "https://repo.test/x/", "repository_username": "r",
                                 "repository_password": PASSWORD}, connection).run(
        task_vars={"inventory_hostname": "EX01"})
    sent = [name for name, _args in host.sent]
    assert sent == list(_readiness.READ_OPERATIONS) + ["Test-ExchangePrerequisite"]
    assert result["changed"] is False and result["readiness"] == "not_ready"
    off = [f for f in result["findings"] if f["id"] == "answer_off_contract"]
    assert len(off) == len(_readiness.READ_OPERATIONS) - 1
    assert result["answers"]["Get-HostIdentity"] == {"ok": True, "error": None}
    assert result["answers"]["Get-ExchangeFacts"]["error"].startswith(
        "host operation Get-ExchangeFacts answered computer_name = (missing)")
    prereq_args = host.sent[-1][1]
    assert [e["name"] for e in prereq_args["endpoints"]] == ["repository", "ocs"]
    assert prereq_args["endpoints"][0]["url"] == "https://repo.test/x/manifest.json"
    assert set(prereq_args["cmdlets"]) == set(_readiness.all_cmdlets())
    assert PASSWORD not in json.dumps(result)


def test_the_report_lists_unreachable_and_missing_results_and_writes_every_format(tmp_path):
    ready = {"readiness": "ready", "jobs": dict.fromkeys(_readiness.JOBS, "ready"), "findings": [], "server": {}}
    blocked = {"readiness": "not_ready", "jobs": dict(dict.fromkeys(_readiness.JOBS, "ready"), eems="blocked"),
               "findings": [{"id": "ocs_unreachable", "severity": "blocker", "jobs": ["eems"],
                             "message": "=cannot reach OCS", "fix": "Allow <b>officeclient.microsoft.com</b>"}],
               "server": {}}
    results = {"EX02": blocked, "EX01": ready, "EX03": {"unreachable": True, "msg": "timed out"}, "EX04": None}
    result = _plugin(readiness_report, {"results": results, "dest": str(tmp_path),
                                        "generated_on": "2026-11-26"}).run(task_vars={})
    summary = result["summary"]
    assert summary["hosts"]["not_ready"] == ["EX02"] and summary["hosts"]["unreachable"] == ["EX03"]
    assert summary["hosts"]["failed"] == ["EX04"] and summary["blocked_by_job"]["eems"] == ["EX02"]
    assert sorted(result["files"]) == ["csv", "html", "json", "markdown"]
    with open(result["files"]["html"], encoding="utf-8") as handle:
        page = handle.read()
    assert "&lt;b&gt;officeclient.microsoft.com&lt;/b&gt;" in page and "<b>officeclient" not in page
    with open(result["files"]["csv"], encoding="utf-8") as handle:
        assert "'=cannot reach OCS" in handle.read()  # no spreadsheet formula from host text
    assert result["changed"] is False
