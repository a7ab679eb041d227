"""The EEMS watch: observations, and what changed between two runs."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_watch import (
    WatchRecordError, compare, next_record, observe, results_from_registered, summary_lines)

JUNE_2026 = ("An unexpected exception occurred. Diagnostic information: Exception encountered while fetching "
             "mitigations : This XML is not deemed safe to consume since Response xml's leaf certificate is from "
             "unknown issuer or has EKU mismatch")


def _state(**overrides):
    state = {
        "now": "2026-11-26T08:00:00+00:00",
        "setup": {"exsetup_version": "15.02.2562.053"},
        "services": [{"name": "MSExchangeMitigation", "start_mode": "Automatic", "state": "Running"}],
        "mitigation_events": [{"id": 1005, "time": "2026-11-26T07:00:00+00:00", "message": "ok"}],
        "ems": {"available": True, "error": None},
        "exchange": {"organization_name": "Contoso", "organization_mitigations_enabled": True,
                     "server_mitigations_enabled": True, "mitigations_applied": ["PING1"],
                     "mitigations_blocked": []},
    }
    state.update(overrides)
    return state


def _run(previous, observations, run_at):
    results = {name: ({"observation": obs} if isinstance(obs, dict) else {"state": "unreachable", "error": obs})
               for name, obs in observations.items()}
    return compare(previous, results, run_at), next_record(previous, results, run_at)


def _kinds(outcome, server="EX1"):
    return [c["kind"] for c in outcome["servers"][server]["changes"]]


def test_first_run_is_a_baseline_and_raises_nothing():
    outcome, record = _run(None, {"EX1": observe(_state()), "EX2": "refused"}, "t1")
    assert outcome["baseline"] and outcome["changes"] == []
    assert record["servers"]["EX1"]["reporting"] and not record["servers"]["EX2"]["reporting"]


def test_quiet_second_run_raises_nothing_even_with_a_new_hourly_success_event():
    _outcome, record = _run(None, {"EX1": observe(_state())}, "t1")
    later = _state(mitigation_events=[{"id": 1005, "time": "2026-11-26T08:00:00+00:00", "message": "ok"},
                                      {"id": 1005, "time": "2026-11-26T07:00:00+00:00", "message": "ok"}])
    outcome, _record = _run(record, {"EX1": observe(later)}, "t2")
    assert outcome["changes"] == [] and outcome["summary"]["alerts"] == 0


@pytest.mark.parametrize("change, kind", [
    (dict(mitigation_events=[{"id": 1008, "time": "2026-11-26T08:00:00+00:00", "message": JUNE_2026}]),
     "new_error_event"),
    (dict(services=[{"name": "MSExchangeMitigation", "start_mode": "Automatic", "state": "Stopped"}]),
     "service_stopped"),
    (dict(services=[{"name": "MSExchangeMitigation", "start_mode": "Disabled", "state": "Running"}]),
     "service_disabled"),
    (dict(services=[]), "service_removed"),
])
def test_each_change_is_raised(change, kind):
    _outcome, record = _run(None, {"EX1": observe(_state())}, "t1")
    outcome, _record = _run(record, {"EX1": observe(_state(**change))}, "t2")
    assert _kinds(outcome) == [kind]
    assert outcome["changes"][0]["severity"] == "alert" and outcome["changes"][0]["server"] == "EX1"


def test_new_error_event_names_its_cause_and_text_and_is_not_repeated_hourly():
    _outcome, record = _run(None, {"EX1": observe(_state())}, "t1")
    first = _state(mitigation_events=[{"id": 1008, "time": "2026-11-26T08:00:00+00:00", "message": JUNE_2026}])
    outcome, record = _run(record, {"EX1": observe(first)}, "t2")
    change = outcome["changes"][0]
    assert (change["cause"], change["text"]) == ("build_before_june_2026", JUNE_2026)
    again = _state(mitigation_events=[{"id": 1008, "time": "2026-11-26T09:00:00+00:00", "message": JUNE_2026}]
                   + first["mitigation_events"])
    outcome, _record = _run(record, {"EX1": observe(again)}, "t3")
    assert outcome["changes"] == []


def test_flags_and_lists():
    _outcome, record = _run(None, {"EX1": observe(_state())}, "t1")
    exchange = dict(_state()["exchange"], organization_mitigations_enabled=False, server_mitigations_enabled=False,
                    mitigations_applied=["PING1", "M2.1.0"], mitigations_blocked=["M1.1"])
    # The check's summary (1005) comes after the 1006 and lists the ID too; the 1006 says what it is.
    events = [{"id": 1005, "time": "2026-11-26T08:00:01+00:00", "message": "Checked. Applied: PING1, M2.1.0."},
              {"id": 1006, "time": "2026-11-26T08:00:00+00:00", "message": "Mitigation M2.1.0 (OWA CSP) applied."}]
    outcome, record = _run(record, {"EX1": observe(_state(exchange=exchange, mitigation_events=events))}, "t2")
    assert sorted(_kinds(outcome)) == ["mitigation_applied", "mitigation_blocked", "organization_flag_off",
                                       "server_flag_off"]
    applied = next(c for c in outcome["changes"] if c["kind"] == "mitigation_applied")
    assert applied["mitigation"] == "M2.1.0" and "OWA CSP" in applied["event"]
    # The line a person reads names the rule, not just the ID.
    assert applied["message"] == "EEMS applied mitigation M2.1.0: Mitigation M2.1.0 (OWA CSP) applied."
    # No event names it (older than the events kept): the ID alone, said plainly.
    bare = dict(exchange, mitigations_applied=["PING1", "M2.1.0", "M3.1"])
    outcome_bare, _record = _run(record, {"EX1": observe(_state(exchange=bare))}, "t2b")
    (only,) = [c for c in outcome_bare["changes"] if c["kind"] == "mitigation_applied"]
    assert only["message"] == "EEMS applied mitigation M3.1" and only["event"] is None
    # Switched back: notices, not alerts.
    outcome, _record = _run(record, {"EX1": observe(_state())}, "t3")
    assert sorted(_kinds(outcome)) == ["mitigation_removed", "mitigation_unblocked", "organization_flag_on",
                                       "server_flag_on"]
    assert outcome["summary"]["alerts"] == 0


def test_unreadable_flags_are_not_a_change():
    _outcome, record = _run(None, {"EX1": observe(_state())}, "t1")
    outcome, _record = _run(record, {"EX1": observe(_state(exchange=None, ems={"error": "access denied"}))}, "t2")
    assert outcome["changes"] == []


def test_a_server_that_stops_reporting_is_raised_once_then_its_return_is_compared_with_its_last_reading():
    _outcome, record = _run(None, {"EX1": observe(_state()), "EX2": observe(_state())}, "t1")
    outcome, record = _run(record, {"EX1": observe(_state()), "EX2": "Connection refused"}, "t2")
    assert _kinds(outcome, "EX2") == ["stopped_reporting"] and outcome["summary"]["not_reporting"] == ["EX2"]
    assert outcome["servers"]["EX2"]["changes"][0]["error"] == "Connection refused"
    outcome, record = _run(record, {"EX1": observe(_state()), "EX2": "Connection refused"}, "t3")
    assert outcome["changes"] == []
    stopped = _state(services=[{"name": "MSExchangeMitigation", "start_mode": "Automatic", "state": "Stopped"}])
    outcome, _record = _run(record, {"EX1": observe(_state()), "EX2": observe(stopped)}, "t4")
    assert _kinds(outcome, "EX2") == ["reporting_again", "service_stopped"]


def test_limit_keeps_servers_out_of_the_run_in_the_history():
    _outcome, record = _run(None, {"EX1": observe(_state()), "EX2": observe(_state())}, "t1")
    outcome, record2 = _run(record, {"EX1": observe(_state())}, "t2")
    assert _kinds(outcome, "EX2") == ["left_the_fleet"] and outcome["summary"]["alerts"] == 0
    assert record2["servers"]["EX2"] == record["servers"]["EX2"]


def test_registered_results_become_run_results():
    obs = observe(_state())
    results = results_from_registered({"EX1": {"changed": False, "observation": obs},
                                       "EX2": {"unreachable": True, "msg": "refused"},
                                       "EX3": {"failed": True, "msg": "EX3: access denied"}, "EX4": None})
    assert results == {"EX1": {"observation": obs}, "EX2": {"state": "unreachable", "error": "refused"},
                       "EX3": {"state": "failed", "error": "EX3: access denied"},
                       "EX4": {"state": "failed", "error": "no result from this server"}}


def test_a_foreign_record_is_refused_with_a_clear_message():
    with pytest.raises(WatchRecordError, match="not an EEMS watch record"):
        compare({"servers": []}, {}, "t")


def test_summary_lines_put_alerts_first():
    _outcome, record = _run(None, {"EX1": observe(_state()), "EX2": observe(_state())}, "t1")
    outcome, _record = _run(record, {"EX1": observe(_state(exchange=dict(_state()["exchange"], mitigations_blocked=[]))),
                                     "EX2": "refused"}, "t2")
    lines = summary_lines(outcome["summary"])
    assert lines[0].startswith("EEMS watch: 2 server(s), 1 observed, 1 alert(s)")
    assert lines[1] == "ALERT EX2 [stopped_reporting] stopped reporting: refused"


def test_observe_does_not_mutate_and_shortens_event_text():
    state = _state(mitigation_events=[{"id": 1008, "time": "t", "message": JUNE_2026 + "x" * 2000}])
    before = copy.deepcopy(state)
    obs = observe(state)
    assert state == before
    assert len(obs["events"][0]["message"]) == 600 and obs["events"][0]["cause"] == "build_before_june_2026"


def test_an_unrecognised_error_is_news_when_its_text_changes():
    _outcome, record = _run(None, {"EX1": observe(_state(mitigation_events=[
        {"id": 1008, "time": "2026-11-26T07:00:00+00:00", "message": "Something odd: A"}]))}, "t1")
    same = _state(mitigation_events=[{"id": 1008, "time": "2026-11-26T08:00:00+00:00", "message": "Something odd: A"}])
    assert _run(record, {"EX1": observe(same)}, "t2")[0]["changes"] == []
    other = _state(mitigation_events=[{"id": 1008, "time": "2026-11-26T08:00:00+00:00", "message": "Something odd: B"}])
    outcome = _run(record, {"EX1": observe(other)}, "t2")[0]
    assert [(c["kind"], c["cause"]) for c in outcome["changes"]] == [("new_error_event", "unknown_error")]


def test_a_history_folder_with_control_characters_or_of_absurd_length_is_refused():
    from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_watch import history_dir_problem
    assert history_dir_problem("/var/lib/eems-watch") is None
    assert "without control characters" in history_dir_problem("/var/lib/x\nrm")
    assert "at most 4096" in history_dir_problem("/x" * 3000)
