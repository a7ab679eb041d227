"""Shared host functions: declared in a header line, composed on the controller."""
from __future__ import annotations

import os
import re

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_call


def _operations():
    return sorted(entry[:-4] for entry in os.listdir(_host_call.SCRIPT_DIR) if entry.endswith(".ps1"))


def _functions():
    return sorted(entry[:-4] for entry in os.listdir(_host_call.FUNCTION_DIR) if entry.endswith(".ps1"))


def test_each_function_file_defines_exactly_the_function_it_is_named_after():
    for name in _functions():
        text = _host_call._read_ps1(_host_call.FUNCTION_DIR, name)
        assert re.findall(r"^function (\S+) \{", text, re.M) == [name]


def test_no_operation_defines_a_shared_function_itself():
    shared = set(_functions())
    for name in _operations():
        text = _host_call._read_ps1(_host_call.SCRIPT_DIR, name)
        own = set(re.findall(r"^function (\S+) \{", text, re.M))
        assert not own & shared, "%s defines %s; declare it with '# Uses:' instead" % (name, own & shared)


def test_every_shared_function_called_is_declared():
    shared = set(_functions())
    for name in _operations() + _functions():
        directory = _host_call.FUNCTION_DIR if name in shared else _host_call.SCRIPT_DIR
        text = _host_call._read_ps1(directory, name)
        code = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
        called = {fn for fn in shared - {name} if re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(fn), code)}
        composed = {pair[0] for pair in _host_call.required_functions(text)}
        assert called <= composed, "%s calls %s without declaring it" % (name, called - composed)


def test_functions_follow_their_own_declarations_and_come_after_param():
    text = _host_call.load_script("Get-MaintenanceState")
    lines = text.splitlines()
    param_at = next(i for i, line in enumerate(lines) if line.startswith("param("))
    session_at = lines.index("function Open-ExchangeSession {")
    # Open-ExchangeSession itself declares Get-PropertyValue.
    property_at = lines.index("function Get-PropertyValue {")
    assert param_at < property_at and param_at < session_at
    assert text.count("function Get-PropertyValue {") == 1


def test_composition_is_constant_per_operation():
    for name in _operations():
        assert _host_call.load_script(name) == _host_call.load_script(name)


def test_an_undeclared_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(_host_call, "FUNCTION_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="Get-Nothing is declared but"):
        _host_call.compose_script("# Uses: Get-Nothing\nparam($HostArgs)\n1")


def test_a_name_that_could_be_a_path_is_refused():
    with pytest.raises(ValueError, match="invalid shared function name"):
        _host_call.compose_script("# Uses: ..\\Evil\nparam($HostArgs)")


def test_a_script_without_uses_is_sent_as_it_is():
    assert _host_call.compose_script("param($HostArgs)\n@{ changed = $false }") == "param($HostArgs)\n@{ changed = $false }"
