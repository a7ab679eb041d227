"""The lab's model of installers running as scheduled tasks, and of
restarts requested from the host.

An installer runs in lab time: ``Start-InstallerTask`` records it on the
server (``server["installer_task"]``) and ``advance`` (called from the lab
ticker) finishes it when its time is up, the way Windows would whether or
not anyone is polling.  What a real run does to a server is modelled:

* a CU leaves Setup's watermark and disabled Exchange services while it
  runs; success sets the build, clears the watermark, puts each service back
  to the start mode it had before Setup began (one the admin disabled stays
  disabled) and leaves a reboot pending; failure (or a restart in the
  middle) leaves the watermark and the disabled services - the interrupted
  Setup an admin then has to finish;
* Setup refuses a licence switch its media does not know: the plain
  /IAcceptExchangeServerLicenseTerms from 2019 CU11 and 2016 CU22 on, the
  _DiagnosticData forms before (the media's build decides);
* an Exchange 2013 CU (.exe) is unpacked into a folder beside it first;
* an SU stops the Exchange services while it runs and restores each one's
  start mode after; it fails with 1642 when it was built for another CU; its
  verbose log ends with hundreds of property lines after the verdict, as a
  real msiexec /l*v log does;
* the .NET installer raises the .NET release; AD preparation marks the
  organisation prepared.

Durations come from the fleet's ``lab.installer_seconds`` (lab seconds per
kind); the ``installer_exit_code`` fault makes the next run end with that
code.
"""
from __future__ import annotations

import datetime as _dt
import re
import uuid

from . import builds
from .fleet import is_edge

DEFAULT_SECONDS = {"cu": 600, "su": 180, "dotnet": 300, "prepare_schema": 120, "prepare_ad": 120}
TASK_KEY = "installer_task"
WATERMARK = "MailboxRole: Microsoft.Exchange.Management.Deployment.ServiceControlTask"
_KEEP_RUNNING = ("W3SVC", "WinRM")
SETUP_LOG = "C:\\ExchangeSetupLogs\\ExchangeSetup.log"


def duration(lab, kind):
    configured = lab.state.data["lab"].get("installer_seconds") or {}
    return float(configured.get(kind, DEFAULT_SECONDS[kind]))


def _stamp(now):
    return now.strftime("[%m/%d/%Y %H:%M:%S.0000] [0]")


def _exchange_services(server):
    return [(name, svc) for name, svc in server["services"].items() if name not in _KEEP_RUNNING]


# Real Setup's rule, kept apart from the controller's: the first builds whose
# Setup takes the _DiagnosticData licence switch (2016 CU22, 2019 CU11).
DIAGNOSTIC_SWITCH_FROM = {(15, 1): (15, 1, 2375, 7), (15, 2): (15, 2, 986, 5)}
MSI_PROPERTY_LINES = 400


def _parts(build):
    return tuple(int(p) for p in str(build).split("."))


def licence_switch_for(media_build):
    parts = _parts(media_build)
    first = DIAGNOSTIC_SWITCH_FROM.get(parts[:2])
    if first is not None and parts >= first:
        return "/IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF"
    return "/IAcceptExchangeServerLicenseTerms"


# The switch set each Exchange 2013 CU package's self-extractor obeys (CU
# number -> style), from the history of AutomatedLab's Exchange 2013 custom
# role (issues #446/#483, PR #580, commit 3f8e3ff8); the catalog cites the
# same. CU22 is unknown: the lab's CU22 package obeys none of them.
PACKAGE_UNPACK = dict([(n, "x") for n in range(1, 21)] + [(21, "rar"), (23, "extract")])


def package_unpack_style(installer):
    match = re.search(r"exchange2013-x64-(?:cu(\d+)|(sp1))\.exe$", str(installer).lower())
    if match is None:
        return None
    return PACKAGE_UNPACK.get(4 if match.group(2) else int(match.group(1)))


# Setup's Error rules for its software prerequisites, as its logs name them
# (CSS-Exchange Setup test logs; see _data/setup_prerequisites.yml): the
# package each evaluates, on a Mailbox server (Edge needs neither).
SETUP_PREREQUISITE_RULES = (("vcredist2013", "VC2013RedistDependencyRequirement"), ("ucma4", "UcmaRedistMsi"))


def _failed_prerequisite_rule(server):
    if is_edge(server):
        return None
    installed = server.get("setup_prerequisites") or {}
    return next((rule for package, rule in SETUP_PREREQUISITE_RULES if not installed.get(package)), None)


def start(lab, server, kind, installer, expected_build, update, username, switches=None, extract_to=None,
          media_build=None, unpack=None):
    now = lab.clock.now()
    task = {
        "task_id": str(uuid.uuid4()), "kind": kind, "installer": installer, "expected_build": expected_build,
        "update": update, "user": username, "state": "running", "exit_code": None,
        "started": now.isoformat(),
        "finishes_at": (now + _dt.timedelta(seconds=duration(lab, kind))).isoformat(),
        "log_path": SETUP_LOG if kind in ("cu", "prepare_schema", "prepare_ad") else installer + ".log",
        "log": [], "switches": list(switches or []), "extract_to": extract_to, "media_build": media_build,
        "unpack": unpack,
    }
    if extract_to and unpack != package_unpack_style(installer):
        # The self-extractor does not know the switches: nothing is unpacked,
        # so && never starts Setup, and the task ends with the extractor's code.
        task["unpack_failed"] = True
    if task.get("unpack_failed"):
        pass
    elif kind in ("cu", "prepare_schema", "prepare_ad"):
        task["log"].append("%s Starting Microsoft Exchange Server Setup" % _stamp(now))
        task["log"] += ["%s Command Line Parameter Name='%s', Value=''." % (_stamp(now), switch.lstrip("/").lower())
                        for switch in task["switches"]]
        licence = [x for x in task["switches"] if x.lower().startswith("/iacceptexchangeserverlicenseterms")]
        if media_build and licence and licence[0] != licence_switch_for(media_build):
            task["rejected"] = "The following switch isn't valid for this Setup: %s" % licence[0]
        elif kind == "cu" and _failed_prerequisite_rule(server):
            # Setup's readiness check stops before it changes anything (the
            # rules of plugins/plugin_utils/_data/setup_prerequisites.yml;
            # this sentence is the lab's, not Setup's).
            task["rejected"] = "The prerequisite check failed: rule %s (a required package is not installed)" \
                % _failed_prerequisite_rule(server)
    else:
        task["log"] += ["=== Verbose logging started: %s ===" % now.strftime("%m/%d/%Y %H:%M:%S"),
                        "MSI (s) (0C:10): Executing op: ProductInfo(%s)" % update]
    if kind == "cu" and not task.get("rejected") and not task.get("unpack_failed"):
        if not server.get("setup_watermark") and "setup_saved_modes" not in server:
            # Setup records the start modes before it disables the services.
            server["setup_saved_modes"] = {name: svc["start_mode"] for name, svc in _exchange_services(server)}
        server["setup_watermark"] = WATERMARK
        for _name, service in _exchange_services(server):
            service["start_mode"] = "Disabled"
            service["state"] = "Stopped"
        task["log"].append("%s Disabling and stopping Exchange services." % _stamp(now))
    elif kind == "su":
        task["saved_modes"] = {name: svc["start_mode"] for name, svc in _exchange_services(server)}
        for _name, service in _exchange_services(server):
            service["start_mode"] = "Disabled"
            service["state"] = "Stopped"
    server[TASK_KEY] = task
    # Every run's command, for tests to read which switches Setup was given.
    server.setdefault("installer_runs", []).append(
        {"kind": kind, "installer": installer, "switches": task["switches"], "extract_to": extract_to,
         "unpack": unpack})
    return task


def _restore_services(server, saved=None):
    """Each service back to the start mode recorded before the run; without
    a record (a Setup the lab did not start) every one becomes Automatic."""
    saved = saved or {}
    for name, service in _exchange_services(server):
        service["start_mode"] = saved.get(name, "Automatic")
        service["state"] = "Running" if service["start_mode"] == "Automatic" else "Stopped"


def _finish(lab, server, task, now):
    kind = task["kind"]
    code = int(server["faults"].get("installer_exit_code") or 0)
    if task.get("unpack_failed"):
        # Setup never ran: its log has nothing of this run.
        task.update(state="finished", exit_code=1, finished=now.isoformat())
        return
    if task.get("rejected"):
        code = 1
        task["log"].append("%s [ERROR] %s" % (_stamp(now), task["rejected"]))
    expected = task.get("expected_build") or server["build"]
    if kind == "su" and code == 0 and expected.split(".")[:3] != server["build"].split(".")[:3]:
        code = 1642  # an SU is built for one CU and refuses any other
    success = code in (0, 3010)
    stamp = _stamp(now)
    if kind in ("cu", "prepare_schema", "prepare_ad"):
        if success:
            task["log"].append("%s The Exchange Server setup operation completed successfully." % stamp)
        else:
            task["log"] += [
                "%s [ERROR] The following error was generated when \"$error.Clear(); Start-ExchangeService\" was "
                "run: \"Service 'MSExchangeTransport' failed to reach status 'Running' on this server.\"." % stamp,
                "%s [ERROR-REFERENCE] Id=ServiceControl___99d8be02 Component=EXCHANGE14:\\Current\\Release" % stamp,
                "%s The Exchange Server setup operation didn't complete. More details can be found in "
                "ExchangeSetup.log located in the <SystemDrive>:\\ExchangeSetupLogs folder." % stamp]
    else:
        if success:
            task["log"] += ["MSI (s) (0C:10): Product: Microsoft Exchange Server - Update '%s' installed successfully."
                            % task["update"], "MSI (s) (0C:10): Installation operation completed successfully.",
                            "MSI (s) (0C:10): Windows Installer requires a system restart." if code == 3010 else
                            "MSI (s) (0C:10): Product: Microsoft Exchange Server -- Configuration completed successfully."]
            # msiexec /l*v ends with the property dump, long after the verdict.
            task["log"] += ["MSI (s) (0C:10): Property(S): LabProperty%03d = value" % i
                            for i in range(MSI_PROPERTY_LINES)]
            task["log"].append("=== Logging stopped: %s ===" % now.strftime("%m/%d/%Y %H:%M:%S"))
        else:
            task["log"] += ["MSI (s) (0C:10): Note: 1: 1708", "Action ended: INSTALL. Return value 3.",
                            "MSI (s) (0C:10): Product: Microsoft Exchange Server -- Installation operation failed.",
                            "MSI (s) (0C:10): MainEngineThread is returning %d" % code]
    task.update(state="finished", exit_code=code, finished=now.isoformat())
    if kind == "cu":
        if success:
            server["build"] = expected
            server["setup_watermark"] = None
            server["installed_packages"] = []
            _restore_services(server, server.pop("setup_saved_modes", None))
            if task.get("extract_to"):
                server.setdefault("extracted_media", []).append(task["extract_to"].lower())
            server["pending_reboot"] = True
            server["pending_reboot_reasons"] = ["PendingFileRenameOperations"]
        # a failed CU stays half-way: watermark and disabled services remain
    elif kind == "su":
        if success:
            server["build"] = expected
            server["pending_reboot"] = True
            server["pending_reboot_reasons"] = ["PendingFileRenameOperations"]
        _restore_services(server, task.get("saved_modes"))  # msiexec rolls a failed patch back
    elif kind == "dotnet" and success:
        server["dotnet_release"] = int(task.get("dotnet_release") or server["dotnet_release"])
        server["pending_reboot"] = True
    elif kind in ("prepare_schema", "prepare_ad") and success:
        org = lab.state.organization(server["organization"])
        org.setdefault("ad_prep_runs", []).append({"kind": kind, "server": server["name"], "build": expected})
        if kind == "prepare_ad":
            org["ad_prepared_build"] = expected


def advance(lab, server, now):
    """Called by the lab ticker for every server, under the state lock."""
    changed = False
    restart_at = server.get("restart_requested_at")
    if restart_at and _dt.datetime.fromisoformat(restart_at) <= now and not server.get("rebooting_until"):
        server["restart_requested_at"] = None
        lab.reboot(server["name"], "Restart-HostComputer")
        changed = True
    task = server.get(TASK_KEY)
    if not task or task["state"] != "running":
        return changed
    if server.get("rebooting_until"):
        # The restart ends every process: the task is gone without an exit code.
        task["state"] = "vanished"
        task["log"].append("%s Setup was interrupted." % _stamp(now) if task["kind"] != "su"
                           else "MSI (s) (0C:10): Installation interrupted by a system shutdown.")
        return True
    if _dt.datetime.fromisoformat(task["finishes_at"]) <= now:
        _finish(lab, server, task, now)
        return True
    return changed


def cu_target_from_iso(name):
    """Best guess of the build an ISO installs, for resuming a Setup the lab
    did not start itself (the default fleet's interrupted EX19E)."""
    lowered = name.lower()
    match = re.search(r"cu(\d+)", lowered)
    product = "Exchange SE" if "se-" in lowered or "subscription" in lowered else \
        "Exchange 2019" if "2019" in lowered else "Exchange 2016" if "2016" in lowered else \
        "Exchange 2013" if "2013" in lowered else None
    for row in builds._rows():
        if row["product"] != product or row["kind"] not in ("CU", "RTM"):
            continue
        if match is None and row["kind"] == "RTM":
            return row["build"]
        if match is not None and row["cu_level"] == "CU%s" % match.group(1):
            return row["build"]
    return None
