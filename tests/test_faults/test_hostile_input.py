"""Hostile input: quotes, $(), backticks, semicolons, newlines, Unicode quotes,
very long strings, path traversal and NUL, used wherever a person or an
inventory supplies text.

Each value either gets a clear error naming the host, or is carried as data.
The lab proves no text became code: it runs only the canonical scripts (its
refusal list stays empty) and every command line it received is the constant
bootstrap. Reports land only in the folder they were told to use.
"""
from __future__ import annotations

import json
import os
from unittest.mock import MagicMock

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from faultlab import SE_CURRENT, SHOW_TRACEBACKS, SU_ONLY, TARGET, fleet, play, tail, unexpected_tracebacks
from lab.client import WinRMClient

from ansible_collections.onprem.exchange.plugins.action.eems import ActionModule as EemsAction
from ansible_collections.onprem.exchange.plugins.action.maintenance_mode import ActionModule as MaintenanceAction
from ansible_collections.onprem.exchange.plugins.action.mitigation import ActionModule as MitigationAction
from ansible_collections.onprem.exchange.plugins.action.update_stage import ActionModule as StageAction
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import bootstrap_command

HOSTILE = {
    "single_quote_break_out": "x'; Remove-Item C:\\ -Recurse -Force; '",
    "double_quote_break_out": "x\"; Stop-Computer -Force; \"",
    "subexpression": "$(Stop-Computer -Force)",
    "subexpression_in_string": "a$(New-Item C:\\pwned.txt)b",
    "backtick_escape": "`$env:ANSIBLE_PASSWORD`",
    "backtick_newline": "a`nInvoke-Expression evil",
    "semicolon_chain": "a; Stop-Service MSExchangeIS",
    "ampersand_call": "& calc.exe",
    "pipeline": "x | Out-File C:\\pwned.txt",
    "newline": "first\nStop-Computer -Force",
    "crlf": "first\r\nStop-Computer -Force",
    "unicode_single_quotes": "\u2018; Stop-Computer; \u2019",
    "unicode_double_quotes": "\u201cpwned\u201d; exit 1",
    "unicode_low_quote": "\u201a$(calc)\u201b",
    "long_5k": "A" * 5000,
    "long_40k_over_cmdline_limit": "B" * 40000,
    "traversal_windows": "..\\..\\Windows\\System32",
    "traversal_posix": "../../../etc/passwd",
    "absolute_elsewhere": "C:\\Windows\\System32\\drivers\\etc",
    "nul_byte": "ok\x00; Stop-Computer",
    "html_script": "<script>alert(1)</script>",
    "env_and_percent": "%COMSPEC% ${env:PATH}",
    "array_and_hash": "@(calc) @{a=1}",
}


def _action(cls, lab, name, args, *, check=False):
    """Run an action plugin for host ``name`` over real WinRM to the lab."""
    task = MagicMock(Task)
    task.args = dict(args)
    task.check_mode = check
    task.diff = False
    task.async_val = 0
    client = WinRMClient.for_lab(lab, name)
    credential = lab.state.data["lab"]["credential"]
    connection = MagicMock()
    connection.exec_command.side_effect = client.exec_command
    connection.get_option.side_effect = {"remote_user": credential["username"],
                                         "remote_password": credential["password"]}.__getitem__
    plugin = cls(task=task, connection=connection, play_context=MagicMock(), loader=None, templar=None,
                 shared_loader_obj=None)
    try:
        return plugin.run(task_vars={"inventory_hostname": name})
    finally:
        client.close()


def _outcome(cls, lab, name, args):
    """("error", message) or ("data", result)."""
    try:
        return "data", _action(cls, lab, name, args)
    except AnsibleActionFail as error:
        return "error", str(error)


def _assert_no_code_from_user(lab):
    bootstrap = bootstrap_command()
    for name in lab.endpoints:
        assert lab.stats(name)["refusals"] == [], name
        lines = lab.wsman.stats(name)["recent_command_lines"]
        assert all(line == bootstrap for line in lines), (name, [line[:120] for line in lines if line != bootstrap])


@pytest.fixture(scope="module")
def hostile_lab(tmp_path_factory):
    from labtools import start_lab
    lab = start_lab(tmp_path_factory.mktemp("hostile-lab"), fleet())
    yield lab
    _assert_no_code_from_user(lab)
    lab.stop()


def _from_staging_test(path):
    """Files the staging-folder test put in its own (accepted) folders."""
    return path.startswith("c:\\exchangeupdates\\") or any(
        path.startswith(v.lower() + "\\") for v in HOSTILE.values())


# -- staging folders and repository locations ------------------------------------------

@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_staging_folder_is_refused_or_used_literally(hostile_lab, key):
    lab = hostile_lab
    value = HOSTILE[key]
    for staging_dir in (value, "C:\\ExchangeUpdates\\" + value):
        kind, answer = _outcome(StageAction, lab, "FS1", {"installers": ["Exchange2019-KB5129956-x64-en.msp"],
                                                          "repository_url": lab.repo_url,
                                                          "staging_dir": staging_dir})
        if kind == "error":
            assert answer.startswith("FS1: staging_dir "), answer
            assert any(reason in answer for reason in (
                "must be an absolute local folder", "must not contain '..'", "contains a NUL byte",
                "contains the control character", "characters long, more than the 248 allowed")), answer
            assert len(answer) < 1000, "the refusal must not echo a huge value"
        else:
            # Accepted: the server staged into exactly that folder, as a name.
            assert answer["staging_dir"] == staging_dir
            staged = lab.state.server("FS1").get("staged_files", {})
            assert any(path.startswith(staging_dir.lower() + "\\") for path in staged), list(staged)
    _assert_no_code_from_user(lab)


def test_staging_folder_never_climbs_out_with_dot_dot(hostile_lab):
    for staging_dir in ("C:\\ExchangeUpdates\\..\\..\\Windows\\System32", "C:\\..\\Windows", "C:\\x\\..",
                        "C:\\ExchangeUpdates\\.\\..\\Windows"):
        kind, answer = _outcome(StageAction, hostile_lab, "FS1", {"installers": ["Exchange2019-KB5129956-x64-en.msp"],
                                                                  "repository_url": hostile_lab.repo_url,
                                                                  "staging_dir": staging_dir})
        assert kind == "error" and "'..'" in answer, (staging_dir, answer)
    staged = hostile_lab.state.server("FS1").get("staged_files", {})
    assert not any("\\..\\" in path or ":" in path[2:] for path in staged), list(staged)


@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_repository_url_is_refused_or_fetched_as_data(hostile_lab, key):
    value = HOSTILE[key]
    for url in (value, hostile_lab.repo_url + value, "\\\\files.lab.contoso.test\\share\\" + value):
        kind, answer = _outcome(StageAction, hostile_lab, "FS1", {"installers": ["Exchange2019-KB5129956-x64-en.msp"],
                                                                  "repository_url": url})
        if kind == "error":
            assert answer.startswith("FS1: "), answer
        # Whatever the URL, files land only in the staging folder, under their manifest names.
        for path in hostile_lab.state.server("FS1").get("staged_files", {}):
            assert path.startswith("c:\\exchangeupdates\\") or _from_staging_test(path), path
    _assert_no_code_from_user(hostile_lab)


@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_installer_names_are_plain_file_names_or_refused(hostile_lab, key):
    value = HOSTILE[key]
    kind, answer = _outcome(StageAction, hostile_lab, "FS1", {"installers": [value],
                                                              "repository_url": hostile_lab.repo_url})
    assert kind == "error", answer
    assert answer.startswith("FS1: installer ") or "has no %s in its manifest.json" % value in answer, answer


LONG_70K = "C" * 70000


def test_the_values_of_issue_12_are_refused_up_front_naming_host_and_option(hostile_lab):
    """A 70,000-character staging folder and blocked ID, a NUL inside a
    repository URL: refused before anything reaches the server."""
    before = dict(hostile_lab.stats("FS1")["operations"])
    cases = [
        (StageAction, "FS1", {"installers": ["Exchange2019-KB5129956-x64-en.msp"], "repository_url": hostile_lab.repo_url,
                              "staging_dir": "C:\\" + LONG_70K},
         "FS1: staging_dir is 70003 characters long, more than the 248 allowed"),
        (StageAction, "FS1", {"installers": ["Exchange2019-KB5129956-x64-en.msp"],
                              "repository_url": hostile_lab.repo_url + "x\x00y"},
         "FS1: repository_url contains a NUL byte"),
    ]
    for cls, name, args, message in cases:
        kind, answer = _outcome(cls, hostile_lab, name, args)
        assert kind == "error" and answer.startswith(message), answer
        assert "nothing was sent to the server" in answer and len(answer) < 1000
    assert hostile_lab.stats("FS1")["operations"] == before
    kind, answer = _outcome(EemsAction, hostile_lab, "FE1", {"mitigations_blocked": [LONG_70K], "verify_timeout": 0})
    assert kind == "error" and answer.startswith("FE1: ") and "70000 characters" in answer, answer[:300]
    assert len(answer) < 1000


# -- EEMS proxy and mitigation names -------------------------------------------------------

@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_eems_proxy_value_is_refused_with_the_form_it_needs(hostile_lab, key):
    value = HOSTILE[key]
    for proxy in (value, "http://proxy.lab.contoso.test:8080/" + value):
        kind, answer = _outcome(EemsAction, hostile_lab, "FE1", {"internet_web_proxy": proxy, "verify_timeout": 0})
        assert kind == "error", answer
        assert answer.startswith("FE1: internet_web_proxy "), answer
        # Bounds first (control characters, NUL, length), then the form.
        assert any(reason in answer for reason in (
            "is not an http(s) URL such as http://proxy.contoso.com:8080/", "contains a NUL byte",
            "contains the control character", "characters long, more than the 2048 allowed")), answer
        assert len(answer) < 1000, "the refusal must not echo a huge value"
    assert hostile_lab.state.server("FE1").get("proxy") is None


@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_blocked_mitigation_ids_are_refused(hostile_lab, key):
    value = HOSTILE[key]
    kind, answer = _outcome(EemsAction, hostile_lab, "FE1", {"mitigations_blocked": ["M1.1", value],
                                                             "verify_timeout": 0})
    if value.isalnum() and len(value) <= 64:
        # Letters only: a well-formed (if unlikely) ID, stored as it is, and taken out again.
        assert kind == "data" and hostile_lab.state.server("FE1")["eems"]["blocked"] == ["M1.1", value]
        _action(EemsAction, hostile_lab, "FE1", {"mitigations_blocked": [], "mitigations_blocked_mode": "exact",
                                                 "verify_timeout": 0})
    else:
        assert kind == "error" and answer.startswith("FE1: "), answer
        assert len(answer) < 1000, "the refusal must not echo a huge value"
    assert hostile_lab.state.server("FE1")["eems"]["blocked"] == []


@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_mitigation_name_is_refused_and_names_the_known_ones(hostile_lab, key):
    before = json.dumps(hostile_lab.state.server("FX1")["iis"], sort_keys=True, default=str)
    kind, answer = _outcome(MitigationAction, hostile_lab, "FX1", {"name": HOSTILE[key], "state": "present"})
    assert kind == "error", answer
    assert "unknown mitigation" in answer and "known: proxynotshell (CVE-2022-41040)" in answer, answer
    assert json.dumps(hostile_lab.state.server("FX1")["iis"], sort_keys=True, default=str) == before


# -- DAG names (from Exchange itself, through the lab fleet) --------------------------

HOSTILE_DAG = "D'; Stop-Computer; $(calc) `n \u2018<b>\u201d"


def test_a_hostile_dag_name_is_data_for_the_gate_and_the_audit_report(lab_factory, tmp_path):
    raw = fleet()
    raw["dags"] = [{"name": HOSTILE_DAG}]
    for server in raw["servers"]:
        if server.get("dag"):
            server["dag"] = HOSTILE_DAG
    lab = lab_factory(raw)
    entered = _action(MaintenanceAction, lab, "FM1", {"state": "present", "poll_interval": 0.2})
    assert entered["changed"]
    assert lab.dag_violations() == []
    # The second member finds the gate closed, and says so with the name as it is.
    with pytest.raises(AnsibleActionFail) as caught:
        _action(MaintenanceAction, lab, "FM2", {"state": "present", "gate_timeout": 1, "poll_interval": 0.2})
    assert "the DAG gate of %s is closed" % HOSTILE_DAG in str(caught.value)
    assert _action(MaintenanceAction, lab, "FM1", {"state": "absent"})["changed"]

    run = play(lab, tmp_path, "playbooks/audit.yml", ["FM1", "FM2", "FS1"])
    assert run.result.returncode == 0, tail(run.result)
    html = open(os.path.join(run.report_dir, "exchange-audit.html"), encoding="utf-8").read()
    assert "<b>" not in html
    _assert_no_code_from_user(lab)


# -- inventory host names and report folders, through the real playbooks -------------------

HOSTILE_HOSTS = {
    "EX'quote": "FS1",
    "EX$(calc)": "FM1",
    "EX`tick;semi": "FM2",
    "EX\u2018curly\u2019": "FE1",
    "EX<script>": "FX1",
}


def test_hostile_inventory_names_are_data_in_the_audit_and_its_report(lab_factory, tmp_path):
    lab = lab_factory(fleet())

    def rename(inventory):
        hosts = inventory["all"]["children"]["exchange"]["hosts"]
        for hostile, real in HOSTILE_HOSTS.items():
            hosts[hostile] = hosts.pop(real)
        for group, body in inventory["all"]["children"].items():
            if group != "exchange":
                body["hosts"] = {next((h for h, r in HOSTILE_HOSTS.items() if r == n), n): v
                                 for n, v in body["hosts"].items()}

    run = play(lab, tmp_path, "playbooks/audit.yml", ["all"], inventory_edit=rename)
    assert run.result.returncode == 0, tail(run.result)
    assert set(HOSTILE_HOSTS) <= set(run.rows), sorted(run.rows)
    for hostile, real in HOSTILE_HOSTS.items():
        assert run.rows[hostile]["status"] == "audited", run.rows[hostile]
        assert run.rows[hostile]["build"] == lab.state.server(real)["build"]
    html = open(os.path.join(run.report_dir, "exchange-audit.html"), encoding="utf-8").read()
    # The page's own sorting script is its only script; the host's name is text.
    assert html.count("<script") == 1 and "EX&lt;script&gt;" in html
    assert "EX<script>" not in html
    _assert_no_code_from_user(lab)


REPORT_DIRS = {
    "subexpression": "$(touch pwned)",
    "quotes_and_semicolon": "r'\"; rm -rf x; '",
    "backtick": "`id`",
    "unicode_quotes": "\u2018r\u2019\u201cq\u201d",
    "newline": "line\nbreak",
    "traversal_stays_inside": "deeper/../reports",
}


@pytest.mark.parametrize("key", sorted(REPORT_DIRS))
def test_report_folder_is_used_literally_and_nothing_is_written_elsewhere(lab_factory, tmp_path, key):
    lab = lab_factory(fleet())
    base = tmp_path / "configured"
    base.mkdir()
    dest = os.path.join(str(base), REPORT_DIRS[key])
    before = _tree(tmp_path)
    run = play(lab, tmp_path / "run", "playbooks/audit.yml", ["FS1"], extra_vars={"exchange_report_dir": dest})
    assert run.result.returncode == 0, tail(run.result)
    written = _tree(tmp_path) - before
    outside = {p for p in written if not p.startswith(os.path.normpath(dest) + os.sep)
               and not p.startswith(str(tmp_path / "run") + os.sep)}
    assert outside == set(), outside
    assert {os.path.basename(p) for p in written if p.startswith(os.path.normpath(dest))} >= {
        "exchange-audit.html", "exchange-audit.json", "exchange-audit.csv", "exchange-audit.md"}


def test_report_folder_with_a_nul_byte_is_a_clear_error(lab_factory, tmp_path):
    lab = lab_factory(fleet())
    run = play(lab, tmp_path / "run", "playbooks/audit.yml", ["FS1"],
               extra_vars={"exchange_report_dir": str(tmp_path / "r\x00x")})
    assert run.result.returncode != 0
    # play() shows tracebacks (ansible-core hides them otherwise): the
    # refusal is deliberate, not an exception escaping the collection.
    assert SHOW_TRACEBACKS["ANSIBLE_DISPLAY_TRACEBACK"] == "error" and "Traceback" in run.output
    assert unexpected_tracebacks(run.output) == [], tail(run.result)
    assert "dest (the report folder) contains a NUL byte" in run.output, tail(run.result)


def test_unexpected_tracebacks_tells_an_escape_from_a_refusal():
    escaped = ('Traceback (most recent call last):\n  File "/x/ansible/executor/task_executor.py", line 1, in run\n'
               '  File "/c/ansible_collections/onprem/exchange/plugins/plugin_utils/_audit_report.py", line 570, in f\n'
               '    os.makedirs(d)\nValueError: embedded null byte\n')
    refused = ('Traceback (most recent call last):\n  File "/c/ansible_collections/onprem/exchange/plugins/action/'
               'audit_report.py", line 47, in run\n    raise AnsibleActionFail(str(error))\n'
               'ansible.errors.AnsibleActionFail: dest contains a NUL byte\n')
    assert unexpected_tracebacks(escaped) == [("ValueError", "/c/ansible_collections/onprem/exchange/plugins/"
                                                             "plugin_utils/_audit_report.py:570")]
    assert unexpected_tracebacks(refused) == []


def _tree(root):
    found = set()
    for folder, _dirs, files in os.walk(str(root)):
        if ".ansible-tmp" in folder or os.sep + "lab" in folder:
            continue
        found.update(os.path.normpath(os.path.join(folder, f)) for f in files)
    return found


def test_at_least_twenty_hostile_values_of_every_kind():
    assert len(HOSTILE) >= 20
    text = "".join(HOSTILE.values())
    for needle in ("'", '"', "$(", "`", ";", "\n", "\u2018", "\u2019", "\u201c", "..\\", "\x00"):
        assert needle in text, needle
    assert max(len(v) for v in HOSTILE.values()) > 32767  # longer than any Windows command line
    assert SU_ONLY != TARGET != SE_CURRENT and yaml
