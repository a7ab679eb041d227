"""Model of Start-InstallerTask.ps1: register and start the installer task."""
from __future__ import annotations

from .. import installer
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
    if kind == "cu" and not expected:
        expected = installer.cu_target_from_iso(path.rsplit("\\", 1)[-1])
    task = installer.start(ctx.lab, ctx.server, kind, path, expected, str(args.get("update") or ""), username)
    if kind == "dotnet":
        task["dotnet_release"] = args.get("dotnet_release")
    return {"changed": True,
            "data": {"task_id": task["task_id"], "already_running": False, "log_path": task["log_path"], "kind": kind},
            "steps": [{"name": "installer_started", "changed": True, "detail": "%s %s" % (kind, path)}]}
