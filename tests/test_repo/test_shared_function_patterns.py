"""The text patterns of the shared host functions, run against the real
texts of tests/lab/data/exchange_value_forms.yml.

No PowerShell runs here, but the patterns the helpers match with (-match is
a case-insensitive .NET regex; these use only syntax .NET and Python share)
can be held to the text forms real servers give, taken from CSS-Exchange's
exports: what the helpers make of a value that arrives as text only.
"""
from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_call

TABLE = os.path.join(os.path.dirname(__file__), "..", "lab", "data", "exchange_value_forms.yml")
LINES = ("2013", "2016", "2019")


def _table():
    with open(TABLE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _form(cmdlet, prop, line):
    return _table()["cmdlets"][cmdlet]["properties"][prop][line]


def _patterns(function):
    """The regexes a shared function matches with, in file order."""
    with open(os.path.join(_host_call.FUNCTION_DIR, function + ".ps1"), encoding="utf-8") as handle:
        text = handle.read()
    return [re.compile(p, re.I) for p in re.findall(r"-match\s+'([^']+)'", text)]


@pytest.mark.parametrize("line", LINES)
def test_version_text_gives_the_build_the_exports_show(line):
    text = _form("Get-ExchangeServer", "AdminDisplayVersion", line)["text"]
    admin_display, dotted = _patterns("ConvertTo-VersionText")
    match = admin_display.search(text)
    assert match, text
    exsetup = _form("ExSetup.exe VersionInfo", "FileVersion", line)["value"]
    assert [int(g) for g in match.groups()] == [int(p) for p in exsetup.split(".")]
    # Already dotted text passes through; the text form does not.
    assert dotted.search("15.2.986.5") and not dotted.search(text)


@pytest.mark.parametrize("line", ("2016", "2019"))
def test_requester_detail_text_gives_requester_and_state(line):
    item = _form("Get-ServerComponentState", "LocalStates", line)["item"]
    requester, state = _patterns("ConvertFrom-RequesterDetail")
    assert requester.search(item["text"]).group(1).strip() == "Functional"
    assert state.search(item["text"]).group(2).strip() == "Active"
    # The object form carries the same facts as properties.
    assert {"Requester", "State"} <= set(item["properties"])


def test_a_2013_requester_detail_text_gives_nothing_and_its_properties_are_read():
    item = _form("Get-ServerComponentState", "LocalStates", "2013")["item"]
    requester, state = _patterns("ConvertFrom-RequesterDetail")
    # 2013's text is only the type name: no made-up requester from it.
    assert not requester.search(item["text"]) and not state.search(item["text"])
    assert {"Requester", "State"} <= set(item["properties"])


@pytest.mark.parametrize("line", LINES)
def test_identity_text_forms_give_the_short_name(line):
    (distinguished,) = _patterns("Get-IdentityName")
    site = _form("Get-ExchangeServer", "Site", line)
    # Canonical text: the part after the last '/', as the function cuts it.
    assert site["text"].rsplit("/", 1)[1] == "Default-First-Site-Name"
    assert distinguished.search("CN=EX01,CN=Servers,CN=Exchange Administrative Group").group(1) == "EX01"
    assert not distinguished.search(site["text"])
