# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight: is a server ready for each later job, and what to fix first.

For internal collection use only; the interface may change in any release.

Plain Python, no Ansible imports, no clock.  ``judge`` takes what one
server answered to every read-only host operation (or the error it gave
instead) plus the answer of Test-ExchangePrerequisite, and returns findings:
each with a severity (``blocker`` stops a job, ``warning`` does not), the
jobs it affects, what was found and the fix.

Which Exchange cmdlets each job runs is read from the host scripts
themselves (their ``Open-ExchangeSession ... -CommandName`` lists), so the
role check can never drift from what the jobs really call.
"""
from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from ._edge import is_edge_transport
from . import _setup_prerequisites as setup_prereqs
from ._host_call import SCRIPT_DIR
from ._staging import staging_dir_problem

JOBS = ("audit", "stage", "patch", "mitigate", "eems")

# The host operations each job sends, reads and writes (playbooks/*.yml and
# the actions they call).  Reads are what preflight runs itself.
JOB_OPERATIONS = {
    "audit": ("Get-ExchangeFacts",),
    "stage": ("Get-RepositoryManifest", "Get-StagedFile", "Invoke-PackageDownload"),
    "patch": ("Get-ExchangeFacts", "Get-MaintenanceState", "Enter-MaintenanceStep", "Exit-MaintenanceStep",
              "Get-ActiveDirectoryPrepState", "Test-ExchangeInstallHealth", "Get-InstallerTaskState",
              "Start-InstallerTask"),
    "mitigate": ("Get-RewriteConfiguration", "Get-EemsState", "Set-EemsServerConfig", "Set-RewriteRules"),
    "eems": ("Get-EemsState", "Get-MitigationServiceEvent", "Set-EemsServerConfig", "Set-EemsOrganizationConfig",
             "Set-MitigationServiceState"),
}

# The read-only host operations preflight runs on every server, in order.
READ_OPERATIONS = ("Get-HostIdentity", "Get-ExchangeFacts", "Get-EemsState", "Get-MaintenanceState",
                   "Get-RewriteConfiguration", "Get-ActiveDirectoryPrepState", "Test-ExchangeInstallHealth",
                   "Get-MitigationServiceEvent", "Get-InstallerTaskState", "Get-StagedFile", "Get-RepositoryManifest")

# Exchange Setup refuses to install or upgrade unless the account is in
# Organization Management (or Enterprise Admins): Setup's GlobalServerInstall
# rule, "You must be a member of the 'Organization Management' role group or a
# member of the 'Enterprise Admins' group to continue." (Microsoft support:
# https://support.microsoft.com/topic/46ac1161-fe06-9b10-4abd-522a50355a78).
SETUP_ROLE_GROUP = "Organization Management"

# .NET Framework 4.8 release key (the lowest 4.8 value):
# https://learn.microsoft.com/dotnet/framework/migration-guide/how-to-determine-which-versions-are-installed
DOTNET_48_RELEASE = 528040

# "At least 30 GB on the drive on which you install Exchange":
# https://learn.microsoft.com/exchange/plan-and-deploy/system-requirements
DEFAULT_MIN_FREE_DISK_GB = 30.0

# Where EEMS fetches its mitigations (officeclient.microsoft.com/* on 443):
# https://learn.microsoft.com/exchange/exchange-emergency-mitigation-service
DEFAULT_OCS_URL = "https://officeclient.microsoft.com/GetExchangeMitigations"

_COMMAND_NAME = re.compile(r"Open-ExchangeSession\b.*?-CommandName\s+(?P<names>'[^']+'(?:\s*,\s*'[^']+')*)", re.S)
_SECOND_HOP = ("0x80090311", "no logon servers")
# Job cmdlets that change the server's own object, so a management scope on
# the assignment decides whether they may run on a given server.
SERVER_WRITE_CMDLETS = ("Set-ExchangeServer", "Set-MailboxServer", "Set-ServerComponentState")
_SEVERITY_ORDER = {"blocker": 0, "warning": 1}


class ReadinessError(ValueError):
    """Input the judge cannot use; the message names the problem."""


def exchange_cmdlets(operation, script_dir=SCRIPT_DIR):
    """The Exchange cmdlets ``operation``'s script imports into its session."""
    with open(os.path.join(script_dir, operation + ".ps1"), encoding="utf-8") as handle:
        text = handle.read()
    names = []
    for match in _COMMAND_NAME.finditer(text):
        names += re.findall(r"'([^']+)'", match.group("names"))
    return sorted(set(names))


def job_cmdlets(script_dir=SCRIPT_DIR):
    """{job: sorted Exchange cmdlets it runs}."""
    return {job: sorted({c for op in ops for c in exchange_cmdlets(op, script_dir)})
            for job, ops in JOB_OPERATIONS.items()}


def all_cmdlets(script_dir=SCRIPT_DIR):
    return sorted({c for cmdlets in job_cmdlets(script_dir).values() for c in cmdlets})


def _finding(fid, severity, jobs, message, fix):
    return {"id": fid, "severity": severity, "jobs": sorted(jobs, key=JOBS.index), "message": message, "fix": fix}


def _jobs_using(operation):
    return [job for job, ops in JOB_OPERATIONS.items() if operation in ops]


def _ems_fix(error, account):
    text = (error or "").lower()
    if any(marker in text for marker in _SECOND_HOP):
        return ("The EMS session was opened without a credential, and a WinRM logon cannot pass its own on (the "
                "second hop). Give ems_username/ems_password (or the connection's user and password) so the "
                "session to http://<server>/PowerShell is opened with them; see docs/real-estate.md.")
    if "access is denied" in text:
        return ("%s may not open the server's /PowerShell endpoint: check the password, and that the account is "
                "allowed remote PowerShell (Set-User -RemotePowerShellEnabled $true) and holds an Exchange role."
                % (account or "The account"))
    return "Open the Exchange Management Shell as this account on the server and fix what it reports."


def _answer_findings(answers, ems_down, repository_flagged):
    findings = []
    for operation in READ_OPERATIONS:
        answer = answers.get(operation)
        if answer is None or answer.get("ok"):
            continue
        error = answer.get("error") or "no message given"
        jobs = _jobs_using(operation) or ["audit"]
        if answer.get("kind") == "malformed":
            findings.append(_finding(
                "answer_off_contract", "blocker", jobs,
                "%s (the jobs that read this answer would stop on this server)" % error,
                "This server answers %s in a form the collection does not know. Keep the preflight report and "
                "report the operation and field named above to the collection's maintainers; the server itself "
                "may be fine." % operation))
        elif ems_down and answer.get("kind") == "operation" and operation not in (
                "Get-HostIdentity", "Get-RewriteConfiguration", "Get-MitigationServiceEvent", "Get-InstallerTaskState",
                "Get-StagedFile", "Get-RepositoryManifest"):
            continue  # the EMS finding already says why, once
        elif operation == "Get-RepositoryManifest" and repository_flagged:
            continue  # the reachability check already says why, with the fix
        else:
            findings.append(_finding("operation_failed", "blocker", jobs, "%s failed: %s" % (operation, error),
                                     "Fix what the message names on the server, then run preflight again."))
    return findings


def _role_findings(prereq):
    roles = prereq.get("roles") or {}
    account = roles.get("account") or "the account"
    if not (prereq.get("ems") or {}).get("available"):
        return []
    if not roles.get("read"):
        return [_finding(
            "roles_unknown", "warning", ["patch", "mitigate", "eems"],
            "The Exchange roles of %s could not be read: %s" % (account, roles.get("error") or "no reason given"),
            "Reading role assignments needs the View-Only Configuration or Role Management role (View-Only "
            "Organization Management or Organization Management); without it preflight cannot tell which jobs "
            "%s may run." % account)]
    findings = []
    granted = {c.get("cmdlet"): c for c in roles.get("cmdlets") or []}
    for job, cmdlets in job_cmdlets().items():
        missing = [c for c in cmdlets if c in granted and not granted[c].get("granted")]
        if not missing:
            continue
        holders = sorted({r for c in missing for r in granted[c].get("roles_with_cmdlet") or []})
        findings.append(_finding(
            "role_missing", "blocker", [job],
            "%s holds no Exchange role that includes %s, which the %s job runs." % (account, ", ".join(missing), job),
            "Give %s a role that includes %s%s, for example by adding it to the Organization Management role "
            "group (it holds them all); docs/real-estate.md lists what each job needs."
            % (account, ", ".join(missing), " (in this organisation: %s)" % ", ".join(holders) if holders else "")))
    findings += _scope_findings(roles, granted, account)
    if SETUP_ROLE_GROUP not in (roles.get("role_groups") or []):
        findings.append(_finding(
            "setup_role_group_missing", "blocker", ["patch"],
            "%s is not in the %s role group; Exchange Setup refuses to install a Cumulative Update without it "
            "(Setup's GlobalServerInstall rule)." % (account, SETUP_ROLE_GROUP),
            "Add %s to the %s role group (Add-RoleGroupMember '%s' -Member <account>) before the patch window, "
            "or run Setup with an account that is (exchange_patch setup account)."
            % (account, SETUP_ROLE_GROUP, SETUP_ROLE_GROUP)))
    return findings


def _scope_findings(roles, granted, account):
    """Roles held, but through a write scope that leaves this server out."""
    writable = roles.get("writable_here")
    if writable is None:
        if not roles.get("scope_error"):
            return []  # an answer from before scopes were read
        return [_finding(
            "role_scope_unknown", "warning", ["patch", "mitigate", "eems"],
            "Whether the write scopes of %s's role assignments include this server could not be read: %s"
            % (account, roles["scope_error"]),
            "Check by hand: Get-ManagementRoleAssignment -RoleAssignee <account> -WritableServer <this server> "
            "must list a role with %s." % ", ".join(SERVER_WRITE_CMDLETS))]
    findings = []
    for job, cmdlets in job_cmdlets().items():
        outside = [c for c in cmdlets if c in SERVER_WRITE_CMDLETS and (granted.get(c) or {}).get("granted")
                   and not set(granted[c].get("granting_roles") or []) & set(writable)]
        if not outside:
            continue
        roles_held = sorted({r for c in outside for r in granted[c].get("granting_roles") or []})
        findings.append(_finding(
            "role_scope_excludes_server", "blocker", [job],
            "%s holds %s (with %s), but no assignment of it has a write scope that includes this server, so the "
            "%s job cannot change it." % (account, ", ".join(roles_held), ", ".join(outside), job),
            "Widen the management scope of the assignment (Get-ManagementRoleAssignment -RoleAssignee <account> "
            "shows its CustomConfigWriteScope; Set-ManagementScope changes the filter) or add an assignment "
            "without a custom scope, for example through the Organization Management role group."))
    return findings


def _endpoint_findings(prereq, repository_url):
    findings = []
    endpoints = {e.get("name"): e for e in prereq.get("endpoints") or []}
    repo = endpoints.get("repository")
    if not repository_url:
        findings.append(_finding(
            "repository_not_given", "warning", ["stage", "patch"],
            "No installer repository was given, so whether this server can download installers was not checked.",
            "Set exchange_repository_url and run preflight again."))
    elif repo is not None:
        host = urlsplit(repository_url).hostname or repository_url
        status = repo.get("status_code")
        if not repo.get("reachable"):
            findings.append(_finding(
                "repository_unreachable", "blocker", ["stage", "patch"],
                "This server cannot reach the installer repository %s: %s" % (repository_url, repo.get("error")),
                "Allow this server to reach %s (firewall, proxy, DNS, certificate trust): the servers download "
                "installers themselves, never through the controller." % host))
        elif status in (401, 403):
            findings.append(_finding(
                "repository_refused", "blocker", ["stage", "patch"],
                "The installer repository %s refused this server (HTTP %s)." % (repository_url, status),
                "Give the server's computer account read access to the repository, or set "
                "exchange_repository_username/exchange_repository_password."))
        elif status is not None and status >= 400:
            findings.append(_finding(
                "repository_manifest_missing", "blocker", ["stage", "patch"],
                "The installer repository %s answered HTTP %s for its manifest.json." % (repository_url, status),
                "Put manifest.json next to the installers (scripts/build_manifest.py writes it) and check the URL."))
    ocs = endpoints.get("ocs")
    if ocs is not None and not ocs.get("reachable"):
        findings.append(_finding(
            "ocs_unreachable", "blocker", ["eems"],
            "This server cannot reach the Office Config Service %s: %s" % (ocs.get("url"), ocs.get("error")),
            "Allow outbound HTTPS (port 443) from this server to officeclient.microsoft.com, directly or through "
            "the proxy set with Set-ExchangeServer -InternetWebProxy: EEMS fetches its mitigations there."))
    return findings


def _fact_findings(facts, staged, min_free_gb):
    findings = []
    free = facts.get("free_disk_gb")
    if isinstance(free, (int, float)) and free < min_free_gb:
        findings.append(_finding(
            "disk_low", "blocker", ["stage", "patch"],
            "Only %.1f GB free on %s; a Cumulative Update needs at least %.0f GB."
            % (free, facts.get("system_drive") or "the system drive", min_free_gb),
            "Free space on %s (old logs under the Exchange Logging folder, IIS logs) before staging."
            % (facts.get("system_drive") or "the system drive")))
    staging_free = (staged or {}).get("free_disk_gb")
    if isinstance(staging_free, (int, float)) and staging_free < min_free_gb and staging_free != free:
        findings.append(_finding(
            "staging_disk_low", "blocker", ["stage"],
            "Only %.1f GB free on the staging folder's drive (%s)." % (staging_free, staged.get("staging_dir")),
            "Free space there or choose another exchange_staging_dir."))
    release = facts.get("dotnet_release")
    if release is None:
        findings.append(_finding("dotnet_unknown", "warning", ["patch"],
                                 "The .NET Framework 4.x release could not be read from the registry.",
                                 "Check HKLM:\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full on the server."))
    elif release < DOTNET_48_RELEASE:
        findings.append(_finding(
            "dotnet_old", "warning", ["patch"],
            ".NET Framework release %d is older than 4.8; current Cumulative Updates need 4.8 or later." % release,
            "The audit's plan names the .NET step for this server's CU; install it in a patch window."))
    rewrite = facts.get("url_rewrite") or {}
    if not rewrite.get("installed"):
        findings.append(_finding(
            "url_rewrite_missing", "warning", ["mitigate"],
            "The IIS URL Rewrite module is not installed, so no rewrite mitigation can be applied.",
            "Run mitigate.yml with exchange_install_url_rewrite=true (installs it from the repository) or install "
            "IIS URL Rewrite 2.1."))
    reboot = facts.get("pending_reboot") or {}
    if reboot.get("pending"):
        findings.append(_finding(
            "reboot_pending", "warning", ["patch"],
            "A restart is pending (%s); Exchange Setup's readiness checks stop on it."
            % (", ".join(reboot.get("reasons") or []) or "reason not given"),
            "Restart the server inside a maintenance window before patching (patch.yml does it when allowed)."))
    watermark = facts.get("setup_watermark")
    if watermark:
        findings.append(_finding(
            "setup_interrupted", "blocker", ["patch"],
            "An earlier Exchange Setup did not finish (%s watermark: %s)."
            % (watermark.get("role"), watermark.get("watermark")),
            "Run Setup again from the same Cumulative Update to finish it before anything else is installed."))
    return findings


def _setup_prerequisite_findings(facts, plan):
    """Visual C++ runtimes and UCMA (see _setup_prerequisites): Setup's
    readiness check stops on a missing one, so it blocks patch when the plan
    toward the patch target runs Setup (a CU or the SE upgrade), or when no
    plan could be made; an SU-only plan does not run that check (a warning).
    An older runtime than Health Checker expects is a warning: Setup's rule
    checks only that it is installed."""
    missing, old, runs = setup_prereqs.assess(facts, plan)
    findings = []
    if missing:
        target = ((plan or {}).get("target") or {}).get("display_name") or "the patch target"
        if runs is False:
            severity, why = "warning", (
                "The plan toward %s installs no Cumulative Update, so Setup's readiness check does not run this "
                "window; the next CU will stop on it." % target)
        elif runs:
            severity, why = "blocker", (
                "The plan toward %s runs Exchange Setup, whose readiness check refuses to start without it, with "
                "the server already out of service." % target)
        else:
            severity, why = "blocker", (
                "No update plan could be made, so a CU may be planned; Exchange Setup's readiness check refuses "
                "to start without it.")
        findings.append(_finding(
            "setup_prerequisite_missing", severity, ["patch"],
            "%s. %s" % (setup_prereqs.missing_text(missing), why), setup_prereqs.fix(missing)))
    if old:
        findings.append(_finding("setup_prerequisite_old", "warning", ["patch"], setup_prereqs.old_text(old),
                                 setup_prereqs.fix(old)))
    return findings


def _winrm_findings(prereq):
    winrm = prereq.get("winrm") or {}
    findings = []
    if not winrm.get("local_admin"):
        findings.append(_finding(
            "not_local_admin", "blocker", list(JOBS),
            "%s is not a local administrator on this server." % (winrm.get("account") or "The WinRM account"),
            "Add the account to the server's local Administrators group: ExSetup.exe, the registry, IIS and the "
            "installers all need it."))
    listeners = [entry for entry in winrm.get("listeners") or [] if entry.get("enabled")]
    if not any(str(entry.get("transport")).upper() == "HTTPS" for entry in listeners):
        findings.append(_finding(
            "winrm_no_https", "warning", list(JOBS),
            "WinRM has no enabled HTTPS listener (listeners: %s)."
            % (", ".join("%s:%s" % (e.get("transport"), e.get("port")) for e in listeners) or "none"),
            "Create an HTTPS listener with a certificate your CA issued for the server's name "
            "(docs/real-estate.md, section 1) and connect on port 5986."))
    return findings


def judge(answers, prerequisites, *, repository_url=None, min_free_disk_gb=DEFAULT_MIN_FREE_DISK_GB, plan=None):
    """Findings and readiness of one server.

    ``answers``: {operation: {"ok": bool, "data": dict|None, "error": str|None,
    "kind": "malformed"|"operation"|None}} for each operation preflight ran.
    ``prerequisites``: Test-ExchangePrerequisite's data, or None when it failed
    (its failure is then in ``answers``).
    ``plan``: the planner's output toward the patch target (whether the patch
    job runs Exchange Setup here), or None when none could be made.
    """
    if not isinstance(answers, dict):
        raise ReadinessError("answers must be a dict of operation name to outcome")
    prereq = prerequisites or {}
    ems = prereq.get("ems") or {}
    facts_answer = answers.get("Get-ExchangeFacts") or {}
    facts = facts_answer.get("data") if facts_answer.get("ok") else None
    ems_down = bool(prereq) and not ems.get("available")
    findings = []
    if ems_down:
        findings.append(_finding(
            "ems_unavailable", "blocker", ["patch", "mitigate", "eems"],
            "The Exchange Management Shell session could not be opened: %s" % (ems.get("error") or "no reason given"),
            _ems_fix(ems.get("error"), (prereq.get("roles") or {}).get("account"))))
    endpoint_findings = _endpoint_findings(prereq, repository_url) if prereq else []
    repository_flagged = any(f["id"].startswith("repository_") for f in endpoint_findings)
    findings += _answer_findings(answers, ems_down, repository_flagged)
    # An Edge Transport server has no RBAC (its local Administrators manage
    # it), no IIS for URL Rewrite and no Mitigation Service to reach the OCS:
    # none of those is a finding there (see _edge).
    edge = is_edge_transport(prereq) or is_edge_transport(facts)
    if edge:
        endpoint_findings = [f for f in endpoint_findings if f["id"] != "ocs_unreachable"]
    if prereq:
        findings += _winrm_findings(prereq)
        if not edge:
            findings += _role_findings(prereq)
        findings += endpoint_findings
    if facts is not None:
        staged_answer = answers.get("Get-StagedFile") or {}
        findings += [f for f in _fact_findings(facts, staged_answer.get("data") if staged_answer.get("ok") else None,
                                               float(min_free_disk_gb))
                     if not (edge and f["id"] == "url_rewrite_missing")]
        findings += _setup_prerequisite_findings(facts, plan)
    findings.sort(key=lambda f: (_SEVERITY_ORDER[f["severity"]], f["id"]))
    jobs = {}
    for job in JOBS:
        severities = {f["severity"] for f in findings if job in f["jobs"]}
        jobs[job] = "blocked" if "blocker" in severities else "warning" if "warning" in severities else "ready"
    if any(f["severity"] == "blocker" for f in findings):
        status = "not_ready"
    elif findings:
        status = "ready_with_warnings"
    else:
        status = "ready"
    return {"status": status, "jobs": jobs, "findings": findings}


_URL = re.compile(r"^(?:https?://[^\s]+|\\\\[^\\\s]+\\[^\s]+)$", re.IGNORECASE)


def option_problem(args):
    """The first refused option of onprem.exchange.preflight, or None.  The
    staging folder follows update_stage's rule (one rule for both)."""
    problem = staging_dir_problem(args["staging_dir"])
    if problem:
        return problem
    for option in ("repository_url", "ocs_url"):
        if args.get(option) and not _URL.match(args[option]):
            return "%s %r must be an http(s):// URL or a \\\\server\\share path" % (option, args[option])
    if bool(args.get("repository_username")) != bool(args.get("repository_password")):
        return "repository_username and repository_password go together"
    if args["min_free_disk_gb"] < 0:
        return "min_free_disk_gb must not be negative"
    return None


def read_calls(ems, staging_dir, repository, token):
    """The arguments of each read-only operation preflight sends."""
    return {
        "Get-HostIdentity": {"token": token},
        "Get-ExchangeFacts": {"ems": ems},
        "Get-EemsState": {"ems": ems},
        "Get-MaintenanceState": {"ems": ems},
        "Get-RewriteConfiguration": {},
        "Get-ActiveDirectoryPrepState": {"ems": ems},
        "Test-ExchangeInstallHealth": {"ems": ems},
        "Get-MitigationServiceEvent": {"since": "2000-01-01T00:00:00Z", "max_events": 20},
        "Get-InstallerTaskState": {"staging_dir": staging_dir, "tail_lines": 20},
        "Get-StagedFile": {"staging_dir": staging_dir, "files": []},
        "Get-RepositoryManifest": {"repository": repository},
    }


def eems_proxy(answers):
    """EEMS goes out through the server's InternetWebProxy when one is set."""
    eems = answers.get("Get-EemsState") or {}
    exchange = (eems.get("data") or {}).get("exchange") or {}
    return exchange.get("internet_web_proxy") or None


def server_summary(facts, prereq):
    """The ``server`` entry of preflight's result."""
    exchange = facts.get("exchange") or {}
    roles = (prereq or {}).get("roles") or {}
    rewrite = facts.get("url_rewrite") or {}
    return {
        "computer_name": facts.get("computer_name"),
        "build": (facts.get("setup") or {}).get("exsetup_version"),
        "os": (facts.get("os") or {}).get("caption"),
        "dotnet_release": facts.get("dotnet_release"),
        "free_disk_gb": facts.get("free_disk_gb"),
        "url_rewrite": next((rewrite[key] for key in ("product_version", "file_version") if rewrite.get(key)), None),
        "pending_reboot": (facts.get("pending_reboot") or {}).get("pending"),
        "dag": exchange.get("dag"),
        "organization": exchange.get("organization_name"),
        "account": roles.get("account"),
        "role_groups": roles.get("role_groups") or [],
    }
