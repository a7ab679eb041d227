"""The lab answers in the value forms real servers give.

tests/lab/data/exchange_value_forms.yml records, per product line, the form
of every property our host scripts read, from CSS-Exchange's exports of real
Exchange 2013/2016/2019 servers.  Where a script passes a value through
(its text, a flag that older builds lack, a list that is Nil when empty),
the lab's answer must have the form the script would produce from that real
value; these tests hold the lab to the table, through real WinRM.
"""
from __future__ import annotations

import re

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_call
from lab import value_forms
from lab.client import WinRMClient

# One lab server per product line of the table.
SERVERS = {"2013": "EX13A", "2016": "EX16A", "2019": "EX19B"}
EXS = "Get-ExchangeServer"
ORG = "Get-OrganizationConfig"


def _digits_shape(text, keep_width=False):
    """A pattern with the text's shape: every run of digits a number (of the
    same width when ``keep_width``), everything else literal."""
    parts = re.split(r"(\d+)", text)
    return "^" + "".join((r"\d{%d}" % len(p) if keep_width else r"\d+") if p.isdigit() else re.escape(p)
                         for p in parts) + "$"


def _site_shape(text):
    # "<domain>/Configuration/Sites/<site>": ADObjectId's canonical text.
    first, *middle, _last = text.split("/")
    return "^[^/]+/" + "/".join(re.escape(m) for m in middle) + "/[^/]+$"


def check(value, kind, entry):
    """None when ``value`` (the lab's answer) is what the script makes of the
    real value described by ``entry``; else the reason it is not."""
    form = entry["form"]
    if kind == "flag":
        if form == "absent":
            return None if value is None else "the property is absent on this line, so the answer must be null"
        return None if isinstance(value, bool) else "expected true/false, got %r" % (value,)
    if kind == "list":
        if form == "absent":
            return None if value is None else "the property is absent on this line, so the answer must be null"
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return "expected a list of strings (Nil when empty becomes []), got %r" % (value,)
        return None
    if kind == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else "expected an integer"
    if kind in ("text", "site", "padded"):
        real = entry.get("text", entry.get("value"))
        if form == "nil":
            return None if value == "" else "Nil becomes '' through [string], got %r" % (value,)
        shape = {"text": _digits_shape, "site": _site_shape,
                 "padded": lambda t: _digits_shape(t, keep_width=True)}[kind](real)
        if not isinstance(value, str) or not re.match(shape, value):
            return "expected the real text form like %r, got %r" % (real, value)
        return None
    if kind == "roles":
        if not isinstance(value, list) or not value or any("," in r or r != r.strip() for r in value):
            return "ServerRole's text %r is split into role names; got %r" % (entry.get("text"), value)
        return None
    raise AssertionError(kind)


# answer path -> (cmdlet, property, kind)
FACTS_FIELDS = {
    ("exchange", "admin_display_version"): (EXS, "AdminDisplayVersion", "text"),
    ("exchange", "site"): (EXS, "Site", "site"),
    ("exchange", "roles"): (EXS, "ServerRole", "roles"),
    ("exchange", "internet_web_proxy"): (EXS, "InternetWebProxy", "text"),
    ("exchange", "server_mitigations_enabled"): (EXS, "MitigationsEnabled", "flag"),
    ("exchange", "mitigations_blocked"): (EXS, "MitigationsBlocked", "list"),
    ("exchange", "mitigations_applied"): (EXS, "MitigationsApplied", "list"),
    ("exchange", "data_collection_enabled"): (EXS, "DataCollectionEnabled", "flag"),
    ("exchange", "organization_mitigations_enabled"): (ORG, "MitigationsEnabled", "flag"),
    ("setup", "exsetup_version"): ("ExSetup.exe VersionInfo", "FileVersion", "padded"),
}
EEMS_STATE_FIELDS = {
    ("exchange", "server_mitigations_enabled"): (EXS, "MitigationsEnabled", "flag"),
    ("exchange", "mitigations_blocked"): (EXS, "MitigationsBlocked", "list"),
    ("exchange", "mitigations_applied"): (EXS, "MitigationsApplied", "list"),
    ("exchange", "data_collection_enabled"): (EXS, "DataCollectionEnabled", "flag"),
    ("exchange", "organization_mitigations_enabled"): (ORG, "MitigationsEnabled", "flag"),
    ("setup", "exsetup_version"): ("ExSetup.exe VersionInfo", "FileVersion", "padded"),
}
AD_PREP_FIELDS = {
    ("organization_version",): (ORG, "ObjectVersion", "int"),
}


def _lookup(data, path):
    for key in path:
        data = data[key]
    return data


def _problems(answer, fields, line):
    found = []
    for path, (cmdlet, prop, kind) in fields.items():
        problem = check(_lookup(answer, path), kind, value_forms.form(cmdlet, prop, line))
        if problem:
            found.append("%s (%s %s on %s): %s" % (".".join(path), cmdlet, prop, line, problem))
    return found


@pytest.fixture(scope="module")
def answers(default_lab):
    """Every line's answers, one WinRM connection per server."""
    credential = default_lab.state.data["lab"]["credential"]
    ems = {"mode": "remote", "username": credential["username"], "password": credential["password"]}
    result = {}
    for line, name in SERVERS.items():
        client = WinRMClient.for_lab(default_lab, name)
        try:
            result[line] = {op: _host_call.run_host_operation(client, op, {"ems": ems})["data"]
                            for op in ("Get-ExchangeFacts", "Get-EemsState", "Get-ActiveDirectoryPrepState")}
        finally:
            client.close()
    return result


@pytest.mark.parametrize("line", sorted(SERVERS))
def test_exchange_facts_answer_in_the_real_forms_of_the_line(answers, line):
    assert answers[line]["Get-ExchangeFacts"]["ems"]["available"]
    assert _problems(answers[line]["Get-ExchangeFacts"], FACTS_FIELDS, line) == []


@pytest.mark.parametrize("line", sorted(SERVERS))
def test_eems_state_answers_in_the_real_forms_of_the_line(answers, line):
    assert _problems(answers[line]["Get-EemsState"], EEMS_STATE_FIELDS, line) == []


@pytest.mark.parametrize("line", sorted(SERVERS))
def test_ad_prep_state_answers_real_object_versions_and_no_schema_level(answers, line):
    data = answers[line]["Get-ActiveDirectoryPrepState"]
    assert _problems(data, AD_PREP_FIELDS, line) == []
    # A real value for the newest CU of the organisation, never a stand-in.
    assert data["organization_version"] in value_forms.table()["lab"]["organization_object_version"]["by_cu"].values()
    # Not readable over EMS: said so, not made up.
    assert data["schema_version"] is None and "second hop" in data["unreadable"]["schema_version"]
    # ConvertTo-VersionText's dotted form of AdminDisplayVersion.
    assert all(re.match(r"^15\.[0-2]\.\d+\.\d+$", s["build"]) for s in data["servers"])


def test_a_2013_server_answers_null_for_every_eems_property(answers):
    exchange = answers["2013"]["Get-ExchangeFacts"]["exchange"]
    assert [exchange[k] for k in ("server_mitigations_enabled", "mitigations_blocked", "mitigations_applied",
                                  "data_collection_enabled", "organization_mitigations_enabled")] == [None] * 5


def test_check_refuses_the_forms_real_servers_do_not_give():
    absent = {"form": "absent"}
    assert check(True, "flag", absent)  # 2013 has no MitigationsEnabled
    assert check([], "list", absent)
    assert check([None], "list", {"form": "nil"})  # @($null) is not an empty list
    adv = value_forms.form(EXS, "AdminDisplayVersion", "2019")
    assert check("15.2.986.5", "text", adv) and not check("Version 15.2 (Build 1544.4)", "text", adv)
    exsetup = value_forms.form("ExSetup.exe VersionInfo", "FileVersion", "2019")
    assert check("15.2.986.5", "padded", exsetup) and not check("15.02.1544.039", "padded", exsetup)


def test_ad_prep_answer_keeps_what_update_install_decides_on(answers):
    from ansible_collections.onprem.exchange.plugins.plugin_utils._install_judge import ad_prep_needed

    data = answers["2019"]["Get-ActiveDirectoryPrepState"]
    builds = [s["build"] for s in data["servers"]]
    assert data["organization"] == "Contoso"
    # Contoso already runs 2019 CU15 and SE RTM: neither needs AD prep again.
    assert not ad_prep_needed("15.2.1748.10", builds) and not ad_prep_needed("15.2.2562.17", builds)
    # A CU newer than every server of the organisation does.
    assert ad_prep_needed("15.2.9999.1", builds)
