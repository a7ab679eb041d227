"""Bounds on controller paths and on values sent to hosts."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _bounds


@pytest.mark.parametrize("value, expected", [
    ("C:\\ExchangeUpdates", None),
    ("C:\\Ex\x00x", "staging_dir contains a NUL byte (at character 6)"),
    ("C:\\Ex\nx", "staging_dir contains the control character U+000A (at character 6)"),
    ("C:\\" + "x" * 300, "staging_dir is 303 characters long, more than the 248 allowed"),
    (None, None),
])
def test_text_problem(value, expected):
    problem = _bounds.text_problem(value, "staging_dir", max_length=_bounds.MAX_WINDOWS_FOLDER)
    assert (problem if expected is None else problem.startswith(expected)) or problem == expected, problem


@pytest.mark.parametrize("value, expected", [
    ("/srv/reports", None),
    ("/srv/line\nbreak", None),  # legal in a Linux file name; used as it is
    ("/srv/r\x00x", "dest contains a NUL byte"),
    ("/srv/" + "a" * 256, "dest has a folder name of 256 bytes"),
    ("/" + "/".join(["a" * 200] * 25), "dest is 5025 characters long"),
])
def test_controller_path_problem(value, expected):
    problem = _bounds.controller_path_problem(value, "dest")
    assert problem == expected or problem.startswith(expected), problem


def test_host_argument_problem_names_the_argument_never_the_value():
    args = {"ems": {"username": "u", "password": "sec\x00ret"}, "files": ["a", "b"]}
    assert _bounds.host_argument_problem(args) == "ems.password contains a NUL byte"
    assert _bounds.host_argument_problem({"files": ["a", "x" * 70000]}) == \
        "files[1] is 70000 characters long, more than the 65536 allowed"
    assert _bounds.host_argument_problem({"n": 1, "ok": [True, None, "fine"]}) is None
