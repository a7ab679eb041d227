"""Model of Get-MaintenanceState.ps1: this server, its databases, its DAG."""
from __future__ import annotations

from .. import maintenance as mm
from ..ems import open_exchange_session
from ..fleet import is_edge
from . import operation


def _components(server):
    return mm.components(server)


@operation("Get-MaintenanceState")
def get_maintenance_state(ctx, args):
    open_exchange_session(ctx, args)
    server, state = ctx.server, ctx.state
    now = ctx.clock.now()
    name = server["name"].upper()
    databases, active = [], []
    for db in state.databases_on(server["name"]):
        copies = [{"server": host.upper(), "status": "Mounted" if db["active"] == host else copy["status"],
                   "activation_preference": copy["activation_preference"]} for host, copy in db["copies"].items()]
        databases.append({"name": db["name"], "active_server": db["active"].upper(), "copies": copies})
        if db["active"].upper() == name:
            active.append(db["name"])
    members = []
    if server["dag"]:
        for member in state.dag_members(server["dag"]):
            if member["name"].upper() == name:
                continue
            members.append({"name": member["name"].upper(), "components": _components(member),
                            "cluster_node": mm.cluster_node(member), "auto_activation": mm.auto_activation(member),
                            "move_now": mm.move_now(member)})
    transport = [{"name": s["name"].upper(), "fqdn": "%s.%s" % (s["name"].upper(), s["domain"]),
                  "components": _components(s)}
                 for s in state.servers()
                 if s["name"].upper() != name and s["organization"] == server["organization"]
                 and s["site"] == server["site"] and not s.get("rebooting_until")
                 and "Mailbox" in s["roles"] and not s["build"].startswith("15.0.")]
    if is_edge(server):
        # The Edge's local cmdlets see only this server: no mailbox role, no
        # databases, no DAG, no other transport server.
        databases, active, members, transport = [], [], [], []
    data = {
        "server": name, "fqdn": "%s.%s" % (name, server["domain"]), "edge_transport": is_edge(server),
        "dag": server["dag"],
        "components": _components(server), "cluster_node": mm.cluster_node(server),
        "auto_activation": mm.auto_activation(server), "move_now": mm.move_now(server),
        "activation_before": (server.get("maintenance_record") or {}).get("ActivationPolicyBefore"),
        "cluster_group_owner": mm.cluster_group_owner(state, server["dag"]) if server["dag"] else None,
        "queue_messages": mm.queue_messages(server, now), "active_copies": active, "databases": databases,
        "members": members, "transport_servers": transport,
    }
    return {"changed": False, "data": data}
