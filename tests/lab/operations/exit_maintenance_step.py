"""Model of Exit-MaintenanceStep.ps1: one step back in service."""
from __future__ import annotations

from .. import maintenance as mm
from ..ems import open_exchange_session
from . import HostOpError, operation

STEPS = ("server_online", "resume_cluster_node", "enable_high_availability", "allow_activation", "resume_um",
         "resume_transport")


def _component_or_fail(server, name):
    if name not in mm.components(server):
        raise HostOpError("The component %s is not valid on this server." % name, "System.ArgumentException")
    return mm.component(server, name)


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
    activation_before = None
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
    elif step == "enable_high_availability":
        if _component_or_fail(server, "HighAvailability") != "Active":
            server["component_states"]["HighAvailability"] = "Active"
            changed = True
        detail = mm.component(server, "HighAvailability")
    elif step == "resume_um":
        if _component_or_fail(server, "UMCallRouter") == "Draining":
            server["component_states"]["UMCallRouter"] = "Active"
            changed = True
        detail = mm.component(server, "UMCallRouter")
    elif step == "allow_activation":
        record = server.setdefault("maintenance_record", {})
        activation_before = record.get("ActivationPolicyBefore")
        restore = activation_before if activation_before in ("Unrestricted", "IntrasiteOnly", "Blocked") else policy
        if mm.move_now(server) or (activation_before and mm.auto_activation(server) != restore) \
                or (not activation_before and mm.auto_activation(server) == "Blocked"):
            server["auto_activation"] = restore
            server["activation_move_now"] = False
            changed = True
        if activation_before:
            record.pop("ActivationPolicyBefore", None)
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
    return {"changed": changed, "data": {"step": step, "detail": detail, "activation_before": activation_before},
            "steps": [{"name": step, "changed": changed, "detail": detail}]}
