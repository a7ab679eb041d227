# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the playbooks compute across the fleet, as named functions.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports: the per-host results a report is built
from, remediate.yml's sorting of servers, eems.yml's choice of one writer per
organisation, and the lines of the remediation outcome. ``hostvars`` is
Ansible's ``hostvars`` or a plain dict of dicts.
"""
from __future__ import annotations

import re

# Plan steps that finish an interrupted Setup: only with its own CU media.
RESUME_SETUP = "resume_setup"


def host_var(mapping, key, default=None):
    """``mapping.get`` that also works on Ansible's lazy host variables; None counts as absent."""
    try:
        value = mapping[key]
    except (KeyError, TypeError, AttributeError):
        return default
    return default if value is None else value


def own_words(message):
    """A result's ``msg`` as text, without the "Task failed: " ansible-core
    puts before a failed or unreachable task's own message."""
    return re.sub(r"^Task failed: ", "", str(message))


def _has(mapping, key):
    """Whether the variable is defined at all (None included), on lazy host variables too."""
    try:
        mapping[key]
    except (KeyError, TypeError, AttributeError):
        return False
    return True


def _host_names(hosts):
    if isinstance(hosts, (str, bytes)) or not hasattr(hosts, "__iter__"):
        raise TypeError("the hosts must be a list of host names, got %s" % type(hosts).__name__)
    return [str(host) for host in hosts]


def host_results(hosts, hostvars, name, only_with=None):
    """``{host: hostvars[host][name] or None}`` for each host, in order.

    With ``only_with``, hosts where that variable is not defined are left out
    (a server the run did not handle is not a row; one defined as None is)."""
    results = {}
    for host in _host_names(hosts):
        host_vars = host_var(hostvars, host, {})
        if only_with and not _has(host_vars, only_with):
            continue
        results[host] = host_var(host_vars, name)
    return results


def remediation_groups(audit, resume_installer=""):
    """remediate.yml's two groups for a server, from its audit:

    * ``exchange_remediate_patch`` when the plan has any step (a fallback
      target counts) and an interrupted Setup, if any, can be finished (its CU
      media given as ``resume_installer``); else ``exchange_remediate_no_patch``;
    * ``exchange_remediate_hold`` (interim mitigations tonight) when the target
      is out of reach or an interrupted Setup is in the way; else
      ``exchange_remediate_covered``. A server without an audit plan is covered.
    """
    audit = audit if isinstance(audit, dict) else {}
    plan = audit.get("plan")
    steps = plan.get("steps") if isinstance(plan, dict) else None
    steps = [s for s in (steps or []) if isinstance(s, dict)]
    actions = [s.get("action") for s in steps]
    resumable = RESUME_SETUP not in actions or bool(str(resume_installer or ""))
    patch = "exchange_remediate_patch" if steps and resumable else "exchange_remediate_no_patch"
    held = isinstance(plan, dict) and (not plan.get("reachable", True) or RESUME_SETUP in actions)
    return [patch, "exchange_remediate_hold" if held else "exchange_remediate_covered"]


def eems_org_writers(hosts, hostvars, read="exchange_eems_before"):
    """``{organisation: host}``: the first host by name, per organisation, whose
    EEMS read (``read``) names its organisation and shows the Mitigation Service."""
    writers = {}
    for host in sorted(_host_names(hosts)):
        result = host_var(host_var(hostvars, host, {}), read, {})
        org = host_var(host_var(result, "organization", {}), "name")
        start_type = host_var(host_var(host_var(result, "settings", {}), "service", {}), "StartType")
        if org and org not in writers and start_type:
            writers[org] = host
    return writers


def remediation_lines(remediation):
    """The lines remediate.yml shows: the counts, each server's verdict and reason, the report."""
    summary = host_var(remediation, "summary", {})
    lines = ["EEMS working before: %s, after: %s of %s; updated: %s" % (
        host_var(summary, "working_before"), host_var(summary, "working_after"), host_var(summary, "total"),
        host_var(summary, "updated"))]
    for server in host_var(remediation, "servers", []) or []:
        reason = host_var(server, "reason")
        lines.append("%s: %s%s" % (host_var(server, "name"), host_var(server, "verdict"), (" - %s" % reason) if reason else ""))
    lines.append("Report: %s" % host_var(host_var(remediation, "files", {}), "html"))
    return lines
