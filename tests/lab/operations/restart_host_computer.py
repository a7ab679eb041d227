"""Model of Restart-HostComputer.ps1: a restart a lab-second from now, so the
answer reaches the controller before the endpoint goes down (the lab ticker
starts the reboot; see lab/installer.py)."""
from __future__ import annotations

import datetime as _dt

from . import operation


@operation("Restart-HostComputer")
def restart_host_computer(ctx, args):
    server = ctx.server
    delay = int((args or {}).get("delay_seconds") or 0)
    if delay < 1 or delay > 600:
        delay = 2
    server["restart_requested_at"] = (ctx.clock.now() + _dt.timedelta(seconds=delay)).isoformat()
    return {"changed": True, "data": {"last_boot": server["last_boot"], "delay_seconds": delay},
            "steps": [{"name": "restart_requested", "changed": True, "detail": "restart in %d s" % delay}]}
