"""Bounds up front on every option whose text reaches a host or names a
controller path (issue 12): a NUL byte, a control character or an absurd
length is refused before anything is sent, read or written, and the refusal
names the host and the option without echoing a huge value."""
from __future__ import annotations

import importlib
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_action
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import CatalogError, load_catalog

# What each action needs besides the option under test.
BASE_ARGS = {
    "preflight": {},
    "update_stage": {"installers": ["a.msp"], "repository_url": "https://files.contoso.test/exchange/"},
    "update_install": {"step": {"kind": "su", "staged_name": "a.msp", "name": "Sep26SU"}},
    "maintenance_mode": {"state": "present"},
    "mitigation": {"name": "CVE-2022-41040", "state": "present"},
    "eems": {},
    "eems_observe": {},
    "build_facts": {},
}
# Options of those actions that are not free text travelling to the host
# (a known name, a date, a build): refused by their own form checks.
FORM_CHECKED = {("mitigation", "name"), ("eems", "today"), ("build_facts", "target"), ("build_facts", "today"),
                ("preflight", "target")}
VALUES = {
    "nul": ("C:\\a\x00b", "contains a NUL byte"),
    "control": ("C:\\a\x01b", "contains the control character U+0001"),
    "tab": ("C:\\a\tb", "contains the control character U+0009"),
    "70k": ("C:\\" + "L" * 70000, "characters long, more than the"),
    "5k": ("C:\\" + "L" * 5000, "characters long, more than the"),
}


def _text_options():
    for name in sorted(BASE_ARGS):
        spec = importlib.import_module("ansible_collections.onprem.exchange.plugins.action." + name).ARGUMENT_SPEC
        for option, rule in sorted(spec.items()):
            if rule.get("type", "str") == "str" and not rule.get("choices") and not rule.get("no_log") \
                    and (name, option) not in FORM_CHECKED:
                yield name, option


class Sent(Exception):
    pass


@pytest.fixture
def nothing_sent(monkeypatch):
    calls = []

    def host(connection, operation, args):
        calls.append(operation)
        raise Sent(operation)
    monkeypatch.setattr(_host_action, "run_host_operation", host)
    # preflight sends its reads itself (one failed read must not stop the others).
    monkeypatch.setattr(importlib.import_module("ansible_collections.onprem.exchange.plugins.action.preflight"),
                        "run_host_operation", host)
    return calls


def _run(name, args):
    module = importlib.import_module("ansible_collections.onprem.exchange.plugins.action." + name)
    task = MagicMock(Task)
    task.args = args
    task.check_mode = False
    task.diff = False
    task.async_val = 0
    connection = MagicMock()
    connection.get_option.side_effect = {"remote_user": "LAB\\ansible", "remote_password": "pw"}.get
    plugin = module.ActionModule(task=task, connection=connection, play_context=MagicMock(), loader=None,
                                 templar=None, shared_loader_obj=None)
    return plugin.run(task_vars={"inventory_hostname": "EXH1"})


@pytest.mark.parametrize("kind", sorted(VALUES))
@pytest.mark.parametrize("name, option", list(_text_options()))
def test_every_text_option_sent_to_a_host_is_bounded_up_front(nothing_sent, name, option, kind):
    value, reason = VALUES[kind]
    if option == "repository_username":  # it comes with its password
        args = dict(BASE_ARGS[name], repository_username=value, repository_password="pw")
    else:
        args = dict(BASE_ARGS[name], **{option: value})
    with pytest.raises(AnsibleActionFail) as refused:
        _run(name, args)
    message = str(refused.value)
    assert message.startswith("EXH1: %s " % option) and reason in message, message[:300]
    assert "nothing was sent to the server" in message and len(message) < 300, message[:300]
    assert nothing_sent == []


def test_the_options_checked_here_include_those_issue_12_found_unbounded():
    options = set(_text_options())
    assert {("maintenance_mode", "redirect_to"), ("mitigation", "repository_url"), ("mitigation", "restore_from"),
            ("mitigation", "url_rewrite_package"), ("preflight", "staging_dir"), ("eems", "internet_web_proxy"),
            ("build_facts", "ems_username")} <= options


def test_preflight_reads_get_the_same_backstop_as_every_host_call(monkeypatch):
    # The connection's own user (no ems_username option) carrying a NUL byte:
    # the identity read (a token only) goes, the first read with it does not.
    module = importlib.import_module("ansible_collections.onprem.exchange.plugins.action.preflight")
    sent = []
    monkeypatch.setattr(module, "run_host_operation", lambda connection, operation, args: sent.append(operation) or {
        "data": {"token": args.get("token")}})
    task = MagicMock(Task)
    task.args = {}
    task.check_mode = False
    task.diff = False
    task.async_val = 0
    connection = MagicMock()
    connection.get_option.side_effect = {"remote_user": "LAB\\ans\x00ible", "remote_password": "pw"}.get
    plugin = module.ActionModule(task=task, connection=connection, play_context=MagicMock(), loader=None,
                                 templar=None, shared_loader_obj=None)
    with pytest.raises(AnsibleActionFail, match=r"^EXH1: the \S+ argument ems.username contains a NUL byte; "
                                                r"nothing was sent to the server$"):
        plugin.run(task_vars={"inventory_hostname": "EXH1"})
    assert sent == ["Get-HostIdentity"]


def test_an_extra_catalog_file_with_a_nul_byte_names_the_variable_not_open_s_error():
    with pytest.raises(CatalogError, match=r"^exchange_catalog_files\[1\] contains a NUL byte \(at character 7\)"):
        load_catalog(extra=["/tmp/ok.yml", "/tmp/a\x00b.yml"])


def test_a_host_action_with_such_a_catalog_file_fails_naming_the_host(nothing_sent):
    module = importlib.import_module("ansible_collections.onprem.exchange.plugins.action.build_facts")
    task = MagicMock(Task)
    task.args = {}
    task.check_mode = False
    task.diff = False
    task.async_val = 0
    plugin = module.ActionModule(task=task, connection=MagicMock(), play_context=MagicMock(), loader=None,
                                 templar=None, shared_loader_obj=None)
    with pytest.raises(AnsibleActionFail, match=r"^EXH1: exchange_catalog_files\[0\] contains a NUL byte"):
        plugin.run(task_vars={"inventory_hostname": "EXH1", "exchange_catalog_files": ["/tmp/a\x00b.yml"]})
    assert nothing_sent == []


@pytest.mark.parametrize("option", ["csv", "dest"])
def test_catalog_import_refuses_a_nul_in_either_path_naming_it(tmp_path, option):
    paths = {"csv": str(tmp_path / "builds.csv"), "dest": str(tmp_path / "extra.yml")}
    (tmp_path / "builds.csv").write_text("product,update_name,kind,cu_level,build,release_date,kb,source\n")
    paths[option] = paths[option].replace("extra", "ex\x00tra").replace("builds", "bu\x00ilds")
    with pytest.raises(AnsibleActionFail, match=r"^catalog_import: %s contains a NUL byte" % option):
        _run_controller("catalog_import", paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["builds.csv"]


@pytest.mark.parametrize("args, message", [
    ({"share": "\\\\files\\" + "s" * 70000}, "share is 70008 characters long, more than the 2048 allowed"),
    ({"share": "\\\\files\\reports", "folder": "a\x00b"}, "folder contains a NUL byte"),
    ({"share": "\\\\files\\reports", "username": "CONTOSO\\a\x01b", "password": "pw"},
     "username contains the control character U+0001"),
])
def test_report_share_bounds_what_it_sends(monkeypatch, tmp_path, args, message):
    module = importlib.import_module("ansible_collections.onprem.exchange.plugins.action.report_share")
    sent = []
    monkeypatch.setattr(module, "run_host_operation", lambda connection, operation, request: sent.append(operation))
    report = tmp_path / "exchange-audit.json"
    report.write_text("{}")
    with pytest.raises(AnsibleActionFail) as refused:
        _run_controller("report_share", dict(args, files={"json": str(report)}))
    assert str(refused.value).startswith(message) and str(refused.value).endswith("(host EXH1)"), str(refused.value)
    assert sent == []


@pytest.mark.parametrize("args, message", [
    ({"share": "\\\\files\\" + "s" * 70000}, "share is 70008 characters long, more than the 2048 allowed"),
    ({"path": "eems-watch/" + "h" * 5000}, "path is 5011 characters long"),
    ({"username": "CONTOSO\\a\x01b", "password": "pw"}, "username contains the control character U+0001"),
    ({"dest": "/tmp/history\x00.json"}, "dest contains a NUL byte"),
])
def test_report_share_fetch_bounds_what_it_sends_and_where_it_writes(monkeypatch, args, message):
    module = importlib.import_module("ansible_collections.onprem.exchange.plugins.action.report_share_fetch")
    sent = []
    monkeypatch.setattr(module, "run_host_operation", lambda connection, operation, request: sent.append(operation))
    defaults = {"share": "\\\\files\\reports", "path": "eems-watch/eems-watch-history.json",
                "dest": "/tmp/eems-watch-history.json"}
    with pytest.raises(AnsibleActionFail) as refused:
        _run_controller("report_share_fetch", dict(defaults, **args))
    assert str(refused.value).startswith(message) and str(refused.value).endswith("(host EXH1)"), str(refused.value)
    assert sent == []


def _run_controller(name, args):
    module = importlib.import_module("ansible_collections.onprem.exchange.plugins.action." + name)
    task = MagicMock(Task)
    task.args = args
    task.check_mode = False
    task.diff = False
    task.async_val = 0
    task.delegate_to = None
    plugin = module.ActionModule(task=task, connection=MagicMock(), play_context=MagicMock(), loader=None,
                                 templar=None, shared_loader_obj=None)
    return plugin.run(task_vars={"inventory_hostname": "EXH1"})
