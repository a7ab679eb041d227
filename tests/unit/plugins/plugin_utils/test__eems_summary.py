"""The eems.yml fleet summary: every host a row, whatever results exist."""
from __future__ import annotations

from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_summary import summarize, summary_lines


def _handled(name, status="working", cause=None, org=None):
    return {"exchange_eems": {
        "name": name, "state": "handled", "before": {"status": "disabled", "cause": "disabled_at_server"},
        "after": {"status": status, "cause": cause, "remedy": "do this" if cause else None},
        "changed": True, "changes": [], "left_alone": [], "error": None,
        "organization": org or {"name": "Contoso", "mitigations_enabled": True, "changed": False,
                                "message": "organisation Contoso already has MitigationsEnabled=True"}}}


UNREACHABLE_MSG = "Failed to connect to the host via winrm: Connection refused"


def test_a_host_without_any_record_does_not_break_the_summary():
    # The issue 12 case: a server lost mid-play has no exchange_eems at all.
    hostvars = {"EX1": _handled("EX1"), "EX2": _handled("EX2", "not_working", "fetch_failed"), "EX3": {}}
    summary = summarize(["EX3", "EX1", "EX2"], hostvars)
    assert list(summary["servers"]) == ["EX1", "EX2", "EX3"]
    assert summary["servers"]["EX1"]["status"] == "working"
    assert summary["servers"]["EX3"]["state"] == "no_result"
    assert "no EEMS result was recorded" in summary["servers"]["EX3"]["cause"]
    assert summary["errors"] == ["EX3"] and summary["not_working"] == ["EX2", "EX3"]
    assert summary["by_status"] == {"working": 1, "not_working": 1, "no_result": 1}


def test_a_host_lost_mid_play_is_named_with_its_real_cause():
    hostvars = {"EX1": _handled("EX1"),
                "EX2": {"exchange_eems_before": {"changed": False, "eems": {"status": "working"}},
                        "exchange_eems_result": {"unreachable": True, "msg": UNREACHABLE_MSG}}}
    row = summarize(["EX1", "EX2"], hostvars)["servers"]["EX2"]
    assert (row["status"], row["state"], row["cause"]) == ("unreachable", "unreachable", UNREACHABLE_MSG)


def test_rescued_failure_and_unreachable_records_keep_their_message():
    hostvars = {
        "EX1": {"exchange_eems": {"name": "EX1", "state": "unreachable", "before": None, "after": None,
                                  "organization": None, "error": UNREACHABLE_MSG}},
        "EX2": {"exchange_eems": {"name": "EX2", "state": "failed", "before": None,
                                  "after": {"status": "not_working", "cause": "service_will_not_start"},
                                  "organization": None, "error": "EX2: EEMS settings did not converge"}},
    }
    summary = summarize(["EX1", "EX2"], hostvars)
    assert summary["servers"]["EX1"]["cause"] == UNREACHABLE_MSG
    # A failed host whose module reached a verdict shows it, and is still an error.
    assert (summary["servers"]["EX2"]["status"], summary["servers"]["EX2"]["cause"]) == \
        ("not_working", "service_will_not_start")
    assert summary["errors"] == ["EX1", "EX2"]
    assert summary["organizations"] == {}


def test_organisation_row_prefers_the_host_that_changed_it():
    changed = {"name": "Contoso", "mitigations_enabled": True, "changed": True, "set_by": "EX2",
               "message": "organisation Contoso: MitigationsEnabled set to True by EX2"}
    summary = summarize(["EX1", "EX2"], {"EX1": _handled("EX1"), "EX2": _handled("EX2", org=changed)})
    assert summary["organizations"]["Contoso"]["set_by"] == "EX2"


def test_no_hosts_gives_an_empty_summary_not_an_error():
    assert summarize([], {})["total"] == 0
    assert summarize(None, None)["servers"] == {}


def test_lines_name_every_server_with_status_cause_and_remedy():
    summary = summarize(["EX1", "EX2", "EX3"], {"EX1": _handled("EX1"),
                                                "EX2": _handled("EX2", "not_working", "fetch_failed"), "EX3": {}})
    lines = summary_lines(summary)
    assert lines[0] == 'EEMS: {"no_result": 1, "not_working": 1, "working": 1}'
    assert "EX1: working" in lines
    assert "EX2: not_working (fetch_failed) do this" in lines
    assert any(line.startswith("EX3: no_result (no EEMS result was recorded") for line in lines)


def test_the_cause_is_the_hosts_own_words_without_ansibles_task_failed_prefix():
    # ansible-core puts "Task failed: " before a failed or unreachable task's
    # message; the rescue record and the step results both carry it.
    cause = "EX2: could not connect for Get-EemsState (connection refused); tried 5 times over 15 s"
    hostvars = {
        "EX1": _handled("EX1"),
        "EX2": {"exchange_eems": {"name": "EX2", "state": "unreachable", "before": None, "after": None,
                                  "changed": False, "changes": [], "left_alone": [], "organization": None,
                                  "error": "Task failed: " + cause}},
        "EX3": {"exchange_eems_result": {"unreachable": True, "msg": "Task failed: " + cause.replace("EX2", "EX3")}},
    }
    summary = summarize(["EX1", "EX2", "EX3"], hostvars)
    assert summary["servers"]["EX2"]["cause"] == cause
    assert summary["servers"]["EX3"]["cause"] == cause.replace("EX2", "EX3")
    assert [line for line in summary_lines(summary) if "Task failed" in line] == []
