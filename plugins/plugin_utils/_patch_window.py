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
        message = str(result.get("msg") or "no answer")
        return re.sub(r"^Task failed: ", "", message)
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
