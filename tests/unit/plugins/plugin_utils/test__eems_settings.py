"""EEMS desired state: validation, blocked-list set semantics, the difference, stale evidence."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_settings import (
    LEGACY_BLOCKED_DEPRECATION, EemsSettingsError, blocked_after, blocked_change, check_is_due, desired_settings,
    diff_for, legacy_blocked_args, plan_changes, stale_disabled_notice)


@pytest.mark.parametrize("current, wanted, mode, expected", [
    ([], ["M1.1"], "add", ["M1.1"]),
    (["M2.1.0"], ["M1.1"], "add", ["M2.1.0", "M1.1"]),            # someone else's block survives
    (["m1.1"], ["M1.1"], "add", ["m1.1"]),                          # case-insensitive, keeps spelling
    (["M2.1.0", "M1.1"], ["M1.1"], "remove", ["M2.1.0"]),
    (["M2.1.0"], ["M1.1"], "remove", ["M2.1.0"]),                   # removing what is absent changes nothing
    (["M2.1.0", "PING1"], ["M1.1", "PING1"], "set", ["PING1", "M1.1"]),
    (["M2.1.0"], [], "set", []),                                    # set [] clears
    (["M1.1", "M1.1"], ["PING1"], "add", ["M1.1", "PING1"]),
])
def test_blocked_list_is_a_set(current, wanted, mode, expected):
    assert blocked_after(current, blocked_change({mode: wanted})) == expected


def test_add_and_remove_go_together_and_set_stands_alone():
    assert blocked_after(["M2.1.0", "PING1"], blocked_change({"add": ["M1.1"], "remove": ["ping1"]})) == \
        ["M2.1.0", "M1.1"]
    assert blocked_change({"add": None, "remove": None, "set": None}) is None     # nothing managed
    assert blocked_change({"add": [], "remove": []}) is None
    assert blocked_change({"set": []}) == {"set": [], "add": [], "remove": []}     # but set [] clears
    with pytest.raises(EemsSettingsError, match="set gives the whole list; it cannot be combined"):
        blocked_change({"set": ["M1.1"], "add": ["PING1"]})
    with pytest.raises(EemsSettingsError, match="adds and removes m1.1 at once"):
        blocked_change({"add": ["M1.1"], "remove": ["m1.1"]})


@pytest.mark.parametrize("args, converted", [
    ({"mitigations_blocked": ["M1.1"]}, {"mitigations_blocked": {"add": ["M1.1"]}}),
    ({"mitigations_blocked": ["M1.1"], "mitigations_blocked_mode": "remove"}, {"mitigations_blocked": {"remove": ["M1.1"]}}),
    ({"mitigations_blocked": [], "mitigations_blocked_mode": "exact"}, {"mitigations_blocked": {"set": []}}),
    ({"mitigations_blocked_mode": "add", "verify": True}, {"verify": True}),
])
def test_the_pre_1_0_list_and_mode_still_work_with_a_deprecation(args, converted):
    assert legacy_blocked_args(args) == (converted, LEGACY_BLOCKED_DEPRECATION)


def test_the_current_form_is_left_as_it_is_and_a_mode_that_never_existed_is_refused():
    args = {"mitigations_blocked": {"set": ["M1.1"]}}
    assert legacy_blocked_args(args) == (args, None)
    with pytest.raises(EemsSettingsError, match="must be one of add, remove, exact, got 'replace'"):
        legacy_blocked_args({"mitigations_blocked": ["M1.1"], "mitigations_blocked_mode": "replace"})


@pytest.mark.parametrize("args, message", [
    ({"mitigations_blocked": {"add": ["M1.1", "M1;rm"]}}, "mitigations_blocked.add holds 'M1;rm'"),
    ({"mitigations_blocked": {"set": [""]}}, "does not look like mitigation IDs"),
    ({"mitigations_blocked": {"replace": ["M1.1"]}}, "takes add, remove and set; replace is not one"),
    ({"internet_web_proxy": "proxy:8080"}, "is not an http(s) URL"),
    ({"service_running": False}, "service_running=false is not supported"),
])
def test_bad_input_says_how_to_fix_it(args, message):
    with pytest.raises(EemsSettingsError, match=None) as caught:
        desired_settings(args)
    assert message in str(caught.value)


def _state(**exchange):
    base = {"organization_name": "Contoso", "organization_mitigations_enabled": True,
            "server_mitigations_enabled": True, "mitigations_blocked": [], "mitigations_applied": ["PING1"],
            "data_collection_enabled": False, "internet_web_proxy": ""}
    base.update(exchange)
    return {"setup": {"exsetup_version": "15.02.2562.053"}, "setup_watermark": None,
            "services": [{"name": "MSExchangeMitigation", "start_mode": "Automatic", "state": "Running"}],
            "mitigation_events": [], "ems": {"available": True}, "exchange": base}


def _desired(**args):
    return desired_settings(args)


@pytest.mark.parametrize("state, args, changes", [
    (_state(), {"organization_mitigations_enabled": True, "mitigations_enabled": True}, []),
    (_state(organization_mitigations_enabled=False), {"organization_mitigations_enabled": True},
     [("organization", "MitigationsEnabled", False, True)]),
    (_state(server_mitigations_enabled=False), {"mitigations_enabled": True},
     [("server", "MitigationsEnabled", False, True)]),
    (_state(mitigations_blocked=["M2.1.0"]), {"mitigations_blocked": {"add": ["M1.1"]}},
     [("server", "MitigationsBlocked", ["M2.1.0"], ["M2.1.0", "M1.1"])]),
    (_state(mitigations_blocked=["M1.1", "M2.1.0"]), {"mitigations_blocked": {"set": ["m2.1.0", "M1.1"]}}, []),
    (_state(), {"data_collection_enabled": True}, [("server", "DataCollectionEnabled", False, True)]),
    (_state(internet_web_proxy="http://p:8080"), {"internet_web_proxy": "http://p:8080/"}, []),
    (_state(internet_web_proxy="http://p:8080/"), {"internet_web_proxy": ""},
     [("server", "InternetWebProxy", "http://p:8080/", "")]),
    (dict(_state(), services=[{"name": "MSExchangeMitigation", "start_mode": "Disabled", "state": "Stopped"}]),
     {"service_running": True},
     [("service", "StartType", "Disabled", "Automatic"), ("service", "Status", "Stopped", "Running")]),
    # Nothing asked for: a read.
    (_state(organization_mitigations_enabled=False), {}, []),
])
def test_only_differences_become_changes(state, args, changes):
    plan = plan_changes(state, _desired(**args))
    assert [(c["scope"], c["setting"], c["before"], c["after"]) for c in plan["changes"]] == changes
    assert bool(plan["organization"]) == any(c[0] == "organization" for c in changes)


def test_no_mitigation_service_means_nothing_is_touched():
    state = dict(_state(), services=[], setup={"exsetup_version": "15.00.1497.048"})
    plan = plan_changes(state, _desired(mitigations_enabled=False, service_running=True))
    assert plan["changes"] == [] and plan["left_alone"][0]["setting"] == "all"


def test_unfinished_setup_keeps_the_service_alone_but_sets_flags():
    state = dict(_state(server_mitigations_enabled=False), setup_watermark="MailboxRole: ServiceControlTask",
                 services=[{"name": "MSExchangeMitigation", "start_mode": "Disabled", "state": "Stopped"}])
    plan = plan_changes(state, _desired(mitigations_enabled=True, service_running=True))
    assert plan["service"] is None and plan["server"] == {"mitigations_enabled": True}
    assert "finish Setup" in plan["left_alone"][0]["reason"]


def test_settings_cannot_be_changed_without_exchange_cmdlets():
    state = dict(_state(), exchange=None, ems={"available": False, "error": "0x80090311 no logon servers"})
    with pytest.raises(EemsSettingsError, match="0x80090311.*ems_username"):
        plan_changes(state, _desired(mitigations_enabled=True))
    # The service alone needs no Exchange cmdlets.
    assert plan_changes(state, _desired(service_running=True))["changes"] == []


def test_diff_comes_from_the_changes():
    state = _state(mitigations_blocked=["M2.1.0"])
    plan = plan_changes(state, _desired(mitigations_blocked={"add": ["M1.1"]}))
    diff = diff_for(state, plan["changes"])
    assert diff["before"]["server"]["MitigationsBlocked"] == ["M2.1.0"]
    assert diff["after"]["server"]["MitigationsBlocked"] == ["M2.1.0", "M1.1"]
    assert diff["before"]["organization"] == diff["after"]["organization"]


_DISABLED_NOTICE = {"id": 1005, "time": "t", "message": "Mitigation Service is disabled by configuration "
                                                        "(organization: False, server: True)."}


@pytest.mark.parametrize("state, verdict, classification, due", [
    (_state(), {"cause": "build_before_march_2023"}, {"eems_fetch_ok": True}, True),    # patched since
    (_state(), {"cause": "build_before_march_2023"}, {"eems_fetch_ok": False}, False),  # still old
    (_state(), {"cause": "build_before_june_2026"}, {"eems_2026_ok": True}, True),
    (_state(), {"cause": "build_before_june_2026"}, {"eems_2026_ok": False}, False),
    (_state(), {"cause": "tls_inspecting_proxy"}, {"eems_fetch_ok": True}, False),
    # The bare published fetch failure on a build that now meets March 2023: maybe stale, check again.
    (_state(), {"cause": "fetch_failed"}, {"eems_fetch_ok": True}, True),
    (dict(_state(), mitigation_events=[_DISABLED_NOTICE]), {"cause": None}, {}, True),   # switched on since
    (dict(_state(organization_mitigations_enabled=False), mitigation_events=[_DISABLED_NOTICE]),
     {"cause": "disabled_at_organization"}, {}, False),
])
def test_stale_evidence_makes_a_check_due(state, verdict, classification, due):
    assert check_is_due(state, verdict, classification) is due
    assert stale_disabled_notice(state) is (due and verdict["cause"] is None)
