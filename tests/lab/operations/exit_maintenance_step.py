"""Model of Exit-MaintenanceStep.ps1: one step back in service."""
from __future__ import annotations

from .. import maintenance as mm
from ..ems import open_exchange_session
from . import HostOpError, operation

STEPS = ("server_online", "resume_cluster_node", "allow_activation", "resume_transport")


@operation("Exit-MaintenanceStep")
def exit_maintenance_step(ctx, args):
    step = str(args.get("step"))
    if step not in STEPS:
        raise HostOpError("Unknown maintenance step %s." % step)
    policy = args.get("activation_policy") if args.get("activation_policy") in ("Unrestricted", "IntrasiteOnly") \
        else "Unrestricted"
    open_exchange_session(ctx, args)
    server, now = ctx.server, ctx.clock.now()
    changed = False
    if step == "server_online":
        if mm.component(server, "ServerWideOffline") != "Active":
            server["component_states"]["ServerWideOffline"] = "Active"
            changed = True
        detail = mm.component(server, "ServerWideOffline")
    elif step == "resume_cluster_node":
        if not server["dag"]:
            raise HostOpError("The cluster service is not running on this server.", "System.ComponentModel.Win32Exception")
        if mm.cluster_node(server) == "Paused":
            server["cluster_node"] = "Up"
            changed = True
        detail = mm.cluster_node(server)
    elif step == "allow_activation":
        if mm.move_now(server) or mm.auto_activation(server) == "Blocked":
            server["auto_activation"] = policy
            server["activation_move_now"] = False
            changed = True
        detail = mm.auto_activation(server)
    else:
        if mm.component(server, "HubTransport") != "Active":
            server["component_states"]["HubTransport"] = "Active"
            mm.set_queue_rate(server, now, 0.0)
            changed = True
        detail = mm.component(server, "HubTransport")
    if changed:
        mm.record(ctx.lab, server, step, detail)
    return {"changed": changed, "data": {"step": step, "detail": detail},
            "steps": [{"name": step, "changed": changed, "detail": detail}]}
