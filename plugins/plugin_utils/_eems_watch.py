# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EEMS watch: what one server shows now, and what changed since the last run.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports.  ``observe`` turns one Get-EemsState answer
into a compact, JSON-friendly observation; ``compare`` sets a run's
observations against the previous run's record and returns the changes a
person must hear about; ``next_record`` is what the next run compares with.
Nothing here reads a clock or a file: the action plugins do that.
"""
from __future__ import annotations

from ._edge import NO_EEMS, is_edge_transport
from ._eems_status import cause_from_event

RECORD_VERSION = 1
SERVICE_NAME = "MSExchangeMitigation"
# Per event, enough text to name its cause; the full text stays on the server.
EVENT_TEXT_LIMIT = 600
KEPT_EVENTS = 20

# Changes that need someone's attention; the others are for the record.
ALERTS = ("new_error_event", "service_stopped", "service_disabled", "service_removed", "organization_flag_off",
          "server_flag_off", "mitigation_applied", "mitigation_blocked", "stopped_reporting")
NOTICES = ("organization_flag_on", "server_flag_on", "service_started", "mitigation_removed", "mitigation_unblocked",
           "reporting_again", "new_server", "left_the_fleet")


# A history folder is a path on the controller; nothing longer or stranger.
HISTORY_PATH_LIMIT = 4096


def history_dir_problem(value):
    """Why ``value`` cannot be the watch's history folder, or None."""
    text = str(value)
    if len(text) > HISTORY_PATH_LIMIT or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return ("history_dir must be a folder path without control characters (NUL, newline...) and at most %d "
                "characters" % HISTORY_PATH_LIMIT)
    return None


class WatchRecordError(ValueError):
    """A history record that cannot be used; the message says why."""


def _ids(values):
    return sorted({str(v).strip() for v in values or [] if str(v or "").strip()}, key=str.lower)


def observe(state):
    """A compact observation from a Get-EemsState ``data`` answer."""
    state = state if isinstance(state, dict) else {}
    service = next((s for s in state.get("services") or [] if isinstance(s, dict) and s.get("name") == SERVICE_NAME),
                   None)
    exchange = state.get("exchange") if isinstance(state.get("exchange"), dict) else None
    events = []
    for event in (state.get("mitigation_events") or [])[:KEPT_EVENTS]:
        if not isinstance(event, dict):
            continue
        entry = {"id": event.get("id"), "time": event.get("time"), "message": str(event.get("message") or "")
                 [:EVENT_TEXT_LIMIT]}
        if entry["id"] == 1008:
            entry["cause"] = cause_from_event(event.get("message"))
        events.append(entry)
    last_success = next((e["time"] for e in events if e["id"] == 1005), None)
    if is_edge_transport(state):
        # No Mitigation Service on Edge: nothing to watch, nothing missing.
        return {"observed_at": state.get("now"), "build": (state.get("setup") or {}).get("exsetup_version"),
                "edge_transport": True, "not_applicable": NO_EEMS, "service": None, "organization": None,
                "organization_enabled": None, "server_enabled": None, "applied": None, "blocked": None,
                "events": [], "last_success": None, "exchange_error": None}
    return {
        "observed_at": state.get("now"),
        "build": (state.get("setup") or {}).get("exsetup_version"),
        "service": {"start_mode": service.get("start_mode"), "state": service.get("state")} if service else None,
        "organization": exchange.get("organization_name") if exchange else None,
        "organization_enabled": bool(exchange.get("organization_mitigations_enabled")) if exchange else None,
        "server_enabled": bool(exchange.get("server_mitigations_enabled")) if exchange else None,
        "applied": _ids(exchange.get("mitigations_applied")) if exchange else None,
        "blocked": _ids(exchange.get("mitigations_blocked")) if exchange else None,
        "events": events,
        "last_success": last_success,
        "exchange_error": None if exchange else ((state.get("ems") or {}).get("error") or "Exchange cmdlets unavailable"),
    }


def _change(kind, message, **details):
    entry = {"kind": kind, "severity": "alert" if kind in ALERTS else "notice", "message": message}
    entry.update(details)
    return entry


def _newest_key(events):
    return max((str(e.get("time") or "") for e in events or []), default="")


def _event_changes(before, now):
    """A 1008 newer than anything the previous run saw, unless it only repeats
    the failure the previous run already ended on (EEMS writes one per hourly
    check; the same failure every hour is not news)."""
    seen_until = _newest_key(before.get("events"))
    fresh = [e for e in now.get("events") or [] if str(e.get("time") or "") > seen_until]
    errors = [e for e in fresh if e.get("id") == 1008]
    if not errors:
        return []
    newest = errors[0]
    previous = (before.get("events") or [None])[0]
    if previous and previous.get("id") == 1008 and previous.get("cause") == newest.get("cause") \
            and (previous.get("cause") != "unknown_error" or previous.get("message") == newest.get("message")):
        return []
    return [_change("new_error_event", "new Mitigation Service error (event 1008, %s) at %s"
                    % (newest.get("cause"), newest.get("time")),
                    cause=newest.get("cause"), time=newest.get("time"), text=newest.get("message"))]


def _flag_changes(before, now, key, scope):
    old, new = before.get(key), now.get(key)
    if old is None or new is None or old == new:
        return []
    if new is False:
        return [_change("%s_flag_off" % scope, "MitigationsEnabled switched off for the %s" % scope)]
    return [_change("%s_flag_on" % scope, "MitigationsEnabled switched on for the %s" % scope)]


def _service_changes(before, now):
    old, new = before.get("service"), now.get("service")
    if old and not new:
        return [_change("service_removed", "%s is no longer installed" % SERVICE_NAME)]
    if not old or not new:
        return []
    changes = []
    if new.get("start_mode") == "Disabled" and old.get("start_mode") != "Disabled":
        changes.append(_change("service_disabled", "%s start mode changed from %s to Disabled"
                               % (SERVICE_NAME, old.get("start_mode"))))
    if old.get("state") == "Running" and new.get("state") != "Running":
        changes.append(_change("service_stopped", "%s is %s (was Running)" % (SERVICE_NAME, new.get("state"))))
    elif new.get("state") == "Running" and old.get("state") != "Running":
        changes.append(_change("service_started", "%s is Running again (was %s)" % (SERVICE_NAME, old.get("state"))))
    return changes


def _applied_text(mitigation_id, events):
    """What the newest 1006 naming ``mitigation_id`` says (EEMS writes a 1006
    when it applies one), else the newest 1005 naming it (a check's summary,
    which may only list it); None when no event names it."""
    key = mitigation_id.lower()
    for wanted in (1006, 1005):
        for event in events or []:
            if event.get("id") == wanted and key in (event.get("message") or "").lower():
                return event.get("message")
    return None


def _list_changes(before, now):
    changes = []
    old_applied, new_applied = before.get("applied"), now.get("applied")
    if old_applied is not None and new_applied is not None:
        old_keys = {i.lower() for i in old_applied}
        new_keys = {i.lower() for i in new_applied}
        for mitigation in new_applied:
            if mitigation.lower() not in old_keys:
                # The event EEMS wrote names what the mitigation does (its rule);
                # the ID alone tells a person nothing.
                event = _applied_text(mitigation, now.get("events"))
                changes.append(_change("mitigation_applied", "EEMS applied mitigation %s%s"
                                       % (mitigation, ": %s" % " ".join(event.split()) if event else ""),
                                       mitigation=mitigation, event=event))
        for mitigation in old_applied:
            if mitigation.lower() not in new_keys:
                changes.append(_change("mitigation_removed", "mitigation %s is no longer applied" % mitigation,
                                       mitigation=mitigation))
    old_blocked, new_blocked = before.get("blocked"), now.get("blocked")
    if old_blocked is not None and new_blocked is not None:
        old_keys = {i.lower() for i in old_blocked}
        new_keys = {i.lower() for i in new_blocked}
        for mitigation in new_blocked:
            if mitigation.lower() not in old_keys:
                changes.append(_change("mitigation_blocked", "mitigation %s was blocked (MitigationsBlocked)"
                                       % mitigation, mitigation=mitigation))
        for mitigation in old_blocked:
            if mitigation.lower() not in new_keys:
                changes.append(_change("mitigation_unblocked", "mitigation %s is no longer blocked" % mitigation,
                                       mitigation=mitigation))
    return changes


def compare_server(before, now):
    """The changes between two observations of one server (both present).
    An Edge Transport server has no Mitigation Service: never a change."""
    if now.get("edge_transport") or before.get("edge_transport"):
        return []
    return (_event_changes(before, now) + _service_changes(before, now)
            + _flag_changes(before, now, "organization_enabled", "organization")
            + _flag_changes(before, now, "server_enabled", "server") + _list_changes(before, now))


def check_record(record):
    """The previous record, validated: ``{"version", "written_at", "servers"}`` or None for no record."""
    if record is None:
        return None
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION or \
            not isinstance(record.get("servers"), dict):
        raise WatchRecordError("the history record is not an EEMS watch record of version %d (move it away to "
                               "start a new history)" % RECORD_VERSION)
    return record


def compare(previous, results, run_at):
    """Set this run's ``results`` against the ``previous`` record.

    ``results`` maps every server of the run to ``{"observation": ...}`` or
    ``{"error": "...", "state": "unreachable"|"failed"}``.  Returns
    ``{"baseline", "servers": {name: {"status", "changes", ...}}, "changes":
    [...], "alerts": n, "summary": {...}}``.
    """
    previous = check_record(previous)
    old = (previous or {}).get("servers") or {}
    servers = {}
    for name in sorted(results):
        result = results[name] or {}
        observation = result.get("observation")
        entry = old.get(name) or {}
        last = entry.get("observation")
        if observation is None:
            error = result.get("error") or "no answer"
            changes = []
            # An Edge Transport server runs no EEMS: its silence is no EEMS news.
            if last is not None and entry.get("reporting", True) and not last.get("edge_transport"):
                changes.append(_change("stopped_reporting", "stopped reporting: %s" % error, error=error,
                                       last_seen=entry.get("last_seen")))
            servers[name] = {"status": result.get("state") or "failed", "error": error, "changes": changes}
            continue
        if previous is None or not entry:
            changes = [] if previous is None else [_change("new_server", "first seen by the watch")]
        else:
            changes = compare_server(last or {}, observation)
            if not entry.get("reporting", True):
                changes.insert(0, _change("reporting_again", "reporting again (silent since %s)"
                                          % (entry.get("silent_since") or "the last run")))
        servers[name] = {"status": "observed", "error": None, "changes": changes}
        if observation.get("edge_transport"):
            servers[name]["not_applicable"] = NO_EEMS
    for name in sorted(set(old) - set(results)):
        servers[name] = {"status": "not_in_run", "error": None,
                         "changes": [_change("left_the_fleet", "not in this run's hosts (kept in the history)")]}
    changes = [dict(change, server=name) for name, row in servers.items() for change in row["changes"]]
    alerts = [c for c in changes if c["severity"] == "alert"]
    kinds = {}
    for change in changes:
        kinds[change["kind"]] = kinds.get(change["kind"], 0) + 1
    summary = {"run_at": run_at, "baseline": previous is None,
               "previous_run_at": (previous or {}).get("written_at"),
               "servers": len(results), "observed": sum(1 for r in servers.values() if r["status"] == "observed"),
               "not_reporting": sorted(n for n, r in servers.items() if r["status"] in ("unreachable", "failed")),
               "alerts": len(alerts), "notices": len(changes) - len(alerts), "by_kind": kinds,
               "changes": changes}
    return {"baseline": previous is None, "servers": servers, "changes": changes, "alerts": len(alerts),
            "summary": summary}


def next_record(previous, results, run_at):
    """The record the next run compares with.  A silent server keeps its last
    observation (so its return is compared with what it last showed); a
    server not in this run (--limit) is kept unchanged."""
    previous = check_record(previous)
    servers = dict((previous or {}).get("servers") or {})
    for name, result in (results or {}).items():
        result = result or {}
        old = servers.get(name) or {}
        if result.get("observation") is not None:
            servers[name] = {"observation": result["observation"], "reporting": True, "last_seen": run_at,
                             "silent_since": None, "error": None}
        else:
            servers[name] = {"observation": old.get("observation"), "reporting": False,
                             "last_seen": old.get("last_seen"),
                             "silent_since": old.get("silent_since") if not old.get("reporting", True) else run_at,
                             "error": result.get("error")}
    return {"version": RECORD_VERSION, "written_at": run_at, "servers": servers}


def summary_lines(summary):
    """One line for the counts, then one per change, alerts first."""
    summary = summary if isinstance(summary, dict) else {}
    head = "EEMS watch: %d server(s), %d observed, %d alert(s), %d notice(s)%s" % (
        summary.get("servers", 0), summary.get("observed", 0), summary.get("alerts", 0), summary.get("notices", 0),
        " (first run: baseline recorded)" if summary.get("baseline") else "")
    changes = sorted(summary.get("changes") or [], key=lambda c: (c.get("severity") != "alert", c.get("server", "")))
    return [head] + ["%s %s [%s] %s" % (c.get("severity", "").upper(), c.get("server"), c.get("kind"),
                                        c.get("message")) for c in changes]


def results_from_registered(registered):
    """``{server: {"observation"} | {"state", "error"}}`` from each server's
    registered eems_observe result (None for a server that left no result)."""
    results = {}
    for name, value in (registered or {}).items():
        value = value if isinstance(value, dict) else {}
        if isinstance(value.get("observation"), dict) and not value.get("failed") and not value.get("unreachable"):
            results[str(name)] = {"observation": value["observation"]}
        elif value.get("unreachable"):
            results[str(name)] = {"state": "unreachable", "error": str(value.get("msg") or "unreachable")}
        else:
            results[str(name)] = {"state": "failed", "error": str(value.get("msg") or "no result from this server")}
    return results
