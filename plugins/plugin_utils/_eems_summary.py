# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet summary of playbooks/eems.yml, built from whatever results exist.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports.  Every host of the play is a row: a host
that was handled gives its verdict; a host that failed or could not be
reached gives that state and the message that says why; a host that left
the play without any record says so.  A missing key never breaks the
summary: one lost server must not hide the other seven.
"""
from __future__ import annotations

import json

from ansible_collections.onprem.exchange.plugins.plugin_utils._fleet import host_var, own_words

# Registered results eems.yml leaves on a host, newest step last: when a host
# has no exchange_eems record (it left the play mid-way), the newest of these
# that failed or was unreachable says why.
STEP_RESULTS = ("exchange_eems_before", "exchange_eems_org", "exchange_eems_result")


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _reason_from_steps(host_vars):
    """``(state, message)`` from the newest failed or unreachable step, or None."""
    for name in reversed(STEP_RESULTS):
        result = _mapping(host_var(host_vars, name))
        if result.get("unreachable"):
            return "unreachable", own_words(result.get("msg") or "unreachable")
        if result.get("failed"):
            return "failed", own_words(result.get("msg") or "failed")
    return None


def host_record(host, host_vars):
    """The ``exchange_eems`` record of one host, or one made from what is left."""
    record = host_var(host_vars, "exchange_eems")
    if isinstance(record, dict) and record.get("state"):
        record = dict(record)
        if isinstance(record.get("error"), str):
            record["error"] = own_words(record["error"])
        return record
    found = _reason_from_steps(host_vars)
    state, error = found or ("no_result", "no EEMS result was recorded for this server (it left the play before "
                                          "EEMS was handled; see the task output above for the reason)")
    return {"name": host, "state": state, "before": None, "after": None, "changed": False, "changes": [],
            "left_alone": [], "organization": None, "error": error}


def summarize(hosts, hostvars):
    """The summary dict published as ``exchange_eems_summary``.

    ``hosts`` are the play's hosts (all of them, failed and unreachable
    included); ``hostvars`` maps a host to its variables (Ansible's
    ``hostvars`` or a plain dict).
    """
    servers, by_status, organizations = {}, {}, {}
    for host in sorted({str(h) for h in hosts or []}):
        entry = host_record(host, host_var(hostvars, host, {}))
        state = entry.get("state") or "no_result"
        after = _mapping(entry.get("after"))
        before = _mapping(entry.get("before"))
        # A verdict, where the module reached one (even on a failed host),
        # says more than the state; otherwise the state and its error.
        status = after.get("status") or (state if state != "handled" else "unknown")
        cause = after.get("cause") or entry.get("error") or (None if state == "handled" else state)
        by_status[status] = by_status.get(status, 0) + 1
        servers[host] = {"status": status, "cause": cause, "remedy": after.get("remedy"),
                         "before": before.get("status"), "before_cause": before.get("cause"),
                         "changed": bool(entry.get("changed")), "state": state}
        org = _mapping(entry.get("organization"))
        name = org.get("name")
        # A server whose build has no MitigationsEnabled (2013, CUs before
        # September 2021) reads None: it gives way to one that read the flag.
        if name and (name not in organizations or org.get("changed")
                     or (organizations[name]["mitigations_enabled"] is None
                         and org.get("mitigations_enabled") is not None)):
            organizations[name] = {"mitigations_enabled": org.get("mitigations_enabled"),
                                   "set_by": org.get("set_by"), "message": org.get("message")}
    return {
        "total": len(servers),
        "by_status": by_status,
        "organizations": organizations,
        "servers": servers,
        "not_working": [h for h, row in servers.items() if row["status"] != "working"],
        "errors": [h for h, row in servers.items() if row["state"] != "handled"],
    }


def summary_lines(summary):
    """The lines a person reads: the counts, each organisation, then one line per server."""
    summary = _mapping(summary)
    lines = ["EEMS: " + json.dumps(summary.get("by_status") or {}, sort_keys=True)]
    for org in _mapping(summary.get("organizations")).values():
        if org.get("message"):
            lines.append(str(org["message"]))
    for host, row in _mapping(summary.get("servers")).items():
        text = "%s: %s" % (host, row.get("status"))
        if row.get("cause"):
            text += " (%s) %s" % (row["cause"], row.get("remedy") or "")
        lines.append(text)
    return lines
