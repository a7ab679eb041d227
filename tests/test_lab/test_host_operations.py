"""The lab runs only canonical host scripts, and parameters arrive as data."""
from __future__ import annotations

import base64
import json
import os

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_call
from lab.client import WinRMClient
from lab.host import SCRIPT_DIR, load_canonical_scripts
from lab.operations import load_all

HOSTILE = [
    "x'; Remove-Item C:\\ -Recurse; '",
    "$(Stop-Computer -Force)",
    "`$env:SECRET`",
    "a\"b\"; exit 1",
    "line1\nline2\r\nline3",
    "\u2018curly\u2019 \u201cquotes\u201d",
    "..\\..\\Windows\\System32",
    "x" * 20000,
]


@pytest.fixture
def client(default_lab):
    connection = WinRMClient.for_lab(default_lab, "EX19B")
    yield connection
    connection.close()


def test_every_host_script_has_a_lab_model_and_every_model_a_script():
    scripts = set(load_canonical_scripts()) - {_host_call.BOOTSTRAP_NAME}
    assert scripts == set(load_all())


def test_collection_sends_exactly_the_canonical_script_text():
    for name, canonical in load_canonical_scripts().items():
        with open(os.path.join(SCRIPT_DIR, name + ".ps1"), encoding="utf-8") as handle:
            file_lines = [line.strip() for line in handle.read().splitlines() if line.strip()]
        sent = json.loads(_host_call.build_request(name, {}))["script"]
        assert sent == canonical
        # Every line of the operation's own file is sent, in order.
        sent_lines = iter(sent.splitlines())
        assert all(line in sent_lines for line in file_lines), name


def test_a_script_sent_without_its_shared_functions_is_refused(client):
    with open(os.path.join(SCRIPT_DIR, "Get-MaintenanceState.ps1"), encoding="utf-8") as handle:
        bare = _host_call.normalise_script(handle.read())
    assert "function Open-ExchangeSession" not in bare
    rc, _, stderr = client.exec_command(_host_call.bootstrap_command(),
                                        in_data=_raw_request("Get-MaintenanceState", bare))
    assert rc == 1 and b"differs from the canonical Get-MaintenanceState.ps1" in stderr


@pytest.mark.smoke
@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_travel_as_data_and_come_back_unchanged(client, value):
    result = _host_call.run_host_operation(client, "Get-HostIdentity", {"token": value})
    assert result["data"]["token"] == value


def test_command_line_is_constant_whatever_the_arguments(default_lab, client):
    _host_call.run_host_operation(client, "Get-HostIdentity", {"token": HOSTILE[0]})
    _host_call.run_host_operation(client, "Get-HostIdentity", {"token": HOSTILE[1]})
    first, second = default_lab.wsman.stats("EX19B")["recent_command_lines"][-2:]
    assert first == second == _host_call.bootstrap_command()
    assert "Remove-Item" not in first and "Stop-Computer" not in first


def _raw_request(operation, script, args=None):
    return json.dumps({"operation": operation, "script": script, "args": args or {}}).encode()


def test_a_script_with_spliced_user_text_is_refused(default_lab, client):
    canonical = _host_call.load_script("Get-HostIdentity")
    spliced = canonical.replace("[string]$HostArgs.token", "'%s'" % "x'; Stop-Computer; '")
    rc, stdout, stderr = client.exec_command(_host_call.bootstrap_command(),
                                             in_data=_raw_request("Get-HostIdentity", spliced))
    assert rc == 1 and stdout == b""
    assert b"LAB REFUSED" in stderr and b"differs from the canonical Get-HostIdentity.ps1" in stderr
    with pytest.raises(_host_call.HostCallError) as caught:
        _host_call.parse_result("Get-HostIdentity", rc, stdout, stderr)
    assert caught.value.kind == "malformed" and "LAB REFUSED" in str(caught.value)


def test_a_bootstrap_that_is_not_canonical_is_refused(client):
    script = _host_call.load_script(_host_call.BOOTSTRAP_NAME) + "\nRemove-Item C:\\temp"
    command = "PowerShell -NoProfile -NonInteractive -EncodedCommand " + \
        base64.b64encode(script.encode("utf-16-le")).decode()
    rc, _, stderr = client.exec_command(command, in_data=b"{}")
    assert rc == 1 and b"not the collection's canonical bootstrap" in stderr


def test_unknown_operation_is_refused(client):
    rc, _, stderr = client.exec_command(_host_call.bootstrap_command(),
                                        in_data=_raw_request("Format-Disk", "Format-Disk"))
    assert rc == 1 and b"unknown host operation 'Format-Disk'" in stderr


def test_generic_connection_checks_are_answered(client):
    assert client.exec_command("hostname")[1].strip() == b"EX19B"
    assert client.exec_command("echo lab-ok")[1].strip() == b"lab-ok"
    assert client.exec_command("exit 7")[0] == 7
    rc, _, stderr = client.exec_command("del /s /q C:\\")
    assert rc == 1 and b"LAB REFUSED" in stderr


def test_invalid_json_on_stdin_fails_like_the_real_bootstrap(client):
    rc, stdout, _ = client.exec_command(_host_call.bootstrap_command(), in_data=b"{not json")
    with pytest.raises(_host_call.HostCallError) as caught:
        _host_call.parse_result("Get-HostIdentity", rc, stdout, b"")
    assert caught.value.kind == "operation" and "Invalid JSON" in str(caught.value)


def test_overlong_command_line_fails_as_on_windows(client):
    rc, _, stderr = client.exec_command("echo " + "x" * 9000)
    assert rc == 1 and b"too long" in stderr


@pytest.mark.parametrize("stdout, expected", [
    (b"not json at all", "did not return JSON"),
    (b'{"ok": tru', "did not return JSON"),
    (b"[1, 2]", "returned a JSON list"),
    (b'{"ok": "yes"}', "expected a bool"),
    (b'{"changed": false}', "no 'ok' field"),
    (b'{"ok": true, "data": [1]}', "expected an object"),
])
def test_malformed_answers_become_clear_errors(stdout, expected):
    with pytest.raises(_host_call.HostCallError) as caught:
        _host_call.parse_result("Get-HostIdentity", 0, stdout, b"")
    assert caught.value.kind == "malformed"
    assert expected in str(caught.value) and "Get-HostIdentity" in str(caught.value)


def test_huge_answer_is_refused_without_parsing():
    with pytest.raises(_host_call.HostCallError, match="more than the"):
        _host_call.parse_result("Get-HostIdentity", 0, b" " * (_host_call.MAX_RESULT_BYTES + 1), b"")
