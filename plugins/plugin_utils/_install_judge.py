# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judgement for update_install: what is left to do, how an installer ended,
whether the server is healthy afterwards.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports, no clock, no host.  The action plugin reads
the host, calls these functions and carries out what they say.

``pending_actions(steps, facts, catalog)``
    The plan steps still to carry out on a server in its current state, each
    ``{action, update, from_build, to_build, installer, staged_name, kind}``.
``installer_kind(action, installer)``
    ``cu`` (Setup from an ISO), ``su`` (an .msp patch), ``dotnet``.
``licence_mode(product, cu)``
    Which licence switch Setup expects: ``diagnostic_data`` or ``legacy``.
``judge_installer(task)``
    ``task`` is the host's poll answer ``{state, exit_code, log_tail}``;
    returns ``{result, reboot_required, message, log_excerpt}`` where result
    is ``running``, ``succeeded`` or ``failed``.
``verify_health(health, expected_build, modes_before, meant_off)``
    ``{build_ok, services_ok, setup_ok, web_config_ok, components_ok, problems}``.
``media_rules(catalog)``
    The first builds whose Setup knows the _DiagnosticData licence switch
    and the Extended Protection opt-outs, for Setup media the controller
    cannot name in advance (resuming a Setup).
``ad_prep_needed(target_build, organization_builds)``
    True when no server of the organisation is yet on the target CU line.
"""
from __future__ import annotations

import re

from ._exchange_build import ExchangeBuild, ExchangeBuildError

__all__ = [
    "InstallPlanError", "pending_actions", "installer_kind", "licence_mode", "staged_installer_name",
    "judge_installer", "verify_health", "ad_prep_needed", "ad_prep_applies", "EXIT_CODES", "service_modes", "media_rules",
    "extended_protection_applies", "EXTENDED_PROTECTION_CHOICES",
]

INSTALL_ACTIONS = ("install_dotnet", "install_cu", "upgrade_to_se", "install_su")

# Windows Installer and Setup exit codes an admin meets during Exchange
# patching, worded for the report.
EXIT_CODES = {
    0: "completed",
    1603: "fatal error during installation",
    1618: "another installation is already in progress",
    1619: "the installation package could not be opened",
    1638: "another version of this product is already installed",
    1641: "the installer started a restart",
    1642: "the patch does not apply to the installed CU (wrong CU for this SU)",
    3010: "completed; a restart is required",
}
_REBOOT_CODES = (1641, 3010)

# Setup's own last line on success; an exit code of 0 without it is not
# trusted, because a wrapper or a killed process can lose the real code.
_SETUP_SUCCESS = "the exchange server setup operation completed successfully"
_MSI_SUCCESS = ("installation completed successfully", "configuration completed successfully",
                "installation operation completed successfully")
_RELEVANT = re.compile(r"\[ERROR\]|\berror\b|exception|failed|return value 3|rolled back|rollback|"
                       r"is returning [1-9]", re.IGNORECASE)
_EXCERPT_LINES = 12

# Licence switch: the _DiagnosticData form exists from 2019 CU11 and 2016
# CU22 on (and in SE); older media know only the plain switch.
_DIAGNOSTIC_SWITCH_FROM = {"Exchange 2019": 11, "Exchange 2016": 22}

# Extended Protection is turned on by Setup itself from 2019 CU14 on (and in
# SE); only that Setup knows /DoNotEnableEP and /DoNotEnableEP_FEEWS (Learn,
# "Configure Windows Extended Protection in Exchange Server"; Exchange Team
# blog "Released: 2024 H1 Cumulative Update for Exchange Server").
_EXTENDED_PROTECTION_FROM = {"Exchange 2019": 14}
EXTENDED_PROTECTION_CHOICES = ("setup_default", "off", "off_frontend_ews")

# Exchange services are judged against their start mode before the install:
# Setup and SUs disable them while they run and put them back after, so a
# service that was Automatic and is Disabled afterwards is the mark of an
# unfinished run; one the admin disabled (POP3, IMAP4, UM) stays as it was.
_SERVICE_PREFIX = "MSExchange"

# Setup's last word in ExchangeSetup.log when a run stopped part-way.
_SETUP_NOT_COMPLETED = "the exchange server setup operation didn't complete"


class InstallPlanError(ValueError):
    """A plan or step update_install cannot carry out; the message says why."""


def _build(value):
    return ExchangeBuild.parse(value) if value else None


def installer_kind(action, installer):
    if action == "install_dotnet":
        return "dotnet"
    if action in ("install_cu", "upgrade_to_se", "resume_setup"):
        # Exchange 2013 CUs ship as a self-extracting .exe, 2016 and later as
        # an ISO; Start-InstallerTask extracts or mounts by the file's ending.
        name = (installer or "").lower()
        if installer and not name.endswith((".iso", ".exe")):
            raise InstallPlanError("cannot tell how to run Setup from %r (expected an .iso, or the .exe of an "
                                   "Exchange 2013 CU)" % (installer,))
        return "cu"
    name = (installer or "").lower()
    if name.endswith(".msp"):
        return "su"
    if name.endswith(".exe"):
        raise InstallPlanError(
            "%s is a self-extracting .exe package, which is made for manual installs; plan SUs with "
            "installer_format=msp for unattended patching" % installer)
    raise InstallPlanError("cannot tell how to install %r (expected an .msp for an SU)" % (installer,))


def licence_mode(product, cu):
    if product == "Exchange SE":
        return "diagnostic_data"
    threshold = _DIAGNOSTIC_SWITCH_FROM.get(product)
    number = re.match(r"CU(\d+)$", cu or "")
    if threshold is None or number is None:
        return "legacy"
    return "diagnostic_data" if int(number.group(1)) >= threshold else "legacy"


def extended_protection_applies(product, cu):
    """Whether this Setup turns Extended Protection on by itself (and so
    knows the opt-out switches)."""
    if product == "Exchange SE":
        return True
    threshold = _EXTENDED_PROTECTION_FROM.get(product)
    number = re.match(r"CU(\d+)$", cu or "")
    return threshold is not None and number is not None and int(number.group(1)) >= threshold


def media_rules(catalog):
    """First builds (per version line) from which Setup knows the
    _DiagnosticData licence switch and the Extended Protection opt-outs; the
    host compares the Setup media's own version with them when the plan
    cannot name the media (resuming an interrupted Setup)."""
    def firsts(table):
        builds = []
        for product, number in sorted(table.items()):
            entry = catalog.cu_release(product, "CU%d" % number)
            if entry is not None:
                builds.append(str(entry.build))
        return builds
    return {"diagnostic_data_from": firsts(_DIAGNOSTIC_SWITCH_FROM),
            "extended_protection_from": firsts(_EXTENDED_PROTECTION_FROM)}


_SELF_EXTRACTING = re.compile(r"^Exchange2013-x64-(cu\d+|sp1)\.exe$", re.IGNORECASE)


def unpack_style(catalog, action, installer_name):
    """The unpack switch set (``x``, ``rar``, ``extract``) of a
    self-extracting CU package (Exchange 2013), None for an ISO or when no
    source names the package's switches.  The plan's product and CU say
    which package it is; a resumed Setup names only its file."""
    if not str(installer_name or "").lower().endswith(".exe"):
        return None
    product, cu = action.get("product"), action.get("cu")
    if not (product and cu):
        match = _SELF_EXTRACTING.match(str(installer_name).rsplit("\\", 1)[-1])
        if match is None:
            return None
        product, cu = "Exchange 2013", match.group(1).upper()
    return catalog.cu_unpack_style(product, cu)


def staged_installer_name(step, cu):
    """The file name update_stage stores an installer under: SUs carry their
    CU in front, because one KB file name is reused across CUs."""
    installer = step.get("installer")
    if not installer:
        return None
    if step["action"] == "install_su":
        return "%s-%s" % (cu or "unknown", installer)
    return installer


def pending_actions(steps, facts, catalog):
    """The steps of ``steps`` still to do, given the server's ``facts``
    (``build``, ``dotnet_release``, ``pending_reboot``, ``setup_watermark``).

    Reboot steps are not returned: update_install reboots after every
    installer and first when a reboot is pending.  Raises InstallPlanError
    for a step it cannot carry out (free_disk, unknown actions).
    """
    try:
        current = _build(facts.get("build"))
    except ExchangeBuildError as error:
        raise InstallPlanError("the server's build is unreadable: %s" % error) from None
    if current is None:
        raise InstallPlanError("the server's build is unknown (no ExSetup.exe version)")
    dotnet = facts.get("dotnet_release")
    todo = []
    for step in steps or ():
        if not isinstance(step, dict) or "action" not in step:
            raise InstallPlanError("plan step %r is not a step of onprem.exchange.build_facts" % (step,))
        action = step["action"]
        if action == "reboot":
            continue
        if action == "free_disk":
            raise InstallPlanError("the plan needs disk space freed first: %s" % step.get("reason"))
        if action == "resume_setup":
            if facts.get("setup_watermark"):
                # The media is whatever CU the stopped Setup came from: the
                # host picks the licence switch by the media's own version.
                todo.append(dict(step, kind="cu", staged_name=None, licence="by_media"))
            continue
        if action not in INSTALL_ACTIONS:
            raise InstallPlanError("plan step action %r is not one update_install carries out" % action)
        if action == "install_dotnet":
            wanted = catalog.dotnet_release((step.get("update") or "").replace(".NET Framework", "").strip())
            if dotnet is not None and wanted is not None and dotnet >= wanted:
                continue
            todo.append(dict(step, kind="dotnet", staged_name=step.get("installer"), dotnet_release=wanted))
            continue
        try:
            target = _build(step.get("to_build"))
        except ExchangeBuildError as error:
            raise InstallPlanError("plan step %s has an unreadable to_build: %s" % (action, error)) from None
        if target is None:
            raise InstallPlanError("plan step %s names no to_build" % action)
        if current.version >= target.version:
            continue  # already there, or beyond it
        entry = catalog.find(target)
        cu = entry.cu if entry is not None else catalog.cu_of(target)
        product = entry.product if entry is not None else catalog.product_of(target)
        kind = installer_kind(action, step.get("installer"))
        todo.append(dict(step, kind=kind, staged_name=staged_installer_name(step, cu), cu=cu, product=product,
                         licence=licence_mode(product, cu)))
    return todo


def _relevant_lines(lines):
    picked = [line.rstrip() for line in lines if _RELEVANT.search(line or "")]
    return picked[-_EXCERPT_LINES:]


def judge_installer(task, kind="cu"):
    """Verdict on an installer task from the host's poll answer.

    ``log_tail`` is the end of this run's log; ``log_markers`` (when the host
    sends them) are the lines of the whole run's log that carry a verdict.
    A verbose MSI log ends with hundreds of property lines after its verdict,
    so an SU is judged from the markers, never from the tail alone.
    """
    state = (task or {}).get("state")
    lines = [str(line) for line in (task or {}).get("log_tail") or []]
    markers = [str(line) for line in (task or {}).get("log_markers") or []]
    if state == "running":
        return {"result": "running", "reboot_required": False, "message": "still running", "log_excerpt": []}
    exit_code = (task or {}).get("exit_code")
    evidence = markers + lines
    if state != "finished" or exit_code is None:
        return {
            "result": "failed", "reboot_required": False,
            "message": "the installer process is gone without an exit code (state %s); a vanished installer is "
                       "not a success - a restart or a killed task ends it this way" % (state or "unknown"),
            "log_excerpt": _relevant_lines(evidence) or lines[-_EXCERPT_LINES:],
        }
    meaning = EXIT_CODES.get(exit_code, "unknown exit code")
    lowered = [line.lower() for line in evidence]
    if exit_code in (0,) + _REBOOT_CODES:
        if kind == "cu" and not any(_SETUP_SUCCESS in line for line in lowered):
            return {"result": "failed", "reboot_required": False,
                    "message": "Setup exited with %d but its log does not say the setup operation completed "
                               "successfully" % exit_code,
                    "log_excerpt": _relevant_lines(evidence) or lines[-_EXCERPT_LINES:]}
        if kind == "su" and evidence and not any(marker in line for line in lowered for marker in _MSI_SUCCESS):
            return {"result": "failed", "reboot_required": False,
                    "message": "msiexec exited with %d but its log does not report a completed installation"
                               % exit_code,
                    "log_excerpt": _relevant_lines(evidence) or lines[-_EXCERPT_LINES:]}
        return {"result": "succeeded", "reboot_required": exit_code in _REBOOT_CODES,
                "message": "exit code %d (%s)" % (exit_code, meaning), "log_excerpt": []}
    return {"result": "failed", "reboot_required": False,
            "message": "exit code %d (%s)" % (exit_code, meaning),
            "log_excerpt": _relevant_lines(evidence) or lines[-_EXCERPT_LINES:]}


def service_modes(services, setup_interrupted=False):
    """``{name: start_mode}`` from a list of ``{name, start_mode, state}``.

    While a stopped Setup's watermark is present, a Disabled service may be
    Setup's doing rather than the admin's, so it is left out: after the
    resume it must run again unless the admin names it in services_meant_off.
    """
    modes = {str(s.get("name")): s.get("start_mode") for s in services or [] if isinstance(s, dict) and s.get("name")}
    if setup_interrupted:
        modes = {name: mode for name, mode in modes.items() if mode != "Disabled"}
    return modes


def verify_health(health, expected_build=None, modes_before=None, meant_off=()):
    """Post-install verdicts from Test-ExchangeInstallHealth data.

    ``modes_before`` are the services' start modes read before the install;
    ``meant_off`` names services the admin keeps off (POP3, IMAP4, UM):
    neither is expected to run afterwards.  Whether Setup stopped part-way
    is read from its watermark and its log, not from service states.
    """
    health = health or {}
    problems = []
    build_ok = True
    if expected_build is not None:
        try:
            have = _build(health.get("exsetup_version"))
            build_ok = have is not None and have.version == _build(expected_build).version
        except ExchangeBuildError:
            build_ok = False
        if not build_ok:
            problems.append("ExSetup.exe is %s, expected %s" % (health.get("exsetup_version"), expected_build))
    before = modes_before or {}
    off = {str(name).lower() for name in meant_off or ()}
    disabled, stopped = [], []
    for service in health.get("services") or []:
        name = service.get("name", "")
        if name.lower() in off or before.get(name) in ("Disabled", "Manual"):
            continue  # off on purpose, or not meant to run before the install either
        if name.startswith(_SERVICE_PREFIX) and service.get("start_mode") == "Disabled":
            disabled.append(name)
        elif service.get("start_mode") == "Automatic" and service.get("state") != "Running":
            stopped.append(name)
    if disabled:
        problems.append("Exchange services disabled that were %s before the install (the installer did not put "
                        "them back): %s" % ("enabled" if before else "not known to be off",
                                            ", ".join(sorted(disabled))))
    if stopped:
        problems.append("automatic services not running: %s" % ", ".join(sorted(stopped)))
    watermark = health.get("setup_watermark") or {}
    setup_log = health.get("setup_log") or {}
    setup_ok = True
    if watermark.get("watermark"):
        setup_ok = False
        problems.append("Exchange Setup stopped part-way: %s still holds the watermark %r"
                        % (watermark.get("role") or "a role", watermark.get("watermark")))
    elif _SETUP_NOT_COMPLETED in str(setup_log.get("last_verdict_line") or "").lower():
        setup_ok = False
        problems.append("the last Exchange Setup run did not complete (ExchangeSetup.log: %s)"
                        % setup_log.get("last_verdict_line").strip())
    tokens = list(health.get("web_config_tokens") or [])
    if tokens:
        problems.append("%%ExchangeInstallDir%% left unexpanded in %s (the mark of an SU installed without "
                        "elevation)" % ", ".join(tokens))
    # Inactive only because maintenance asked is fine: leaving maintenance
    # brings those back.  Any other requester means Setup or a health probe
    # took the component out.
    inactive = [c for c in health.get("components") or []
                if c.get("state") != "Active" and set(c.get("requesters") or ["Unknown"]) - {"Maintenance"}]
    if inactive:
        problems.append("components inactive for another reason than maintenance: %s" % ", ".join(
            "%s (%s)" % (c.get("component"), "/".join(c.get("requesters") or ["unknown"])) for c in inactive))
    components_ok = not inactive and health.get("components") is not None
    if health.get("components") is None:
        problems.append("component states could not be read: %s" % (health.get("ems_error") or "no reason given"))
    return {"build_ok": build_ok, "services_ok": not disabled and not stopped, "setup_ok": setup_ok,
            "web_config_ok": not tokens, "components_ok": components_ok, "problems": problems}


def ad_prep_applies(action, facts):
    """Whether a step may need Active Directory preparation before it: a new
    CU on a server in the domain.  An Edge Transport server is outside the
    domain and keeps its configuration in its own AD LDS instance (Microsoft
    Learn, "Edge Transport servers"); AD is prepared from a domain member
    (Learn, "Prepare Active Directory and domains"), so nothing is read or
    prepared for an Edge server (Start-InstallerTask refuses it there too)."""
    if (action or {}).get("kind") != "cu" or (action or {}).get("action") == "resume_setup":
        return False
    return not (facts or {}).get("edge_transport")


def ad_prep_needed(target_build, organization_builds):
    """The first server of an organisation to take a new CU line prepares
    Active Directory; once any server runs that line (or newer), AD is done."""
    target = _build(target_build)
    for value in organization_builds or ():
        try:
            build = _build(value)
        except ExchangeBuildError:
            continue
        if build is not None and build.cu_key >= target.cu_key:
            return False
    return True
