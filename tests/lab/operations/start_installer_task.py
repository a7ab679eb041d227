"""Model of Start-InstallerTask.ps1: register and start the installer task."""
from __future__ import annotations

from .. import installer
from ..fleet import is_edge
from . import HostOpError, operation

_KINDS = ("cu", "prepare_schema", "prepare_ad", "su", "dotnet")


def _staged(ctx, path):
    """Whether the installer is on the server.  When the lab's staging model
    has recorded files, only those count; before any staging was modelled,
    every path counts (the lab cannot know otherwise)."""
    staged = ctx.server.get("staged_files")
    if not isinstance(staged, (dict, list)):
        return True
    names = staged.keys() if isinstance(staged, dict) else [
        f.get("path") if isinstance(f, dict) else f for f in staged]
    lowered = {str(n).lower() for n in names}
    return path.lower() in lowered or path.rsplit("\\", 1)[-1].lower() in lowered


@operation("Start-InstallerTask")
def start_installer_task(ctx, args):
    args = args or {}
    kind = str(args.get("kind") or "")
    path = str(args.get("installer_path") or "")
    staging = str(args.get("staging_dir") or "")
    if kind not in _KINDS:
        raise HostOpError("Unknown installer kind %s." % kind)
    if str(args.get("extended_protection") or "setup_default") not in ("setup_default", "off", "off_frontend_ews"):
        raise HostOpError("Unknown extended_protection choice %s." % args.get("extended_protection"))
    if is_edge(ctx.server) and kind in ("prepare_schema", "prepare_ad"):
        raise HostOpError("This is an Edge Transport server: it is outside the domain and never prepares Active "
                          "Directory; prepare it from a Mailbox server.")
    if str(args.get("licence") or "diagnostic_data") not in ("diagnostic_data", "legacy", "by_media"):
        raise HostOpError("Unknown licence choice %s." % args.get("licence"))
    unpack = str(args.get("unpack") or "")
    if unpack not in ("", "x", "rar", "extract"):
        raise HostOpError("Unknown unpack choice %s." % unpack)
    if any(c in path + staging for c in '"%'):
        raise HostOpError("The installer path and staging folder must not contain double quotes or percent signs.")
    if not path or not _staged(ctx, path):
        raise HostOpError("The installer %s is not staged on this server; stage it with onprem.exchange.update_stage "
                          "first." % path)
    task = ctx.server.get(installer.TASK_KEY)
    if task and task["state"] == "running":
        if task["installer"] != path or task["kind"] != kind:
            raise HostOpError("Another installer is running on this server: %s (%s) since %s."
                              % (task["installer"], task["kind"], task["started"]))
        return {"changed": False, "data": {"task_id": task["task_id"], "already_running": True,
                                           "log_path": task["log_path"], "kind": kind}}
    username = args.get("username")
    if not ctx.lab.host_backend.authenticate(ctx.server["name"], username, args.get("password")):
        # What Register-ScheduledTask says for a wrong account or password.
        raise HostOpError("The user name or password is incorrect. (Exception from HRESULT: 0x8007052E)",
                          "Microsoft.Management.Infrastructure.CimException")
    expected = str(args.get("expected_build") or "") or None
    name = path.rsplit("\\", 1)[-1]
    if kind == "cu" and not expected:
        expected = installer.cu_target_from_iso(name)
    switches, extract_to, media_build = [], None, None
    if kind in ("cu", "prepare_schema", "prepare_ad"):
        switches, extract_to, media_build = _setup_switches(ctx, args, kind, path, name)
    if extract_to and not unpack:
        raise HostOpError("The unpack switches of %s are not known, so it is not unpacked blindly. Unpack it into %s "
                          "by hand (Setup.exe directly in that folder) and run the task again." % (path, extract_to))
    task = installer.start(ctx.lab, ctx.server, kind, path, expected, str(args.get("update") or ""), username,
                           switches=switches, extract_to=extract_to, media_build=media_build,
                           unpack=unpack if extract_to else None)
    if kind == "dotnet":
        task["dotnet_release"] = args.get("dotnet_release")
    return {"changed": True,
            "data": {"task_id": task["task_id"], "already_running": False, "log_path": task["log_path"], "kind": kind,
                     "setup_switches": switches, "media_version": media_build},
            "steps": [{"name": "installer_started", "changed": True, "detail": "%s %s" % (kind, path)}]}


def _at_least(version, thresholds):
    """Test-BuildThreshold: at or past the threshold of its own line."""
    try:
        have = tuple(int(p) for p in str(version).split("."))
    except ValueError:
        return False
    for text in thresholds or []:
        need = tuple(int(p) for p in str(text).split("."))
        if need[:2] == have[:2]:
            return have >= need
    return False


def _setup_switches(ctx, args, kind, path, name):
    edge = is_edge(ctx.server)  # no IIS, so no Extended Protection opt-out
    """The switch choice of Start-InstallerTask.ps1: the media's version (the
    lab reads it from the media's name, as the script reads ExSetup.exe on
    the media) against the thresholds sent as data."""
    extract_to = None
    if name.lower().endswith(".exe"):
        folder = path.rsplit("\\", 1)[0] + "\\" + name.rsplit(".", 1)[0]
        unpacked = folder.lower() in (ctx.server.get("extracted_media") or [])
        media = (installer.cu_target_from_iso(name) if unpacked else None) or "15.0.0.0"
        extract_to = None if unpacked else folder
    else:
        media = installer.cu_target_from_iso(name)
    rules = args.get("media_rules") or {}
    licence = str(args.get("licence") or "")
    if licence == "by_media":
        if media is None:
            raise HostOpError("Cannot read the Setup version of %s, so the licence switch it expects is unknown." % path)
        licence = "diagnostic_data" if _at_least(media, rules.get("diagnostic_data_from")) else "legacy"
    switches = [{"cu": "/Mode:Upgrade", "prepare_schema": "/PrepareSchema", "prepare_ad": "/PrepareAD"}[kind]]
    switches.append("/IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF" if licence == "diagnostic_data"
                    else "/IAcceptExchangeServerLicenseTerms")
    protection = str(args.get("extended_protection") or "setup_default")
    if kind == "cu" and protection != "setup_default" and not edge:
        if media is None:
            raise HostOpError("Cannot read the Setup version of %s, so whether it takes the Extended Protection "
                              "opt-out is unknown." % path)
        if _at_least(media, rules.get("extended_protection_from")):
            switches.append({"off": "/DoNotEnableEP", "off_frontend_ews": "/DoNotEnableEP_FEEWS"}[protection])
    return switches, extract_to, media
