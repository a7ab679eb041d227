# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller reads out of Get-ExchangeFacts' answer.

``planner_facts`` picks the planner's input (see _update_planner) out of the
host's raw facts; ``local_findings`` turns facts only the host shows (the EMS
session, disabled services, the EEMS verdict) into audit findings.  Plain
Python: build_facts and update_install both use them, and the unit tests call
them directly.
"""
from __future__ import annotations

from . import _setup_prerequisites as setup_prereqs
from ._edge import EDGE_ROLE, is_edge_transport


def planner_facts(raw):
    """The planner's input (see _update_planner) from the host's raw facts."""
    exchange = raw.get("exchange") or {}
    watermark = raw.get("setup_watermark") or {}
    os_info = raw.get("os") or {}
    return {
        "build": (raw.get("setup") or {}).get("exsetup_version"),
        "dotnet_release": raw.get("dotnet_release"),
        "pending_reboot": (raw.get("pending_reboot") or {}).get("pending"),
        "setup_watermark": watermark.get("watermark") or None,
        "free_disk_gb": raw.get("free_disk_gb"),
        # The planner reads the caption or the version (_exchange_catalog.normalise_os).
        "os": os_info.get("caption") or None,
        "os_version": os_info.get("version") or None,
        "roles": exchange.get("roles") or ([EDGE_ROLE] if is_edge_transport(raw) else []),
        "edge_transport": is_edge_transport(raw),
    }


def plan_policy(args, target):
    """The planner's policy from build_facts' options (``target`` already checked)."""
    policy = {"target": target, "esu_enrolled": args["esu_enrolled"], "installer_format": args["installer_format"]}
    if args.get("available_media") is not None:
        policy["available_media"] = args["available_media"]
    if args.get("min_free_disk_gb") is not None:
        policy["min_free_disk_gb"] = args["min_free_disk_gb"]
    return policy


def local_findings(raw, eems, meant_off=()):
    findings = []
    if not (raw.get("ems") or {}).get("available"):
        findings.append({
            "id": "exchange_cmdlets_unavailable", "severity": "warning",
            "message": "Exchange cmdlets could not be used, so roles, DAG, database copies and EEMS flags are "
                       "unknown: %s" % ((raw.get("ems") or {}).get("error") or "no reason given"),
            # An Edge server has no /PowerShell endpoint and no RBAC: its cmdlets are local.
            "remedy": "Leave ems_mode at auto: an Edge Transport server's cmdlets come from its local Edge "
                      "snap-ins, which the WinRM account (a local administrator) may run."
                      if is_edge_transport(raw) else
                      "Set ems_username and ems_password (or the connection's ansible_user/ansible_password) to an "
                      "account with at least View-Only Organization Management; ems_mode=remote is the supported "
                      "way over WinRM.",
        })
    # A disabled Exchange service alone says nothing about Setup: admins turn
    # POP3, IMAP4 or UM off on purpose.  An interrupted Setup is read from its
    # watermark (the planner's setup_interrupted finding); here a disabled
    # service the admin has not named is only worth a look.
    off = {name.lower() for name in meant_off or ()}
    disabled = sorted(s["name"] for s in raw.get("services") or []
                      if s.get("name", "").startswith("MSExchange") and s.get("start_mode") == "Disabled"
                      and s["name"].lower() not in off)
    watermark = (raw.get("setup_watermark") or {}).get("watermark")
    if disabled and watermark:
        findings.append({
            "id": "exchange_services_disabled", "severity": "critical",
            "message": "Exchange services are disabled: %s, and Setup's watermark %r shows a run that stopped "
                       "part-way; Setup disables the services while it runs." % (", ".join(disabled), watermark),
            "remedy": "Finish the interrupted Setup (the plan's resume_setup step), then check every Exchange "
                      "service is back to its start mode.",
        })
    elif disabled:
        findings.append({
            "id": "exchange_services_disabled", "severity": "info",
            "message": "Exchange services are disabled: %s. No Setup watermark is present, so this is not an "
                       "interrupted install; it is usually an admin's choice (POP3, IMAP4, UM)." % ", ".join(disabled),
            "remedy": "If they are off on purpose, list them in services_meant_off (exchange_services_meant_off) "
                      "and this note goes away; otherwise set them back to Automatic.",
        })
    if eems["status"] in ("not_working", "disabled"):
        findings.append({
            "id": "eems_%s" % eems["cause"], "severity": "critical" if eems["status"] == "not_working" else "warning",
            "message": "The Emergency Mitigation Service is %s: %s (%s)." % (
                eems["status"].replace("_", " "), eems["cause"].replace("_", " "), eems["evidence"]),
            "remedy": eems["remedy"],
        })
    return findings


def setup_prerequisite_findings(raw, plan):
    """Audit findings for Setup's software prerequisites (see
    _setup_prerequisites): a missing one is critical when ``plan`` runs
    Setup (a CU or the SE upgrade), else a warning (the next CU stops on it);
    an older runtime than Health Checker expects is a warning."""
    missing, old, runs = setup_prereqs.assess(raw, plan)
    findings = []
    if missing:
        findings.append({
            "id": "setup_prerequisite_missing", "severity": "critical" if runs else "warning",
            "message": "%s. %s" % (setup_prereqs.missing_text(missing),
                                   "Exchange Setup's readiness check refuses to start without it, so the planned "
                                   "Cumulative Update cannot install." if runs else
                                   "The plan installs no Cumulative Update, but the next one will stop on it."),
            "remedy": setup_prereqs.fix(missing),
        })
    if old:
        findings.append({"id": "setup_prerequisite_old", "severity": "warning",
                         "message": setup_prereqs.old_text(old), "remedy": setup_prereqs.fix(old)})
    return findings
