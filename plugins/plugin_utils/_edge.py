# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edge Transport servers: how they are told apart, and what is not done on them.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports.  An Edge Transport server has no Mitigation
Service (Microsoft Learn, "Exchange Emergency Mitigation (EM) service": it
comes with the Mailbox role; CSS-Exchange HealthChecker judges EEMS only where
IsEdgeServer is false) and no IIS (HealthChecker: "No IIS information to
review on an Edge Server"), so EEMS and URL Rewrite mitigations do not apply:
the modules report such a server as not applicable, never as a failure or a
finding.
"""
from __future__ import annotations

EDGE_ROLE = "Edge"
NO_EEMS = "Edge Transport servers do not run the Mitigation Service"
NO_IIS = "Edge Transport servers have no IIS site, so URL Rewrite mitigations do not apply"


def is_edge_transport(raw):
    """True for an Edge Transport server's answer (Get-ExchangeFacts,
    Get-EemsState, Get-MaintenanceState, Get-RewriteConfiguration): the role's
    registry key the host script read (``edge_transport``), or ``Edge`` among
    the roles Get-ExchangeServer gave (its ServerRole for that role)."""
    raw = raw if isinstance(raw, dict) else {}
    if raw.get("edge_transport") is True:
        return True
    exchange = raw.get("exchange") if isinstance(raw.get("exchange"), dict) else {}
    roles = exchange.get("roles") or raw.get("roles") or []
    if isinstance(roles, str):
        roles = roles.split(",")
    return any(str(role).strip().lower() in ("edge", "edgetransport") for role in roles)


def eems_result(host, verdict, build=None):
    """What onprem.exchange.eems returns for an Edge Transport server: ok,
    nothing changed, the not-applicable verdict and the reason."""
    verdict = dict(verdict, build=build)
    return {
        "changed": False,
        "changes": [],
        "left_alone": [],
        "settings": {},
        "organization": {"name": None, "mitigations_enabled": None, "managed": False, "changed": False,
                         "message": "not read: %s" % NO_EEMS},
        "eems": verdict,
        "verification": {"performed": False, "forced_check": False, "reason": NO_EEMS},
        "not_applicable": True,
        "skipped_reason": NO_EEMS,
        "msg": "%s: EEMS not applicable (%s)" % (host, NO_EEMS),
    }


def mitigation_result(host, build=None):
    """What onprem.exchange.mitigation returns for an Edge Transport server."""
    return {
        "changed": False,
        "build": build,
        "rule_changes": [],
        "changes": [],
        "eems_blocked": [],
        "backup": None,
        "mitigations": [],
        "findings": [],
        "not_applicable": True,
        "skipped_reason": NO_IIS,
        "msg": "%s: mitigations not applicable (%s)" % (host, NO_IIS),
    }
