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
}


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
        if not exchange.get("organization_mitigations_enabled"):
            return verdict("disabled", "disabled_at_organization",
                           "MitigationsEnabled is False on the organisation %s" % exchange.get("organization_name"))
        if not exchange.get("server_mitigations_enabled"):
            return verdict("disabled", "disabled_at_server", "MitigationsEnabled is False on the server")
    service = next((s for s in facts.get("services") or [] if s.get("name") == "MSExchangeMitigation"), None)
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
