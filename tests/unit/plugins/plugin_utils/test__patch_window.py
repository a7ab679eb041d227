"""The window's end (one rule for the exchange_patch role and playbooks/patch.yml),
the first unreachable step's message and the stopped-services rule."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._patch_window import (
    WindowError,
    stopped_services,
    sweep_conclusion,
    unreachable_message,
    window_closed,
    window_end,
)

START = datetime.datetime(2026, 11, 28, 1, 30, 15, 123456, tzinfo=datetime.timezone.utc)


def test_a_length_ends_that_many_minutes_after_the_start():
    assert window_end("", 90, START) == "2026-11-28T03:00:15Z"
    assert window_end(None, "240", START) == "2026-11-28T05:30:15Z"


def test_a_naive_start_is_utc_as_ansibles_now_utc_gives_it():
    naive = START.replace(tzinfo=None)
    assert window_end("", 30, naive) == "2026-11-28T02:00:15Z"
    assert window_end("", 30, naive.isoformat()) == "2026-11-28T02:00:15Z"


def test_a_start_in_another_zone_is_turned_to_utc():
    paris = START.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    assert window_end("", 60, paris) == "2026-11-28T02:30:15Z"


def test_an_end_given_wins_over_the_length():
    assert window_end("2026-11-28T06:00:00Z", 30, START) == "2026-11-28T06:00:00Z"
    assert window_end(" 2026-11-28T06:00:00Z ", 0, START) == "2026-11-28T06:00:00Z"


@pytest.mark.parametrize("minutes", [0, "0", "", None])
def test_no_end_and_no_length_is_no_end(minutes):
    assert window_end("", minutes, START) == ""


@pytest.mark.parametrize("minutes", ["4h", "-5", -5, "1.5", 1.5, True, "ninety"])
def test_a_length_that_is_not_whole_minutes_is_refused_with_the_allowed_form(minutes):
    with pytest.raises(WindowError, match=r"exchange_patch_window_minutes must be a whole number of minutes "
                                          r"\(0 for no limit\), got '"):
        window_end("", minutes, START)


def test_a_wrong_length_is_refused_even_when_an_end_wins():
    with pytest.raises(WindowError, match="exchange_patch_window_minutes"):
        window_end("2026-11-28T06:00:00Z", "4h", START)


@pytest.mark.parametrize("end", ["2026-11-28T06:00:00+01:00", "2026-11-28 06:00:00", "2026-11-28T06:00Z",
                                 "tomorrow", "2026-11-28T06:00:00z"])
def test_an_end_in_another_form_is_refused_naming_the_utc_form(end):
    with pytest.raises(WindowError, match=r"exchange_patch_window_end=.* must be a UTC time such as "
                                          r"2026-11-28T06:00:00Z \(or empty for no end\)"):
        window_end(end, 0, START)


def test_an_impossible_date_is_refused():
    with pytest.raises(WindowError, match="not a real date"):
        window_end("2026-02-30T06:00:00Z", 0, START)


def test_the_window_is_closed_at_and_after_its_end_only():
    end = "2026-11-28T06:00:00Z"
    at = datetime.datetime(2026, 11, 28, 6, 0, 0)
    assert window_closed(end, at) is True
    assert window_closed(end, at + datetime.timedelta(seconds=1)) is True
    assert window_closed(end, at - datetime.timedelta(seconds=1)) is False
    assert window_closed("", at) is False


def test_unreachable_message_is_the_first_unreachable_result_without_ansibles_prefix():
    results = [{}, {"skipped": True}, None, {"unreachable": True, "msg": "Task failed: FM1: could not connect"},
               {"unreachable": True, "msg": "later"}]
    assert unreachable_message(results) == "FM1: could not connect"
    assert unreachable_message({"unreachable": True}) == "no answer"
    assert unreachable_message({"changed": True}) == ""
    assert unreachable_message([{"failed": True, "msg": "x"}]) == ""


def test_stopped_services_are_automatic_ones_not_running():
    services = [{"name": "MSExchangeTransport", "start_mode": "Automatic", "state": "Stopped"},
                {"name": "MSExchangeIS", "start_mode": "Automatic", "state": "Running"},
                {"name": "MSExchangePOP3", "start_mode": "Disabled", "state": "Stopped"},
                "garbage"]
    assert stopped_services(services) == ["MSExchangeTransport"]
    assert stopped_services(None) == []


def test_the_filters_turn_a_wrong_option_into_a_filter_error_naming_it():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.onprem.exchange.plugins.filter.patch_window import patch_window_closed, patch_window_end

    with pytest.raises(AnsibleFilterError, match="exchange_patch_window_minutes must be a whole number"):
        patch_window_end("", "4h", START)
    with pytest.raises(AnsibleFilterError, match="needs its start"):
        patch_window_end("", 30)
    with pytest.raises(AnsibleFilterError, match="must be a UTC time"):
        patch_window_closed("06:00", START)
    assert patch_window_end("", 0) == ""


# -- the sweep's conclusion -------------------------------------------------------

RUNNING = {"ansible_facts": {"exchange": {"services": [
    {"name": "MSExchangeIS", "start_mode": "Automatic", "state": "Running"}]}}}
STOPPED = {"ansible_facts": {"exchange": {"services": [
    {"name": "MSExchangeTransport", "start_mode": "Automatic", "state": "Stopped"}]}}}
SKIPPED = {"skipped": True, "changed": False}


def _window(**overrides):
    window = {"read": {"changed": True}, "facts": RUNNING, "leave": {"changed": True}, "status": "failed",
              "message": "Install, restart and verify: it broke.", "last_action": "installing",
              "applied": ["drain_transport", "server_offline"], "installer_failed": False, "hook_failed": False,
              "left": False}
    window.update(overrides)
    return window


def test_a_healthy_server_this_run_took_out_is_put_back_and_keeps_its_status():
    assert sweep_conclusion(_window()) == {
        "maintenance": "in_service", "left": True, "still_out": False, "status": "failed",
        "message": "Install, restart and verify: it broke; put back in service at the end of the window: "
                   "this run took it out and it is healthy"}


def test_a_server_found_in_service_says_what_was_last_done():
    found = sweep_conclusion(_window(read={"changed": False}, facts=SKIPPED, leave=SKIPPED, message=""))
    assert found["maintenance"] == "in_service" and found["status"] == "failed"
    assert found["message"] == ("in service (read at the end of the window; last done: installing "
                                "(maintenance steps: drain_transport, server_offline))")


@pytest.mark.parametrize("read, how", [({"unreachable": True, "msg": "Task failed: FM1: could not connect"},
                                        "could not be reached"),
                                       ({"failed": True, "msg": "EMS session refused"}, "its state could not be read")])
def test_a_server_that_cannot_be_read_is_possibly_out_of_service(read, how):
    found = sweep_conclusion(_window(read=read, facts=SKIPPED, leave=SKIPPED, applied=[], last_action="leaving maintenance"))
    assert found["maintenance"] == "possibly_out_of_service" and found["still_out"] is True
    assert found["status"] == "unreachable"
    assert found["message"].endswith("possibly out of service: %s at the end of the window (%s); last done: leaving "
                                     "maintenance" % (how, read["msg"].replace("Task failed: ", "")))


def test_a_failed_installer_keeps_its_status_even_when_the_server_cannot_be_read():
    found = sweep_conclusion(_window(read={"unreachable": True}, facts=SKIPPED, leave=SKIPPED,
                                     status="failed_in_maintenance", installer_failed="True"))
    assert found["status"] == "failed_in_maintenance" and found["maintenance"] == "possibly_out_of_service"


@pytest.mark.parametrize("overrides, note", [
    ({"installer_failed": True}, "in maintenance: its installer started and did not finish cleanly"),
    ({"hook_failed": "true"}, "in maintenance: its hook tasks failed"),
    ({"facts": STOPPED}, "in maintenance: automatic services are not running: MSExchangeTransport"),
    ({"leave": {"failed": True, "msg": "Set-ServerComponentState refused"}},
     "in maintenance: putting it back in service failed: Set-ServerComponentState refused"),
    ({"facts": {"failed": True, "msg": "facts broke"}}, "in maintenance: putting it back in service failed: facts broke"),
])
def test_a_server_kept_in_maintenance_says_why(overrides, note):
    overrides.setdefault("leave", SKIPPED)
    found = sweep_conclusion(_window(**overrides))
    assert (found["maintenance"], found["status"], found["still_out"], found["left"]) == (
        "in_maintenance", "failed_in_maintenance", True, False)
    assert found["message"] == "Install, restart and verify: it broke; " + note
