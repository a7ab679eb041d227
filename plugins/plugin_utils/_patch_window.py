# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small decisions of the exchange_patch role and playbooks/patch.yml.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports: the window's end (one rule for the role and
the playbook), the message of the first unreachable step, and which automatic
services are not running.
"""
from __future__ import annotations

import datetime
import re

from ._fleet import own_words

WINDOW_END_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_WINDOW_END = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_MINUTES = re.compile(r"^[0-9]+$")


class WindowError(ValueError):
    """A window option a person must correct; the message names it and its allowed form."""


def _text(value):
    return "" if value is None else str(value).strip()


def _utc(moment):
    # Ansible's now(utc=true) is naive on some versions: a naive time here is UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def check_window_end(value):
    """The end as given (stripped), '' for none; WindowError unless the UTC 'Z' form."""
    text = _text(value)
    if not text:
        return ""
    if not _WINDOW_END.match(text):
        raise WindowError("exchange_patch_window_end=%s must be a UTC time such as 2026-11-28T06:00:00Z "
                          "(or empty for no end)" % text)
    try:
        datetime.datetime.strptime(text, WINDOW_END_FORMAT)
    except ValueError:
        raise WindowError("exchange_patch_window_end=%s is not a real date and time; it must be a UTC time "
                          "such as 2026-11-28T06:00:00Z (or empty for no end)" % text)
    return text


def check_window_minutes(value):
    """Whole minutes (0: no limit); WindowError otherwise. bool is refused (yes/no is not a length)."""
    if isinstance(value, bool):
        raise WindowError("exchange_patch_window_minutes must be a whole number of minutes (0 for no limit), "
                          "got '%s'" % value)
    if isinstance(value, int):
        minutes = value
    else:
        text = _text(value)
        if not text:
            return 0
        if not _MINUTES.match(text):
            raise WindowError("exchange_patch_window_minutes must be a whole number of minutes (0 for no limit), "
                              "got '%s'" % text)
        minutes = int(text)
    if minutes < 0:
        raise WindowError("exchange_patch_window_minutes must be a whole number of minutes (0 for no limit), "
                          "got '%s'" % value)
    return minutes


def window_end(end, minutes, start):
    """The one rule: an end given wins; else a length > 0 ends that many minutes
    after ``start`` (a datetime or ISO text, naive meaning UTC); else no end ('').
    Both options are checked even when one wins, so a typo never passes silently."""
    end_text = check_window_end(end)
    length = check_window_minutes(minutes)
    if end_text:
        return end_text
    if not length:
        return ""
    if isinstance(start, str):
        start = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
    start = _utc(start).replace(microsecond=0)
    return (start + datetime.timedelta(minutes=length)).strftime(WINDOW_END_FORMAT)


def window_closed(end, now):
    """True when the window has an end and ``now`` (a datetime, naive meaning UTC) is at or past it."""
    end_text = check_window_end(end)
    if not end_text:
        return False
    closes = datetime.datetime.strptime(end_text, WINDOW_END_FORMAT).replace(tzinfo=datetime.timezone.utc)
    return _utc(now) >= closes


def unreachable_message(results):
    """The message of the first result that says the server could not be reached, '' when none did.

    ``results`` is one registered result or a list of them; absent, skipped and
    non-mapping entries count as reached."""
    if isinstance(results, dict):
        results = [results]
    for result in results or []:
        if not isinstance(result, dict) or not result.get("unreachable"):
            continue
        return own_words(result.get("msg") or "no answer")
    return ""


def stopped_services(services):
    """Names of the automatic services that are not running (the health rule of the window)."""
    names = []
    for service in services or []:
        if not isinstance(service, dict):
            continue
        if service.get("start_mode") == "Automatic" and service.get("state") != "Running":
            names.append(service.get("name"))
    return names


def _true(value):
    # Facts templated from text arrive as bools or as their text.
    return value is True or str(value).strip().lower() in ("true", "yes", "1")


def _result(value):
    return value if isinstance(value, dict) else {}


def _message(result, default="no answer"):
    return own_words(result.get("msg") or default)


def sweep_conclusion(window):
    """Where a server that may be out of service stands at the end of its window.

    ``window`` holds the sweep's three registered results (``read``: the
    maintenance state read in check mode; ``facts``: build_facts, run only when
    it is in maintenance and nothing says keep it there; ``leave``: putting it
    back, run only when its automatic services run) and the window's facts
    (``status``, ``message``, ``last_action``, ``applied``, ``installer_failed``,
    ``hook_failed``, ``left``). Returns the facts to set: ``maintenance``
    (in_service, in_maintenance or possibly_out_of_service), ``left``,
    ``still_out``, ``status`` and ``message`` (the window's message with the
    sweep's note).
    """
    read, facts, leave = (_result(window.get(key)) for key in ("read", "facts", "leave"))
    installer_failed, hook_failed = _true(window.get("installer_failed")), _true(window.get("hook_failed"))
    applied = [str(step) for step in window.get("applied") or []]
    done = str(window.get("last_action") or "") + (" (maintenance steps: %s)" % ", ".join(applied) if applied else "")
    services = _result(_result(_result(facts.get("ansible_facts")).get("exchange"))).get("services")
    stopped = stopped_services(services)

    if read.get("unreachable") or read.get("failed"):
        verdict = "possibly_out_of_service"
        note = "possibly out of service: %s at the end of the window (%s); last done: %s" % (
            "could not be reached" if read.get("unreachable") else "its state could not be read", _message(read), done)
    elif not read.get("changed"):
        verdict = "in_service"
        note = "in service (read at the end of the window; last done: %s)" % done
    elif leave and not leave.get("skipped") and not leave.get("unreachable") and not leave.get("failed"):
        verdict = "in_service"
        note = "put back in service at the end of the window: this run took it out and it is healthy"
    else:
        verdict = "in_maintenance"
        if installer_failed:
            note = "in maintenance: its installer started and did not finish cleanly"
        elif hook_failed:
            note = "in maintenance: its hook tasks failed"
        elif stopped:
            note = "in maintenance: automatic services are not running: %s" % ", ".join(stopped)
        else:
            why = leave.get("msg") if "msg" in leave else facts.get("msg", "no answer")
            note = "in maintenance: putting it back in service failed: %s" % why

    status = window.get("status")
    if verdict == "possibly_out_of_service" and not installer_failed:
        status = "unreachable"
    elif verdict == "in_maintenance":
        status = "failed_in_maintenance"
    message = re.sub(r"[.] *$", "", str(window.get("message") or ""))
    return {
        "maintenance": verdict,
        "left": _true(window.get("left")) or verdict == "in_service",
        "still_out": verdict in ("in_maintenance", "possibly_out_of_service"),
        "status": status,
        "message": message + ("; " if window.get("message") else "") + note,
    }
