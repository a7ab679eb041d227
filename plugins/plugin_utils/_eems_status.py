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

# Markers in event 1008 text and what each one means.  Order matters: the
# first marker found wins.
_EVENT_CAUSES = (
    ("untrusted endpoint", "build_before_march_2023"),
    ("unknown issuer or eku mismatch", "build_before_june_2026"),
    ("chain validation failed", "tls_inspecting_proxy"),
    ("could not establish trust relationship", "tls_inspecting_proxy"),
    ("unable to connect", "endpoint_unreachable"),
)

REMEDIES = {
    "not_applicable": "Exchange 2013 has no Emergency Mitigation Service: apply interim mitigations and migrate.",
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
    "no_evidence_after_check": "The forced check wrote no Mitigation Service event in time: read the Application "
                               "log (source MSExchange Mitigation Service) and <ExchangeInstall>\\Logging\\"
                               "MitigationService, or raise verify_timeout.",
}


def _watermark_text(watermark):
    # build_facts reports {role, watermark, action}; other readers the bare string.
    return watermark.get("watermark") if isinstance(watermark, dict) else str(watermark)


def cause_from_event(message):
    text = (message or "").lower()
    for marker, cause in _EVENT_CAUSES:
        if marker in text:
            return cause
    return "unknown_error"


def judge_eems(facts, classification=None):
    """Return ``{status, cause, remedy, evidence}``.

    ``status`` is one of ``working``, ``not_working``, ``disabled``,
    ``not_applicable`` (2013) or ``unknown`` (not enough facts to say).
    ``classification`` is the catalog's view of the build (a dict with
    ``eems_fetch_ok`` / ``eems_2026_ok``), used when events are silent.
    """
    classification = classification or {}

    def verdict(status, cause, evidence):
        return {"status": status, "cause": cause, "remedy": REMEDIES.get(cause), "evidence": evidence}

    raw_build = ((facts.get("setup") or {}).get("exsetup_version") or "").split(".")
    # ExSetup pads the minor part ("15.00.1497.048"), so compare numbers.
    is_2013 = len(raw_build) > 1 and raw_build[0] == "15" and raw_build[1].isdigit() and int(raw_build[1]) == 0
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
        cause = cause_from_event(latest.get("message"))
        return verdict("not_working", cause, "event 1008 at %s: %s" % (latest.get("time"), latest.get("message", "")[:300]))
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


def _is_disabled_notice(event):
    return "disabled by configuration" in (event.get("message") or "").lower()


def judge_check(events, applied_before=None, applied_after=None, checked_from=None, finished=False):
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
            return verdict("not_working", cause_from_event(event.get("message")),
                           "event 1008 at %s after the forced check: %s"
                           % (event.get("time"), (event.get("message") or "")[:300]))
    for event in oldest_first:
        if event.get("id") == 1005 and _is_disabled_notice(event):
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
