"""Table-driven tests for the mitigation judge and planner (no host, no Ansible)."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _mitigations as mit
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import load_catalog

DATA = mit.load_definitions()
APPS = ["/Autodiscover", "/PowerShell", "/owa", "/ecp", "/EWS", "/mapi"]


def _rule(name="PowerShell - inbound", url=".*", input="{UrlDecode:{REQUEST_URI}}",
          pattern="(?=.*autodiscover)(?=.*powershell)", action="AbortRequest", enabled=True, syntax="ECMAScript"):
    return {"entry": "rule", "name": name, "enabled": enabled, "pattern_syntax": syntax, "stop_processing": True,
            "match": {"url": url}, "logical_grouping": "MatchAll",
            "conditions": [{"input": input, "pattern": pattern, "ignore_case": True, "negate": False}],
            "action": {"type": action, "value": ""}, "precondition": ""}


def _config(site=(), **children):
    locations = {"": {"inbound": list(site), "outbound": [], "preconditions": []}}
    for path, entries in children.items():
        locations["/" + path] = {"inbound": list(entries), "outbound": [], "preconditions": []}
    return {"site": "Default Web Site", "applications": APPS, "locations": locations}


PNS = mit.select(DATA, "CVE-2022-41040")[0]


def test_definitions_cover_the_three_known_mitigations():
    assert [(d["name"], d["cve"]) for d in DATA["mitigations"]] == [
        ("proxynotshell", "CVE-2022-41040"), ("proxylogon", "CVE-2021-26855"), ("owa_csp", "CVE-2026-42897")]
    assert [len(d["rules"]) for d in DATA["mitigations"]] == [1, 2, 1]


@pytest.mark.parametrize("name, expected", [
    ("CVE-2022-41040", ["proxynotshell"]), ("cve-2022-41082", ["proxynotshell"]), ("ProxyLogon", ["proxylogon"]),
    ("all", ["proxynotshell", "proxylogon", "owa_csp"]),
])
def test_select_by_name_cve_or_all(name, expected):
    assert [d["name"] for d in mit.select(DATA, name)] == expected


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(mit.MitigationError, match=r"unknown mitigation 'nope'; known: proxynotshell \(CVE-2022-41040\)"):
        mit.select(DATA, "nope")


@pytest.mark.parametrize("bad, message", [
    ({}, "expected a mapping with a 'mitigations' list"),
    ({"mitigations": [{"name": "x", "cve": "CVE-1", "title": "t"}]}, "needs 'rules'"),
    ({"mitigations": [{"name": "x", "cve": "CVE-1", "title": "t", "rules": [{"key": "k"}]}]}, "rule needs 'name'"),
])
def test_bad_definitions_are_refused_with_the_place(bad, message):
    with pytest.raises(mit.MitigationError, match=message):
        mit.parse_definitions(bad)


@pytest.mark.parametrize("entry, reasons", [
    (_rule(), []),
    (_rule(name="EEMS M1.1 PowerShell - inbound"), []),
    (_rule(action="CustomResponse"), []),
    (_rule(url="*"), ["match_url_star"]),
    (_rule(input="{REQUEST_URI}"), ["input_superseded"]),
    (_rule(input="{UrlDecode: {REQUEST_URI}}"), ["input_superseded"]),
    (_rule(pattern=".*autodiscover\\.json.*Powershell.*"), ["pattern_superseded"]),
    (_rule(pattern="(?=.*autodiscover\\.json)(?=.*powershell)"), ["pattern_superseded"]),
    (_rule(enabled=False), ["disabled"]),
    (_rule(syntax="Wildcard"), ["wildcard_syntax"]),
    (_rule(action="Rewrite"), ["action_differs"]),
])
def test_behaviour_decides_equivalence(entry, reasons):
    spec = PNS["rules"][0]
    assert mit.related(PNS, spec, entry)
    assert mit.problems(_config([entry]), "", spec, entry) == reasons


def test_an_unrelated_rule_is_not_claimed():
    other = _rule(name="Redirect to HTTPS", pattern="off", input="{HTTPS}")
    assert not mit.related(PNS, PNS["rules"][0], other)


@pytest.mark.parametrize("children, present, finding", [
    ({}, True, None),
    ({"Autodiscover": [{"entry": "remove", "name": "PowerShell - inbound"}]}, False, "removed_below_site"),
    ({"PowerShell": [{"entry": "clear"}]}, False, "removed_below_site"),
    ({"PowerShell": [{"entry": "clear"}, _rule(name="again")]}, True, None),
    ({"owa": [{"entry": "clear"}]}, True, None),  # /owa is not a path this rule must protect
])
def test_remove_and_clear_below_the_site_are_seen(children, present, finding):
    assessment = mit.assess(DATA, PNS, _config([_rule()], **children))
    assert assessment["present"] is present
    assert [f["id"] for f in assessment["findings"]] == ([finding] if finding else [])


@pytest.mark.parametrize("site, children, repair, ops", [
    ([], {}, False, ["add_rule"]),
    ([_rule()], {}, True, []),
    ([_rule(input="{REQUEST_URI}")], {}, False, ["add_rule"]),
    ([_rule(input="{REQUEST_URI}")], {}, True, ["add_rule", "remove_rule"]),
    ([_rule(), _rule(name="copy")], {}, True, ["remove_rule"]),
    ([_rule()], {"Autodiscover": [{"entry": "remove", "name": "PowerShell - inbound"}]}, False, ["delete_entry"]),
    ([_rule()], {"PowerShell": [{"entry": "clear"}]}, False, ["add_rule"]),
])
def test_present_plans_the_smallest_change_and_then_nothing(site, children, repair, ops):
    config = _config(site, **children)
    planned = mit.plan(DATA, [PNS], config, "present", repair=repair)
    assert [c["op"] for c in planned["changes"]] == ops
    assert mit.plan(DATA, [PNS], planned["after"], "present", repair=repair)["changes"] == []
    assert mit.assess(DATA, PNS, planned["after"])["present"]


def test_duplicates_keep_the_eems_rule_so_nothing_needs_blocking():
    config = _config([_rule(), _rule(name="EEMS M1.1 PowerShell - inbound")])
    planned = mit.plan(DATA, [PNS], config, "present", repair=True)
    assert [(c["op"], c["name"]) for c in planned["changes"]] == [("remove_rule", "PowerShell - inbound")]
    assert planned["eems_block"] == []


def test_absent_removes_every_related_rule_and_blocks_eems_ones():
    config = _config([_rule(name="EEMS M1.1 PowerShell - inbound"), _rule(url="*", name="ZeroDay_Mitigation"),
                      _rule(name="Redirect", input="{HTTPS}", pattern="off")])
    planned = mit.plan(DATA, [PNS], config, "absent")
    assert [c["name"] for c in planned["changes"]] == ["EEMS M1.1 PowerShell - inbound", "ZeroDay_Mitigation"]
    assert planned["eems_block"] == ["M1.1"]
    assert [r["name"] for r in planned["after"]["locations"][""]["inbound"]] == ["Redirect"]
    assert config["locations"][""]["inbound"][0]["name"] == "EEMS M1.1 PowerShell - inbound"  # input untouched


def test_owa_csp_absent_also_removes_its_unused_precondition():
    csp = mit.select(DATA, "owa_csp")[0]
    after = mit.plan(DATA, [csp], _config(), "present")["after"]
    assert [p["name"] for p in after["locations"]["/owa"]["preconditions"]] == [
        "onprem.exchange OWA SPA HTML shell - precondition"]
    removed = mit.plan(DATA, [csp], after, "absent")["after"]
    assert removed["locations"]["/owa"] == {"inbound": [], "outbound": [], "preconditions": []}


def test_an_outbound_rule_without_its_precondition_is_not_equivalent():
    csp = mit.select(DATA, "owa_csp")[0]
    spec = csp["rules"][0]
    rule = mit.canonical_rule(spec)
    config = _config()
    config["locations"]["/owa"] = {"inbound": [], "outbound": [rule], "preconditions": []}
    assert mit.problems(config, "/owa", spec, rule) == ["precondition_differs"]


@pytest.mark.parametrize("build, expected", [
    ("15.2.1118.7", [False, True, False]),
    ("15.2.792.3", [False, False, False]),
    ("15.1.2507.17", [True, True, False]),
    ("15.2.2562.53", [True, True, True]),
])
def test_code_fix_comes_from_the_catalog(build, expected):
    catalog = load_catalog()
    assert [mit.code_fix_status(d, build, catalog) for d in DATA["mitigations"]] == expected


def test_fixed_builds_in_the_data_win_over_the_catalog():
    definition = dict(copy.deepcopy(PNS), fixed_builds={"15.2": "15.2.1118.20"})
    assert mit.code_fix_status(definition, "15.2.1118.20", None) is True
    assert mit.code_fix_status(definition, "15.2.1118.15", None) is False
    assert mit.code_fix_status(definition, "15.1.2507.17", None) is None


@pytest.mark.parametrize("state, fix, expected", [
    ("auto", True, "absent"), ("auto", False, "present"), ("auto", None, "present"),
    ("present", True, "present"), ("absent", False, "absent"),
])
def test_auto_follows_the_code_fix(state, fix, expected):
    assert mit.resolve_state(state, fix) == expected


def test_dangerous_rules_are_reported_whatever_they_are_for():
    config = _config([_rule(name="Some other rule", url="*", input="{HTTPS}", pattern="off"),
                      _rule(name="Wildcard ok", url="*", syntax="Wildcard", input="{HTTPS}", pattern="off")])
    assert [f["rule"] for f in mit.dangerous_rules(config)] == ["Some other rule"]


def test_apply_refuses_what_iis_refuses():
    config = _config([_rule()])
    with pytest.raises(mit.MitigationError, match="already exists"):
        mit.apply_changes(config, [{"op": "add_rule", "path": "", "collection": "inbound", "rule": _rule()}])
    with pytest.raises(mit.MitigationError, match="no rule 'x'"):
        mit.apply_changes(config, [{"op": "remove_rule", "path": "", "collection": "inbound", "name": "x"}])


def test_diff_shows_the_rule_level_change_escaped():
    before = _config([_rule(name='say "hi" <b>', url="*")])
    planned = mit.plan(DATA, [PNS], before, "present", repair=True)
    diff = mit.render_diff("Default Web Site", before, planned["after"], planned["changes"])
    assert [d["before_header"] for d in diff] == ["IIS:\\Sites\\Default Web Site"]
    assert """name='say "hi" &lt;b&gt;'""" in diff[0]["before"] and 'url="*"' in diff[0]["before"]
    assert 'name="onprem.exchange CVE-2022-41040 - inbound"' in diff[0]["after"] and "say" not in diff[0]["after"]


@pytest.mark.parametrize("version, ok", [("7.2.1993", True), ("7.2.2001", True), ("7.2.1952", False),
                                         ("7.1.761", False), (None, False)])
def test_url_rewrite_version_is_compared_as_a_whole(version, ok):
    assert mit.version_at_least(version, "7.2.1993") is ok


REWRITE_MINIMUMS = {"min_version": "7.2.1993", "min_file_version": "7.1.1993"}


@pytest.mark.parametrize("state, ok", [
    # URL Rewrite 2.1 as a real server reports it: product 7.2.1993, rewrite.dll 7.1.1993.2351.
    ({"installed": True, "product_version": "7.2.1993", "file_version": "7.1.1993.2351"}, True),
    # 2.1 without an Uninstall entry: only the DLL, compared with the DLL's own minimum.
    ({"installed": True, "product_version": None, "file_version": "7.1.1993.2351"}, True),
    # 2.0: product 7.2.1952, rewrite.dll 7.1.1952.0.
    ({"installed": True, "product_version": "7.2.1952", "file_version": "7.1.1952.0"}, False),
    ({"installed": True, "product_version": None, "file_version": "7.1.1952.0"}, False),
    # An Uninstall entry left behind without the module is not a module.
    ({"installed": False, "product_version": "7.2.1993", "file_version": None}, False),
    ({}, False),
])
def test_url_rewrite_versions_are_each_compared_with_their_own_minimum(state, ok):
    assert mit.url_rewrite_ready(state, REWRITE_MINIMUMS)[0] is ok


def test_the_shipped_data_compares_rewrite_dll_with_the_dll_numbering():
    minimums = DATA["url_rewrite"]
    assert (minimums["min_version"], minimums["min_file_version"]) == ("7.2.1993", "7.1.1993")
    assert mit.url_rewrite_ready({"installed": True, "file_version": "7.1.1993.2351"}, minimums) == \
        (True, "rewrite.dll version 7.1.1993.2351")


CSP = mit.select(DATA, "owa_csp")[0]


@pytest.mark.parametrize("state, fix, keep, expected", [
    ("auto", False, True, "present"), ("auto", None, True, "present"), ("auto", True, True, "keep"),
    ("auto", True, False, "absent"), ("absent", True, True, "absent"), ("present", True, False, "present")])
def test_auto_keeps_a_mitigation_microsoft_advises_keeping_after_the_fix(state, fix, keep, expected):
    assert mit.resolve_state(state, fix, keep) == expected


def test_only_the_owa_csp_mitigation_is_kept_after_its_fix_and_the_option_removes_it():
    assert [d["name"] for d in DATA["mitigations"] if mit.keeps_after_fix(d)] == ["owa_csp"]
    assert not mit.keeps_after_fix(CSP, remove_after_fix=True)


def test_keep_leaves_what_is_in_place_repairs_it_and_adds_nothing():
    empty = _config([])
    assert mit.plan(DATA, [CSP], empty, "keep", repair=True)["changes"] == []
    applied = mit.plan(DATA, [CSP], empty, "present")["after"]
    assert mit.plan(DATA, [CSP], applied, "keep", repair=True)["changes"] == []
    # A disabled copy is still the mitigation in place: kept, and put right.
    disabled = copy.deepcopy(applied)
    disabled["locations"]["/owa"]["outbound"][0]["enabled"] = False
    repaired = mit.plan(DATA, [CSP], disabled, "keep", repair=True)
    assert [c["op"] for c in repaired["changes"]] == ["remove_rule", "remove_precondition", "add_precondition",
                                                      "add_rule"]
    assert mit.assess(DATA, CSP, repaired["after"])["present"]


def _apphost(entry):
    return dict(entry, source="apphost")


def test_a_stale_rule_in_applicationhost_config_is_removed_there():
    # CSS-Exchange issue 2003: ZeroDay_Mitigation (url="*") under the Autodiscover <location>.
    stale = _apphost(_rule(name="ZeroDay_Mitigation", url="*", input="{REQUEST_URI}",
                           pattern=".*autodiscover\\.json.*\\@.*Powershell.*", action="CustomResponse"))
    config = _config([_rule()], Autodiscover=[stale])
    planned = mit.plan(DATA, [PNS], config, "present", repair=True)
    assert planned["changes"] == [{"op": "remove_rule", "path": "/Autodiscover", "collection": "inbound",
                                   "name": "ZeroDay_Mitigation", "owner": "manual", "config": "apphost"}]
    assert mit.describe_change("Default Web Site", planned["changes"][0]).endswith(
        "at Default Web Site/Autodiscover (in applicationHost.config) (made by manual)")
    assert mit.plan(DATA, [PNS], planned["after"], "present", repair=True)["changes"] == []


def test_a_remove_in_applicationhost_config_is_deleted_there_and_a_clear_there_is_answered_in_web_config():
    removed = _config([_rule()], Autodiscover=[_apphost({"entry": "remove", "name": "PowerShell - inbound"})])
    change = mit.plan(DATA, [PNS], removed, "present")["changes"]
    assert change == [{"op": "delete_entry", "path": "/Autodiscover", "collection": "inbound",
                       "name": "PowerShell - inbound", "config": "apphost"}]
    cleared = _config([_rule()], PowerShell=[_apphost({"entry": "clear"})])
    planned = mit.plan(DATA, [PNS], cleared, "present")
    assert [(c["op"], c["path"], c.get("config")) for c in planned["changes"]] == [("add_rule", "/PowerShell", None)]
    # web.config's entries come after applicationHost.config's: the added rule follows the <clear/>.
    entries = planned["after"]["locations"]["/PowerShell"]["inbound"]
    assert [e.get("entry", "rule") for e in entries] == ["clear", "rule"]
    assert mit.assess(DATA, PNS, planned["after"])["present"]


def test_nothing_is_ever_added_to_applicationhost_config():
    with pytest.raises(mit.MitigationError, match="web.config files only"):
        mit.apply_changes(_config([]), [{"op": "add_rule", "path": "", "collection": "inbound", "config": "apphost",
                                         "rule": mit.canonical_rule(PNS["rules"][0])}])


def test_a_server_level_applicationhost_entry_comes_first_and_is_removed_there():
    stale = dict(_rule(name="RequestBlockingRule1", url="*"), source="apphost-root")
    config = _config([stale, _rule()])
    planned = mit.plan(DATA, [PNS], config, "present", repair=True)
    assert [(c["op"], c["name"], c.get("config")) for c in planned["changes"]] == \
        [("remove_rule", "RequestBlockingRule1", "apphost-root")]
    # A rule added to the site's web.config goes after every applicationHost.config entry.
    added = mit.apply_changes(_config([dict(_rule(name="other", pattern="x"), source="apphost-root")]), [
        {"op": "add_rule", "path": "", "collection": "inbound", "rule": mit.canonical_rule(PNS["rules"][0])}])
    assert [mit.source_of(e) for e in added["locations"][""]["inbound"]] == ["apphost-root", "web.config"]
