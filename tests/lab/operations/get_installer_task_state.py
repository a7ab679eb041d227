"""Model of Get-InstallerTaskState.ps1: the short, read-only poll."""
from __future__ import annotations

import re

from .. import installer
from . import operation

_VERDICTS = re.compile(r"completed successfully|operation failed|return value 3|is returning|didn't complete|"
                       r"rolled back", re.IGNORECASE)


@operation("Get-InstallerTaskState")
def get_installer_task_state(ctx, args):
    tail = int((args or {}).get("tail_lines") or 200)
    task = ctx.server.get(installer.TASK_KEY)
    data = {"state": "none", "task_id": None, "kind": None, "installer": None, "update": None, "exit_code": None,
            "started": None, "log_tail": [], "log_markers": []}
    if task:
        data.update(state=task["state"], task_id=task["task_id"], kind=task["kind"], installer=task["installer"],
                    update=task["update"], exit_code=task["exit_code"] if task["state"] == "finished" else None,
                    started=task["started"], log_tail=list(task["log"][-tail:]),
                    # The verdict lines of the whole log, the newest 50.
                    log_markers=[line for line in task["log"] if _VERDICTS.search(line)][-50:])
    return {"changed": False, "data": data}
