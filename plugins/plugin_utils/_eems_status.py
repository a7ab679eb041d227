# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge, from one server's gathered facts, whether EEMS works for it and why not.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports.  Reachability of the OCS endpoint alone is
no proof (an outdated server reaches it and still fails), so the verdict
rests on the server's build, its flags, the service state and the text of
the Mitigation Service's own events.
"""
from __future__ import annotations

import os
import re

import yaml

from ._edge import NO_EEMS as EDGE_NO_EEMS, is_edge_transport

# The event texts the judge knows, each with its published source.
EVENTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_data", "eems_events.yml")
_EVENT_CAUSES = None

REMEDIES = {
    "not_applicable": "Exchange 2013 has no Emergency Mitigation Service: apply interim mitigations and migrate.",
    "edge_transport": "Nothing to do: %s (Microsoft Learn, \"Exchange Emergency Mitigation (EM) service\": it "
                      "comes with the Mailbox role). Keep the server patched." % EDGE_NO_EEMS,
    "build_before_march_2023": "Install the update the plan names: builds older than the March 2023 SU can no longer "
                               "fetch mitigation definitions (the OCS certificate type they trust was retired).",
    "build_before_june_2026": "Install the update the plan names: builds older than the June 2026 SU cannot use "
                              "mitigation definitions published from July 2026 on.",
    "tls_inspecting_proxy": "Exempt officeclient.microsoft.com from TLS inspection on the proxy, or set "
                            "InternetWebProxy to a proxy that does not inspect it.",
    "endpoint_unreachable": "Allow outbound HTTPS from the server (or its InternetWebProxy) to "
                            "officeclient.microsoft.com.",
    "service_not_running": "Set MSExchangeMitigation to Automatic and start it.",
    "disabled_at_organization": "Enable it for the organisation: Set-OrganizationConfig -MitigationsEnabled $true "
                                "(onprem.exchange.eems does this once per organisation).",
    "disabled_at_server": "Enable it for the server: Set-ExchangeServer -MitigationsEnabled $true.",
    "exchange_cmdlets_unavailable": "Give the module an Exchange Management Shell credential (ems_username and "
                                    "ems_password, or the connection's own).",
    "no_evidence": "Wait for the hourly check or restart MSExchangeMitigation, then gather facts again.",
    "service_will_not_start": "MSExchangeMitigation will not start: read the System log (Service Control Manager "
                              "events 7000, 7009, 7023) for the reason, check that MSExchangeADTopology runs and "
                              "that the service account can log on, then run onprem.exchange.eems again.",
    "setup_incomplete": "Exchange Setup did not finish and left the services disabled: reboot, finish Setup "
                        "(the plan's resume_setup step), then run onprem.exchange.eems again.",
    "signing_certificate_untrusted": "The server rejects the signature of the mitigation definitions: check that it "
                                     "trusts the Microsoft Root Certificate Authority 2011 chain (trusted root "
                                     "auto-update or a current root store) and that its build is current, then run "
                                     "onprem.exchange.eems with verify=true.",
    "fetch_failed": "The Mitigation Service could not fetch definitions and the event does not say why: read "
                    "<ExchangeInstall>\\Logging\\MitigationService for the FetchMitigation line and run "
                    "$exscripts\\Test-MitigationServiceConnectivity.ps1 on the server.",
    "unknown_error": "The Mitigation Service reported an error this toolkit does not recognise (its text is in "
                     "event_text): read it and <ExchangeInstall>\\Logging\\MitigationService, fix the cause, then "
                     "run onprem.exchange.eems with verify=true.",
    "no_evidence_after_check": "The forced check wrote no Mitigation Service event in time: read the Application "
                               "log (source MSExchange Mitigation Service) and <ExchangeInstall>\\Logging\\"
                               "MitigationService, or raise verify_timeout.",
}


def _watermark_text(watermark):
    # build_facts reports {role, watermark, action}; other readers the bare string.
    return watermark.get("watermark") if isinstance(watermark, dict) else str(watermark)


def load_event_causes(path=EVENTS_PATH):
    """``[(cause, [normalised phrases])...]`` in the data file's order."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return [(entry["cause"], [normalize_event_text(p) for p in entry["phrases"]]) for entry in data["causes"]]


def _event_causes():
    global _EVENT_CAUSES
    if _EVENT_CAUSES is None:
        _EVENT_CAUSES = load_event_causes()
    return _EVENT_CAUSES


_DISABLED_PHRASES = None


def is_disabled_notice(event):
    """A 1005 saying the service runs with EEMS switched off (an unconfirmed,
    lab-only form: see ``disabled_notice`` in the data file)."""
    global _DISABLED_PHRASES
    if _DISABLED_PHRASES is None:
        with open(EVENTS_PATH, encoding="utf-8") as handle:
            notice = yaml.safe_load(handle).get("disabled_notice") or {}
        _DISABLED_PHRASES = [normalize_event_text(p) for p in notice.get("phrases") or []]
    if (event or {}).get("id") != 1005:
        return False
    text = normalize_event_text(event.get("message"))
    return any(phrase in text for phrase in _DISABLED_PHRASES)


_QUOTES = re.compile(r"[\u2018\u2019\u02bc`]|''")
_SPACES = re.compile(r"\s+")


def normalize_event_text(text):
    """Lower case, one space for any whitespace run, one plain apostrophe for
    typographic or doubled ones (the EEMS log doubles them: xml''s)."""
    text = _QUOTES.sub("'", str(text or ""))
    return _SPACES.sub(" ", text).strip().lower()


def cause_from_event(message, classification=None):
    """The cause a Mitigation Service error text names, ``unknown_error`` when
    it names none the data file knows.

    A bare "Exception encountered while fetching mitigations" says only that
    the fetch failed; on a build the catalog places before the March 2023 SU
    that is the published symptom of the retired OCS certificate.
    """
    text = normalize_event_text(message)
    cause = next((cause for cause, phrases in _event_causes() if any(p in text for p in phrases)), "unknown_error")
    if cause == "fetch_failed" and (classification or {}).get("eems_fetch_ok") is False:
        return "build_before_march_2023"
    return cause


# The raw text travels with the verdict, bounded: an event can carry a
# long stack trace.
EVENT_TEXT_LIMIT = 4000


def _event_verdict(status, cause, evidence, message):
    text = str(message or "")
    return {"status": status, "cause": cause, "remedy": REMEDIES.get(cause), "evidence": evidence,
            "event_text": text[:EVENT_TEXT_LIMIT]}


def judge_eems(facts, classification=None):
    """Return ``{status, cause, remedy, evidence}``.

    ``status`` is one of ``working``, ``not_working``, ``disabled``,
    ``not_applicable`` (2013, or an Edge Transport server: cause
    ``edge_transport``) or ``unknown`` (not enough facts to say).
    ``classification`` is the catalog's view of the build (a dict with
    ``eems_fetch_ok`` / ``eems_2026_ok``), used when events are silent.
    """
    classification = classification or {}

    def verdict(status, cause, evidence):
        return {"status": status, "cause": cause, "remedy": REMEDIES.get(cause), "evidence": evidence}

    raw_build = ((facts.get("setup") or {}).get("exsetup_version") or "").split(".")
    # ExSetup pads the minor part ("15.00.1497.048"), so compare numbers.
    is_2013 = len(raw_build) > 1 and raw_build[0] == "15" and raw_build[1].isdigit() and int(raw_build[1]) == 0
    if is_edge_transport(facts):
        # CSS-Exchange HealthChecker judges EEMS only where IsEdgeServer is
        # false (Analyzer/Security/Invoke-AnalyzerSecurityMitigationService.ps1).
        return verdict("not_applicable", "edge_transport", EDGE_NO_EEMS)
    if is_2013 or classification.get("product") == "Exchange 2013":
        return verdict("not_applicable", "not_applicable", "Exchange 2013")
    exchange = facts.get("exchange") or {}
    if exchange:
        # None means the build has no such property (before the September
        # 2021 CUs): no switch to blame, the build checks below decide.
        if exchange.get("organization_mitigations_enabled") is False:
            return verdict("disabled", "disabled_at_organization",
                           "MitigationsEnabled is False on the organisation %s" % exchange.get("organization_name"))
        if exchange.get("server_mitigations_enabled") is False:
            return verdict("disabled", "disabled_at_server", "MitigationsEnabled is False on the server")
    service = next((s for s in facts.get("services") or [] if s.get("name") == "MSExchangeMitigation"), None)
    if service is not None and service.get("state") != "Running" and facts.get("setup_watermark"):
        # Setup disables the Exchange services while it runs; an interrupted
        # Setup leaves them so, and starting the service alone is no cure.
        return verdict("not_working", "setup_incomplete",
                       "MSExchangeMitigation is %s and Setup left a watermark (%s)"
                       % (service.get("state"), _watermark_text(facts.get("setup_watermark"))))
    if service is not None and service.get("state") != "Running":
        return verdict("not_working", "service_not_running",
                       "MSExchangeMitigation is %s (%s)" % (service.get("state"), service.get("start_mode")))
    if classification.get("eems_fetch_ok") is False:
        return verdict("not_working", "build_before_march_2023", "build %s" % classification.get("build"))
    events = facts.get("mitigation_events") or []
    latest = events[0] if events else None  # newest first
    if latest and latest.get("id") == 1008:
        message = latest.get("message") or ""
        return _event_verdict("not_working", cause_from_event(message, classification),
                              "event 1008 at %s: %s" % (latest.get("time"), message[:300]), message)
    if classification.get("eems_2026_ok") is False:
        return verdict("not_working", "build_before_june_2026", "build %s" % classification.get("build"))
    if not exchange:
        return verdict("unknown", "exchange_cmdlets_unavailable",
                       (facts.get("ems") or {}).get("error") or "no Exchange facts")
    if latest and latest.get("id") in (1005, 1006):
        return verdict("working", None, "event %s at %s" % (latest.get("id"), latest.get("time")))
    return verdict("unknown", "no_evidence", "no Mitigation Service event yet")


# Causes the build is to blame for: an update fixes them, so their remedy
# names the update the planner picks.
BUILD_CAUSES = ("build_before_march_2023", "build_before_june_2026")
_STEP_WORDS = {"install_cu": "{update}", "upgrade_to_se": "Exchange SE {update}", "install_su": "{update}",
               "install_dotnet": "{update}", "resume_setup": "finish the interrupted Setup",
               "free_disk": "free disk space"}


def remedy_with_plan(cause, plan):
    """The remedy for ``cause``; for build causes it names the planner's steps.

    ``plan`` is ``_update_planner.plan_update(..., policy={"target": "eems"})``
    output (or None).  Reboots are left out: every install step implies one.
    """
    base = REMEDIES.get(cause)
    if cause not in BUILD_CAUSES or not plan:
        return base
    words = [_STEP_WORDS[s["action"]].format(update=s.get("update") or s["action"])
             for s in plan.get("steps") or [] if s.get("action") in _STEP_WORDS]
    reason = base.split(": ", 1)[-1]
    parts = []
    if words:
        final = (plan.get("steps") or [{}])[-1].get("to_build")
        parts.append("Install %s (to %s): %s" % (" then ".join(words), final, reason))
    if not plan.get("reachable"):
        unreachable = next((f for f in plan.get("findings") or [] if f.get("id") == "eems_target_unreachable"), None)
        if unreachable:
            parts.append(unreachable["message"] + " " + (unreachable.get("remedy") or ""))
        elif not words:
            parts.append(base)
    return " ".join(p.strip() for p in parts) or base


def judge_check(events, applied_before=None, applied_after=None, checked_from=None, finished=False,
                classification=None):
    """Judge the evidence a forced check left, or return None to keep waiting.

    ``events`` are Mitigation Service events written since ``checked_from``
    (the restart), newest first.  An error event decides at once; a 1005
    ends a successful check; 1006 alone (a mitigation applied, the check
    maybe still running) or a grown applied list counts only once
    ``finished`` (the wait is over).  With ``finished`` and nothing at all,
    the verdict is ``unknown``/``no_evidence_after_check``.
    """

    def verdict(status, cause, evidence):
        return {"status": status, "cause": cause, "remedy": REMEDIES.get(cause), "evidence": evidence}

    oldest_first = list(reversed(events or []))
    for event in oldest_first:
        if event.get("id") == 1008:
            message = event.get("message") or ""
            return _event_verdict("not_working", cause_from_event(message, classification),
                                  "event 1008 at %s after the forced check: %s" % (event.get("time"), message[:300]),
                                  message)
    for event in oldest_first:
        if is_disabled_notice(event):
            return verdict("disabled", "disabled_at_organization" if "organization: false" in
                           event["message"].lower() else "disabled_at_server",
                           "event 1005 at %s: %s" % (event.get("time"), event.get("message")))
        if event.get("id") == 1005:
            return verdict("working", None, "event 1005 at %s after the forced check" % event.get("time"))
    if not finished:
        return None
    applied = next((e for e in oldest_first if e.get("id") == 1006), None)
    if applied:
        return verdict("working", None, "event 1006 at %s after the forced check" % applied.get("time"))
    grown = sorted(set(applied_after or []) - set(applied_before or []))
    if grown:
        return verdict("working", None, "MitigationsApplied gained %s after the forced check" % ", ".join(grown))
    return verdict("unknown", "no_evidence_after_check",
                   "no Mitigation Service event since the forced check at %s" % (checked_from or "?"))
