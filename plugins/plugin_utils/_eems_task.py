# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one ``onprem.exchange.eems`` task decides, as plain functions.

For internal collection use only; the interface may change in any release.

No Ansible imports and no host calls.  ``_eems_settings`` says what differs
and ``_eems_status`` judges evidence; this module puts them together for a
task: which options may run together, whether this run forces a Mitigation
Service check, the final verdict with its remedy, the organisation entry of
the result and the messages a person reads.  The caller adds the host's name
to a refusal (``EemsSettingsError``).
"""
from __future__ import annotations

from ._eems_settings import EemsSettingsError, check_is_due, eems_installed, mitigation_service, stale_disabled_notice
from ._eems_status import REMEDIES, judge_eems, remedy_with_plan

__all__ = ["check_verify_options", "wants_forced_check", "final_verdict", "organization_entry",
           "without_raced_organization", "run_message", "not_converged_message", "route_facts"]


def check_verify_options(verify, verify_timeout, verify_interval):
    """Refuse verification settings that cannot work."""
    if verify_timeout < 0 or verify_interval <= 0:
        raise EemsSettingsError("verify_timeout must be 0 or more and verify_interval more than 0")
    if verify and verify_timeout == 0:
        raise EemsSettingsError("verify=true needs a verify_timeout above 0 to wait for the check")


def route_facts(state):
    """The planner's input for the remedy's route, from Get-EemsState's answer."""
    return {"build": (state.get("setup") or {}).get("exsetup_version"),
            "roles": (state.get("exchange") or {}).get("roles") or ["Mailbox"],
            "setup_watermark": state.get("setup_watermark")}


def wants_forced_check(state, change_plan, verdict, classification, verify=False, verify_timeout=900):
    """Whether this run forces a Mitigation Service check.  Only where one
    can run: EEMS installed, Setup finished, service running (or about to),
    both flags on; then when asked (``verify``), when something changed, or
    when the newest evidence is stale (``check_is_due``)."""
    if not eems_installed(state) or state.get("setup_watermark") or verify_timeout == 0:
        return False
    service = mitigation_service(state) or {}
    will_run = service.get("state") == "Running" or bool((change_plan["service"] or {}).get("start"))
    if not will_run:
        return False
    exchange = state.get("exchange") or {}
    org_on = dict((c["setting"], c["after"]) for c in change_plan["changes"] if c["scope"] == "organization") \
        .get("MitigationsEnabled", exchange.get("organization_mitigations_enabled"))
    server_on = change_plan["server"].get("mitigations_enabled", exchange.get("server_mitigations_enabled"))
    if exchange and not (org_on and server_on):
        return False  # switched off: a check would only say so
    return bool(verify or change_plan["changes"] or check_is_due(state, verdict, classification))


def final_verdict(state, classification, plan, fresh=None, start_error=None):
    """The verdict the task returns: a service that will not start or an
    unfinished Setup first, then a forced check's evidence (``fresh``), else
    the standing evidence; the remedy names the plan's route."""
    if start_error:
        verdict = {"status": "not_working", "cause": "service_will_not_start",
                   "remedy": REMEDIES["service_will_not_start"], "evidence": start_error}
    elif state.get("setup_watermark") and eems_installed(state):
        verdict = {"status": "not_working", "cause": "setup_incomplete", "remedy": REMEDIES["setup_incomplete"],
                   "evidence": "Setup watermark %s" % state["setup_watermark"]}
    elif fresh is not None:
        verdict = dict(fresh)
    else:
        verdict = judge_eems(state, classification)
        if verdict["status"] == "working" and stale_disabled_notice(state):
            verdict = {"status": "unknown", "cause": "no_evidence", "remedy": REMEDIES["no_evidence"],
                       "evidence": "the newest event predates switching EEMS on: %s"
                                   % state["mitigation_events"][0].get("message")}
    if verdict["cause"]:
        verdict["remedy"] = remedy_with_plan(verdict["cause"], plan)
    verdict["build"] = classification.get("build") if classification else None
    return verdict


def organization_entry(state, desired, change_plan, host, outcome):
    """The ``organization`` entry of the result: the flag, whether this task
    manages it, and what happened to it (``outcome`` is the write's answer,
    None before or without a write)."""
    exchange = state.get("exchange") or {}
    name = exchange.get("organization_name")
    wanted = desired.get("organization_mitigations_enabled")
    entry = {"name": name, "mitigations_enabled": exchange.get("organization_mitigations_enabled"),
             "managed": wanted is not None, "changed": False}
    if wanted is None:
        entry["message"] = "organisation-wide flag not managed by this task"
    elif entry["mitigations_enabled"] is None:
        # A build before the September 2021 CUs has no such property: this
        # server can neither read nor set the flag.
        entry["message"] = ("organisation %s: this server's Exchange build has no MitigationsEnabled setting; a "
                            "server from 2016 CU22 / 2019 CU11 on reads and sets it" % (name,))
    elif change_plan["organization"] is None:
        entry["message"] = ("organisation %s already has MitigationsEnabled=%s; it is organisation-wide, so "
                            "nothing was sent" % (name, wanted))
    elif outcome is None:
        entry["message"] = "organisation %s: MitigationsEnabled would be set to %s by %s" % (name, wanted, host)
    elif outcome["changed"]:
        entry.update(changed=True, set_by=host,
                     message="organisation %s: MitigationsEnabled set to %s by %s, once for the whole "
                             "organisation" % (name, wanted, host))
    else:
        entry["message"] = ("organisation %s: MitigationsEnabled was already %s when %s came to set it "
                            "(set meanwhile by another host)" % (name, wanted, host))
    return entry


def without_raced_organization(changes, org_outcome):
    """The changes this host really made: when another host of the
    organisation set the flag between our read and our write, it is not ours."""
    if org_outcome is not None and not org_outcome["changed"]:
        return [c for c in changes if c["scope"] != "organization"]
    return changes


def run_message(host, changes, verdict, check_mode=False):
    text = "%s: EEMS %s" % (host, verdict["status"].replace("_", " "))
    if verdict.get("cause"):
        text += " (%s)" % verdict["cause"].replace("_", " ")
    if changes:
        text += "; %d setting(s) %s" % (len(changes), "would change" if check_mode else "changed")
    return text


def not_converged_message(host, remaining, verdict, start_error=None):
    return "%s: EEMS settings did not converge: %s.%s%s" % (
        host, "; ".join("%s %s is %r, wanted %r" % (c["scope"], c["setting"], c["before"], c["after"])
                        for c in remaining),
        " %s" % start_error if start_error else "",
        " Remedy: %s" % verdict["remedy"] if verdict.get("remedy") else "")
