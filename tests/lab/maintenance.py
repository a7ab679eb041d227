"""The lab's model of Exchange maintenance mode, and its transition log.

Per server (created on first use, so fleets need not mention them):
``component_states`` (HubTransport, ServerWideOffline...), ``cluster_node``
(Up/Paused; Down while rebooting), ``auto_activation`` (Unrestricted,
IntrasiteOnly, Blocked), ``activation_move_now`` and ``queue`` (messages
waiting; a fleet may set ``queue_messages`` to start with some).  Queues
drain over lab time once transport is draining, faster after a redirect;
the ``queue_stuck`` fault keeps them full.

Every change of a server's maintenance markers, and every reboot, is
appended to ``state["maintenance_log"]`` with whether the server was out of
service afterwards.  Out of service means the DAG has lost it: cluster node
paused, activation disabled with MoveNow, HighAvailability or
ServerWideOffline inactive, or rebooting.  Transport (or UM) draining alone
is the gate's claim, not an outage; nor is activation ``Blocked`` alone: a
lagged or DR member kept that way on purpose still holds its copies.

A server may carry ``maintenance_record`` (the registry values
Enter-MaintenanceStep writes under HKLM\\SOFTWARE\\onprem.exchange\\Maintenance;
it lives with the server, so it survives restarts).  A DAG may carry
``cluster_group_owner`` (the node owning the cluster core group, the PAM);
by default its lowest-named member.
``dag_violations`` replays the log and names every moment a member of a
DAG went out of service while another member was out, or still had a copy
that was not healthy again (ServiceDown or Resynchronizing after its
restart): each entry also records whether the server's own passive copies
were all healthy (``copies_healthy``).
"""
from __future__ import annotations

import datetime as _dt

HEALTHY_COPY = ("Healthy", "Mounted")
# Messages per lab second once transport drains (the server still delivers
# what it holds) and once the queue was redirected to another server.
DRAIN_RATE = 0.5
REDIRECT_RATE = 4.0


def component(server, name):
    return server["component_states"].get(name, "Active")


def cluster_node(server):
    if not server["dag"]:
        return None
    if server.get("rebooting_until"):
        return "Down"
    return server.setdefault("cluster_node", "Up")


def auto_activation(server):
    if "Edge" in (server.get("roles") or []):
        return None  # no Get-MailboxServer on Edge
    return server.setdefault("auto_activation", "Unrestricted")


def move_now(server):
    return bool(server.setdefault("activation_move_now", False))


def has_um(server):
    """UMCallRouter exists on 2013 and 2016; Exchange 2019 removed Unified Messaging."""
    return str(server.get("build", "")).startswith(("15.0.", "15.1."))


def components(server):
    """What Get-ServerComponentState lists for the server (the ones the
    maintenance procedure touches).  An Edge Transport server has neither
    HighAvailability (no DAG) nor UMCallRouter (no Unified Messaging)."""
    if "Edge" in (server.get("roles") or []):
        found = {"ServerWideOffline": "Active", "HubTransport": "Active"}
        found.update(server["component_states"])
        return found
    found = {"ServerWideOffline": "Active", "HubTransport": "Active", "HighAvailability": "Active"}
    if has_um(server):
        found["UMCallRouter"] = "Active"
    found.update(server["component_states"])
    return found


def cluster_group_owner(state, dag_name):
    owner = state.dag(dag_name).get("cluster_group_owner")
    if owner:
        return owner.upper()
    members = sorted(m["name"].upper() for m in state.dag_members(dag_name))
    return members[0] if members else None


def out_of_service(server):
    return bool(server.get("rebooting_until")) or component(server, "ServerWideOffline") != "Active" \
        or server.get("cluster_node") == "Paused" or move_now(server) \
        or component(server, "HighAvailability") != "Active"


def _queue(server, now):
    queue = server.get("queue")
    if queue is None:
        queue = server["queue"] = {"messages": int(server.get("queue_messages") or 0), "since": now.isoformat(),
                                   "rate": 0.0}
    return queue


def queue_messages(server, now):
    queue = _queue(server, now)
    if server["faults"].get("queue_stuck") or not queue["rate"]:
        return queue["messages"]
    elapsed = (now - _dt.datetime.fromisoformat(queue["since"])).total_seconds()
    return max(0, int(round(queue["messages"] - elapsed * queue["rate"])))


def set_queue_rate(server, now, rate):
    remaining = queue_messages(server, now)
    server["queue"] = {"messages": remaining, "since": now.isoformat(), "rate": rate}


def copies_healthy(state, server):
    """Whether every replicated copy on ``server`` is healthy (or mounted there)."""
    for database in state.databases_on(server["name"]):
        if len(database["copies"]) < 2 or database.get("active") == server["name"]:
            continue
        if database["copies"][server["name"]]["status"] not in HEALTHY_COPY:
            return False
    return True


def record(lab, server, event, detail=None):
    """Append one transition; the caller holds the state lock."""
    log = lab.state.data.setdefault("maintenance_log", [])
    log.append({"seq": len(log) + 1, "time": lab.clock.iso(), "server": server["name"], "dag": server["dag"],
                "event": event, "detail": detail, "out_of_service": out_of_service(server),
                "copies_healthy": copies_healthy(lab.state, server)})
    lab.state_changed()
    if event != "network_cut":
        lab.note_transition(server, event)


def dag_violations(log):
    """Moments a member of a DAG went out of service while another member was
    out too, or had copies not yet healthy again after its restart."""
    out = {}
    recovering = {}
    violations = []
    for entry in log:
        if not entry.get("dag"):
            continue
        members = out.setdefault(entry["dag"], set())
        unhealthy = recovering.setdefault(entry["dag"], set())
        was_out = entry["server"] in members
        if entry["out_of_service"]:
            members.add(entry["server"])
        else:
            members.discard(entry["server"])
        if entry.get("copies_healthy", True):
            unhealthy.discard(entry["server"])
        else:
            unhealthy.add(entry["server"])
        others = (members | unhealthy) - {entry["server"]}
        if entry["out_of_service"] and not was_out and others:
            violations.append({"dag": entry["dag"], "servers": sorted(members | unhealthy), "time": entry["time"],
                               "seq": entry["seq"], "event": entry["event"],
                               "recovering": sorted(unhealthy - {entry["server"]})})
    return violations


def best_activation_target(state, database, leaving):
    """Where Active Manager would move ``database`` from ``leaving``."""
    candidates = []
    for name, copy in database["copies"].items():
        if name.upper() == leaving.upper() or copy["status"] not in HEALTHY_COPY:
            continue
        other = state.server(name)
        if other.get("rebooting_until") or auto_activation(other) == "Blocked" or move_now(other) \
                or component(other, "ServerWideOffline") != "Active" or cluster_node(other) not in ("Up", None):
            continue
        candidates.append((copy["activation_preference"], name))
    return min(candidates)[1] if candidates else None
