"""Model of Get-InstallerTaskState.ps1: the short, read-only poll."""
from __future__ import annotations

from .. import installer
from . import operation


@operation("Get-InstallerTaskState")
def get_installer_task_state(ctx, args):
    tail = int((args or {}).get("tail_lines") or 200)
    task = ctx.server.get(installer.TASK_KEY)
    data = {"state": "none", "task_id": None, "kind": None, "installer": None, "update": None, "exit_code": None,
            "started": None, "log_tail": []}
    if task:
        data.update(state=task["state"], task_id=task["task_id"], kind=task["kind"], installer=task["installer"],
                    update=task["update"], exit_code=task["exit_code"] if task["state"] == "finished" else None,
                    started=task["started"], log_tail=list(task["log"][-tail:]))
    return {"changed": False, "data": data}
