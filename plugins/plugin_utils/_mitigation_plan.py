# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one ``onprem.exchange.mitigation`` task decides, as plain functions.

For internal collection use only; the interface may change in any release.

No Ansible imports and no host calls: the action plugin reads the server
(Get-RewriteConfiguration), asks these functions what to do, sends what they
say, and reads again.  Rule-level judgement lives in ``_mitigations``; this
module puts it together for a task: one target per selected mitigation, the
combined change list, whether URL Rewrite must be installed first, which
EEMS-owned rules must be blocked, the per-mitigation report, and which
rewrite backup a restore means.

Every refusal is a ``MitigationError`` whose text a person can act on; the
caller adds the host's name.
"""
from __future__ import annotations

from . import _mitigations as mit
from ._exchange_build import ExchangeBuild

__all__ = ["task_plan", "url_rewrite_decision", "eems_block_warnings", "blocked_list_with", "rewrite_summary",
           "protection_entries", "all_findings", "leftover_changes", "not_converged_message", "choose_backup",
           "restore_verified", "code_fixes", "NAME_REQUIRED"]

NAME_REQUIRED = "name (a mitigation, a CVE such as CVE-2022-41040, or all) is required unless state=restored"


def task_plan(data, definitions, fixes, config, state, remove_after_fix=False, repair=False, build=None):
    """Per mitigation: the target its ``state`` and code-fix status give, and
    the changes that reach it, planned in order on the configuration the
    previous ones leave.

    Returns ``{"targets", "planned", "changes", "blocks", "warnings"}``:
    ``planned`` is the configuration after every change, ``blocks`` the EEMS
    mitigation IDs to block before their rules go, ``warnings`` the notes a
    person must read (no host name; the caller adds it).
    """
    planned, changes, blocks, targets, warnings = config, [], [], [], []
    for definition, fix in zip(definitions, fixes):
        target = mit.resolve_state(state, fix, mit.keeps_after_fix(definition, remove_after_fix))
        targets.append(target)
        if state == "auto" and fix is None:
            warnings.append("cannot tell from build %s whether the code fix for %s is installed; keeping the "
                            "mitigation in place" % (build, definition["cve"]))
        step = mit.plan(data, [definition], planned, target, repair=repair)
        planned = step["after"]
        changes += step["changes"]
        blocks += [b for b in step["eems_block"] if b not in blocks]
    return {"targets": targets, "planned": planned, "changes": changes, "blocks": blocks, "warnings": warnings}


def url_rewrite_decision(changes, rewrite, requirements, install_allowed, repository_url, package=None):
    """Whether URL Rewrite must be installed before ``changes`` (only when a
    rule is added and the module on the host is missing or too old).

    Returns ``{"install", "package", "text"}``; raises ``MitigationError``
    when it is needed and may not (or cannot) be installed.
    """
    ready, text = mit.url_rewrite_ready(rewrite or {}, requirements)
    install = any(c["op"].startswith("add") for c in changes) and not ready
    package = package or requirements.get("package")
    if install and not install_allowed:
        raise mit.MitigationError(
            "the IIS URL Rewrite module is %s; the mitigation needs URL Rewrite 2.1 (product version %s, rewrite.dll "
            "%s) or later. Set install_url_rewrite=true (with repository_url) to install %s from the internal "
            "repository, or install it yourself. Nothing was changed."
            % (text, requirements["min_version"], requirements["min_file_version"], package))
    if install and not repository_url:
        raise mit.MitigationError("install_url_rewrite=true needs repository_url (the internal package repository, "
                                  "e.g. exchange_repository_url). Nothing was changed.")
    return {"install": install, "package": package, "text": text}


def eems_block_warnings(blocks):
    """What a person must know when this run blocks EEMS-owned rules' IDs."""
    return ["the rule for EEMS mitigation %s is owned by the Mitigation Service; %s is added to the server's "
            "MitigationsBlocked before the rule is removed, or EEMS would put it back within the hour. Remove it "
            "from MitigationsBlocked (Set-ExchangeServer -MitigationsBlocked) if EEMS should manage it again."
            % (ident, ident) for ident in blocks]


def blocked_list_with(eems_state, blocks):
    """The server's MitigationsBlocked list with ``blocks`` added, or None
    when nothing is missing.  Raises ``MitigationError`` when the Exchange
    cmdlets could not be used (the list cannot be read, so nothing may be
    removed that EEMS would put back)."""
    exchange = (eems_state or {}).get("exchange")
    if not exchange:
        raise mit.MitigationError(
            "EEMS mitigation(s) %s must be blocked before their rules are removed, but the Exchange cmdlets could "
            "not be used: %s. Set ems_username/ems_password. Nothing was changed."
            % (", ".join(blocks), ((eems_state or {}).get("ems") or {}).get("error") or "no reason given"))
    current = list(exchange.get("mitigations_blocked") or [])
    present = {c.lower() for c in current}
    wanted = current + [b for b in blocks if b.lower() not in present]
    return None if wanted == current else {"current": current, "wanted": wanted}


def rewrite_summary(rewrite, requirements, install):
    """The ``url_rewrite`` entry of the result."""
    rewrite = rewrite or {}
    return {"installed": bool(rewrite.get("installed")), "product_version": rewrite.get("product_version"),
            "file_version": rewrite.get("file_version"), "min_version": requirements["min_version"],
            "min_file_version": requirements["min_file_version"], "install": install}


def protection_entries(data, definitions, fixes, targets, before, after):
    """One entry per mitigation: what protects the server from its CVE now
    (the code fix, the mitigation, or nothing), and what changed."""
    report = []
    for definition, fix, target in zip(definitions, fixes, targets):
        was = mit.assess(data, definition, before)
        now = mit.assess(data, definition, after)
        if fix:
            protected_by = "code_fix"
        elif now["present"]:
            protected_by = "mitigation"
        else:
            protected_by = "nothing"
        report.append({
            "name": definition["name"], "cve": definition["cve"], "title": definition["title"],
            "state": target, "kept_after_fix": target == "keep" and mit.in_place(definition, after),
            "code_fix": fix, "present_before": was["present"], "present": now["present"],
            "protected_by": protected_by,
            "providers": [p for rule in now["rules"] for p in rule["providers"]],
            "findings_before": was["findings"], "findings": now["findings"],
            "side_effects": definition["side_effects"] if now["present"] else [],
        })
    return report


def all_findings(report, config):
    """The mitigations' findings, then every dangerous rule not already named."""
    findings = [f for entry in report for f in entry["findings"]]
    seen = {(f["rule"], f["path"]) for f in findings}
    findings += [f for f in mit.dangerous_rules(config) if (f["rule"], f["path"]) not in seen]
    return findings


def leftover_changes(data, definitions, targets, config, repair=False):
    """What is still to do on ``config`` (read after applying): empty when converged."""
    leftover = []
    for definition, target in zip(definitions, targets):
        leftover += mit.plan(data, [definition], config, target, repair=repair)["changes"]
    return leftover


def not_converged_message(site, leftover, backup):
    backup_id = (backup or {}).get("id")
    return ("the rewrite configuration did not converge; still to do: %s. Backup %s holds the configuration from "
            "before this run (state=restored, restore_from=%s puts it back)."
            % ("; ".join(mit.describe_change(site, c) for c in leftover), backup_id, backup_id))


def choose_backup(backups, wanted="latest"):
    """The backup a restore means (``latest`` or an ID), refused when there
    is none, it does not exist, or restoring it would undo another change.

    Returns ``{"changed", "backup"}``: changed is False when the
    configuration already matches the backup.
    """
    backups = backups or []
    wanted = wanted or "latest"
    if not backups:
        raise mit.MitigationError("there is no rewrite configuration backup on this server to restore")
    chosen = backups[-1] if wanted == "latest" else next((b for b in backups if b["id"] == wanted), None)
    if chosen is None:
        raise mit.MitigationError("backup %s does not exist; backups on this server: %s"
                                  % (wanted, ", ".join(b["id"] for b in backups)))
    if chosen.get("blocked_by"):
        raise mit.MitigationError(
            "%s has changed since backup %s was made and changed it; restoring it would undo those other changes "
            "too, so nothing is restored. Compare it with its copy in the backup and put the rewrite entries back "
            "by hand." % (chosen["blocked_by"], chosen["id"]))
    return {"changed": not chosen.get("matches_current"), "backup": chosen}


def restore_verified(backups_after, backup_id):
    """Raise unless the configuration read after a restore matches ``backup_id``."""
    check = next((b for b in backups_after or [] if b["id"] == backup_id), {})
    if not check.get("matches_current"):
        raise mit.MitigationError("after restoring backup %s the configuration still differs from it" % backup_id)


def code_fixes(definitions, build, catalog):
    """Per definition: True/False/None (the build has, lacks, or cannot tell
    about its CVE's code fix).  ``build`` is parsed once here."""
    value = ExchangeBuild.parse(build) if isinstance(build, str) else build
    return [mit.code_fix_status(d, value, catalog) for d in definitions]
