"""The decisions of one eems task, without a host: when a check is forced, the verdict, the organisation entry."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _eems_task as decide
from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_settings import EemsSettingsError


def _state(running=True, org=True, server=True, watermark=None):
    return {"setup": {"exsetup_version": "15.2.2562.53"}, "setup_watermark": watermark,
            "services": [{"name": "MSExchangeMitigation", "start_mode": "Automatic",
                          "state": "Running" if running else "Stopped"}],
            "mitigation_events": [], "exchange": {"organization_name": "Contoso", "organization_mitigations_enabled": org,
                                                  "server_mitigations_enabled": server}}


NO_CHANGE = {"organization": None, "server": {}, "service": None, "changes": []}


@pytest.mark.parametrize("state, plan, verify, timeout, expected", [
    (_state(), NO_CHANGE, True, 900, True),
    (_state(), NO_CHANGE, False, 900, False),                     # nothing changed, evidence fresh
    (_state(), NO_CHANGE, True, 0, False),                        # verify_timeout 0: never
    (_state(running=False), NO_CHANGE, True, 900, False),         # no service to restart
    (_state(running=False), dict(NO_CHANGE, service={"start": True}, changes=[{"scope": "service"}]), False, 900,
     True),
    (_state(server=False), NO_CHANGE, True, 900, False),          # switched off: a check only says so
    (_state(watermark="Setup"), NO_CHANGE, True, 900, False),     # Setup unfinished
])
def test_a_check_is_forced_only_where_it_can_run_and_tell_something(state, plan, verify, timeout, expected):
    assert decide.wants_forced_check(state, plan, {"cause": None}, {}, verify, timeout) is expected


def test_verification_options_that_cannot_work_are_refused():
    decide.check_verify_options(False, 0, 15.0)
    with pytest.raises(EemsSettingsError, match="verify=true needs a verify_timeout above 0"):
        decide.check_verify_options(True, 0, 15.0)
    with pytest.raises(EemsSettingsError, match="verify_interval more than 0"):
        decide.check_verify_options(False, 10, 0)


def test_an_organisation_flag_set_meanwhile_by_another_host_is_not_this_hosts_change():
    changes = [{"scope": "organization"}, {"scope": "server"}]
    assert decide.without_raced_organization(changes, {"changed": False}) == [{"scope": "server"}]
    assert decide.without_raced_organization(changes, {"changed": True}) == changes
    plan = dict(NO_CHANGE, organization={"mitigations_enabled": True})
    entry = decide.organization_entry(_state(), {"organization_mitigations_enabled": True}, plan, "EX1",
                                      {"changed": False})
    assert entry["changed"] is False and "set meanwhile by another host" in entry["message"]


def test_a_service_that_will_not_start_outranks_everything_and_the_message_counts_changes():
    verdict = decide.final_verdict(_state(), {"build": "15.2.2562.53"}, None, start_error="error 1053")
    assert (verdict["status"], verdict["cause"], verdict["evidence"]) == \
        ("not_working", "service_will_not_start", "error 1053")
    assert decide.run_message("EX1", [1, 2], verdict, check_mode=True) == \
        "EX1: EEMS not working (service will not start); 2 setting(s) would change"
