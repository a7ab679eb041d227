"""Model of Enter-MaintenanceStep.ps1: one step out of service."""
from __future__ import annotations

from .. import maintenance as mm
from ..ems import open_exchange_session
from . import HostOpError, operation

STEPS = ("drain_transport", "redirect_messages", "suspend_cluster_node", "block_activation", "server_offline")


@operation("Enter-MaintenanceStep")
def enter_maintenance_step(ctx, args):
    step = str(args.get("step"))
    if step not in STEPS:
        raise HostOpError("Unknown maintenance step %s." % step)
    open_exchange_session(ctx, args)
    server, state, now = ctx.server, ctx.state, ctx.clock.now()
    changed = False
    if step == "drain_transport":
        if mm.component(server, "HubTransport") == "Active":
            server["component_states"]["HubTransport"] = "Draining"
            mm.set_queue_rate(server, now, mm.DRAIN_RATE)
            changed = True
        detail = mm.component(server, "HubTransport")
    elif step == "redirect_messages":
        target = str(args.get("target") or "")
        if not target:
            raise HostOpError("redirect_messages needs a target server.")
        short = target.split(".")[0].upper()
        try:
            other = state.server(short)
        except KeyError:
            raise HostOpError("The server %s couldn't be found." % target,
                              "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException") from None
        if mm.component(other, "HubTransport") != "Active":
            raise HostOpError("Redirect-Message: the target server %s is not accepting messages (HubTransport %s)."
                              % (target, mm.component(other, "HubTransport")))
        mm.set_queue_rate(server, now, mm.REDIRECT_RATE)
        changed, detail = True, target
    elif step == "suspend_cluster_node":
        if not server["dag"]:
            raise HostOpError("The cluster service is not running on this server.", "System.ComponentModel.Win32Exception")
        if mm.cluster_node(server) == "Up":
            server["cluster_node"] = "Paused"
            changed = True
        detail = mm.cluster_node(server)
    elif step == "block_activation":
        if not mm.move_now(server) or mm.auto_activation(server) != "Blocked":
            server["auto_activation"] = "Blocked"
            server["activation_move_now"] = True
            changed = True
        # Active Manager moves what it can at once; a database with no healthy
        # copy elsewhere stays mounted here, which the controller sees.
        for db in state.databases_on(server["name"]):
            if db["active"].upper() == server["name"].upper():
                target = mm.best_activation_target(state, db, server["name"])
                if target:
                    db["active"] = target
                    changed = True
        detail = mm.auto_activation(server)
    else:
        if mm.component(server, "ServerWideOffline") == "Active":
            server["component_states"]["ServerWideOffline"] = "Inactive"
            changed = True
        detail = mm.component(server, "ServerWideOffline")
    if changed:
        mm.record(ctx.lab, server, step, detail)
    return {"changed": changed, "data": {"step": step, "detail": detail},
            "steps": [{"name": step, "changed": changed, "detail": detail}]}
