"""Model of Enter-MaintenanceStep.ps1: one step out of service."""
from __future__ import annotations

from .. import maintenance as mm
from ..ems import open_exchange_session
from ..fleet import is_edge
from . import HostOpError, operation

# PowerShell's text for a command that is not there.
NOT_A_CMDLET = ("The term '%s' is not recognized as the name of a cmdlet, function, script file, or operable program. "
                "Check the spelling of the name, or if a path was included, verify that the path is correct and try "
                "again.")
STEPS = ("drain_transport", "drain_um", "redirect_messages", "suspend_cluster_node", "disable_high_availability",
         "block_activation", "move_cluster_group", "server_offline")


def _component_or_fail(server, name):
    # Get-ServerComponentState refuses a component the server does not have.
    if name not in mm.components(server):
        raise HostOpError("The component %s is not valid on this server." % name, "System.ArgumentException")
    return mm.component(server, name)


@operation("Enter-MaintenanceStep")
def enter_maintenance_step(ctx, args):
    step = str(args.get("step"))
    if step not in STEPS:
        raise HostOpError("Unknown maintenance step %s." % step)
    open_exchange_session(ctx, args)
    server, state, now = ctx.server, ctx.state, ctx.clock.now()
    if is_edge(server) and step in ("block_activation",):
        # The Edge snap-ins have no mailbox cmdlets.
        raise HostOpError(NOT_A_CMDLET % "Get-MailboxServer",
                          "System.Management.Automation.CommandNotFoundException")
    if is_edge(server) and step == "redirect_messages":
        # The Edge's AD LDS knows no Mailbox server to hand mail to.
        raise HostOpError("The server %s couldn't be found." % args.get("target"),
                          "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException")
    changed = False
    activation_before = None
    if step == "drain_transport":
        if mm.component(server, "HubTransport") == "Active":
            server["component_states"]["HubTransport"] = "Draining"
            mm.set_queue_rate(server, now, mm.DRAIN_RATE)
            changed = True
        detail = mm.component(server, "HubTransport")
    elif step == "drain_um":
        if _component_or_fail(server, "UMCallRouter") == "Active":
            server["component_states"]["UMCallRouter"] = "Draining"
            changed = True
        detail = mm.component(server, "UMCallRouter")
    elif step == "disable_high_availability":
        if _component_or_fail(server, "HighAvailability") == "Active":
            server["component_states"]["HighAvailability"] = "Inactive"
            changed = True
        detail = mm.component(server, "HighAvailability")
    elif step == "move_cluster_group":
        target = str(args.get("target") or "").upper()
        if not target:
            raise HostOpError("move_cluster_group needs a target node.")
        if not server["dag"]:
            raise HostOpError("The cluster service is not running on this server.", "System.ComponentModel.Win32Exception")
        members = {m["name"].upper(): m for m in state.dag_members(server["dag"])}
        if target not in members or mm.cluster_node(members[target]) != "Up":
            raise HostOpError("Move-ClusterGroup: the node %s is not an Up node of this cluster." % target)
        dag = state.dag(server["dag"])
        if mm.cluster_group_owner(state, server["dag"]) == server["name"].upper():
            dag["cluster_group_owner"] = target
            changed = True
        detail = mm.cluster_group_owner(state, server["dag"])
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
        record = server.setdefault("maintenance_record", {})
        if not record.get("ActivationPolicyBefore"):
            record["ActivationPolicyBefore"] = mm.auto_activation(server)
        activation_before = record["ActivationPolicyBefore"]
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
    return {"changed": changed, "data": {"step": step, "detail": detail, "activation_before": activation_before},
            "steps": [{"name": step, "changed": changed, "detail": detail}]}
