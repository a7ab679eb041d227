# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DAG gate and the maintenance procedure, judged from the estate's real state.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports.  Input is what Get-MaintenanceState reads
on the server (see that script): the server's component states, cluster
node, activation policy, queue length and active databases; every copy of
its databases; the other DAG members' maintenance markers.

Claim, then verify
------------------
Nothing in Exchange offers a lock, so the gate uses the first step of the
procedure itself as a claim everyone can see: HubTransport ``Draining``.

1. Before claiming, the gate must be open: no other member claimed or in
   maintenance, none down or with an unhealthy copy, and every replicated
   database keeps ``min_healthy_copies`` healthy copies without this server.
2. Claim (drain transport), then read the DAG again.
3. Verify on that fresh read: blockers -> withdraw.  Other members that
   only claimed -> the lowest server name keeps its claim and waits for the
   others to withdraw; every other claimant withdraws.  Nobody else -> go on.

A server goes on only when a read made after its own claim, a claim it has
held ever since, shows no other claim.  Two servers cannot both see that:
whichever claimed second read after the first one's claim.  The name order
makes contention end with one winner rather than none.  The claim is the
last thing released on the way out, so a run that crashed anywhere in
between leaves a marker that keeps the gate shut for the others.
"""
from __future__ import annotations

__all__ = [
    "HEALTHY_COPY", "phase", "judge_gate", "after_claim", "enter_steps", "exit_steps", "pending_steps",
    "redirect_target", "summary",
]

HEALTHY_COPY = ("Healthy", "Mounted")
ENTER_ORDER = ("drain_transport", "redirect_messages", "wait_queues", "suspend_cluster_node", "block_activation",
               "wait_moves", "server_offline")
EXIT_ORDER = ("server_online", "resume_cluster_node", "allow_activation", "resume_transport")


def _upper(name):
    return str(name or "").upper()


def _component(entry, name):
    return (entry.get("components") or {}).get(name, "Active")


def phase(entry):
    """``in_service``, ``claimed`` (transport drained only) or ``in_maintenance``."""
    if _component(entry, "ServerWideOffline") != "Active" or entry.get("cluster_node") == "Paused" \
            or entry.get("auto_activation") == "Blocked" or entry.get("move_now"):
        return "in_maintenance"
    if _component(entry, "HubTransport") != "Active":
        return "claimed"
    return "in_service"


def _markers(entry):
    found = []
    for comp in ("HubTransport", "ServerWideOffline"):
        if _component(entry, comp) != "Active":
            found.append("%s %s" % (comp, _component(entry, comp)))
    if entry.get("cluster_node") == "Paused":
        found.append("cluster node Paused")
    if entry.get("auto_activation") == "Blocked" or entry.get("move_now"):
        found.append("database activation blocked")
    return ", ".join(found)


def judge_gate(state, min_healthy_copies):
    """Whether this server may leave service now.

    Returns ``{open, reason, dag, members, blockers, contenders}``.
    ``blockers`` are reasons that keep the gate shut whoever asks;
    ``contenders`` are other members holding only a claim (see module doc).
    """
    me = _upper(state.get("server"))
    dag = state.get("dag")
    if not dag:
        return {"open": True, "reason": "not a DAG member", "dag": None, "members": {}, "blockers": [],
                "contenders": []}
    members, blockers, contenders, away = {}, [], [], set()
    for member in state.get("members") or []:
        name = _upper(member.get("name"))
        member_phase = phase(member)
        node = member.get("cluster_node")
        health = "healthy"
        if node not in ("Up", "Paused"):
            health = "down"
            blockers.append("%s's cluster node is %s" % (name, node or "unknown"))
            away.add(name)
        if member_phase == "in_maintenance":
            blockers.append("%s is in maintenance (%s)" % (name, _markers(member)))
            away.add(name)
        elif member_phase == "claimed":
            contenders.append(name)
        members[name] = {"phase": member_phase, "health": health, "markers": _markers(member)}
    for database in state.get("databases") or []:
        copies = database.get("copies") or []
        for copy in copies:
            server = _upper(copy.get("server"))
            if server != me and server in members and copy.get("status") not in HEALTHY_COPY:
                members[server]["health"] = "unhealthy"
                blockers.append("the copy of %s on %s is %s" % (database.get("name"), server, copy.get("status")))
        if len(copies) < 2:
            continue  # not replicated: it is offline during maintenance whatever the gate says
        healthy = sorted(_upper(c.get("server")) for c in copies
                         if _upper(c.get("server")) != me and _upper(c.get("server")) not in away
                         and c.get("status") in HEALTHY_COPY)
        if len(healthy) < min_healthy_copies:
            blockers.append("%s would keep %d healthy cop%s (%s) without %s, fewer than min_healthy_copies=%d" % (
                database.get("name"), len(healthy), "y" if len(healthy) == 1 else "ies",
                ", ".join(healthy) or "none", me, min_healthy_copies))
    reason = "; ".join(blockers) if blockers else (
        "claimed by %s" % ", ".join(sorted(contenders)) if contenders else "no other member is out of service "
        "and every database keeps at least %d healthy copies" % min_healthy_copies)
    return {"open": not blockers and not contenders, "reason": reason, "dag": dag, "members": members,
            "blockers": blockers, "contenders": sorted(contenders)}


def after_claim(gate, me):
    """``proceed``, ``hold`` (keep the claim, wait for others to withdraw) or ``withdraw``."""
    if gate["blockers"]:
        return "withdraw"
    if gate["contenders"]:
        return "hold" if _upper(me) < min(gate["contenders"]) else "withdraw"
    return "proceed"


def enter_steps(state):
    """Steps still needed to take the server out of service, in order."""
    steps = []
    offline = _component(state, "ServerWideOffline") != "Active"
    if _component(state, "HubTransport") == "Active":
        steps.append("drain_transport")
    if not offline and (state.get("queue_messages") or 0) > 0:
        steps += ["redirect_messages", "wait_queues"]
    if state.get("dag") and state.get("cluster_node") == "Up":
        steps.append("suspend_cluster_node")
    if state.get("dag") and (state.get("auto_activation") != "Blocked" or not state.get("move_now")):
        steps.append("block_activation")
    if state.get("active_copies") and state.get("dag"):
        steps.append("wait_moves")
    if not offline:
        steps.append("server_offline")
    return [s for s in ENTER_ORDER if s in steps]


def exit_steps(state):
    """Steps still needed to put the server back in service, in order."""
    steps = []
    if _component(state, "ServerWideOffline") != "Active":
        steps.append("server_online")
    if state.get("dag") and state.get("cluster_node") == "Paused":
        steps.append("resume_cluster_node")
    # Only our own block is undone: a policy an admin chose (IntrasiteOnly) stays.
    if state.get("move_now") or state.get("auto_activation") == "Blocked":
        steps.append("allow_activation")
    if _component(state, "HubTransport") != "Active":
        steps.append("resume_transport")
    return steps


def pending_steps(state, desired):
    return enter_steps(state) if desired == "present" else exit_steps(state)


def redirect_target(state, wanted=None):
    """FQDN to hand queued mail to: ``wanted`` if given, else the first other
    DAG member in service, else another in-service transport server of the site."""
    if wanted:
        return wanted
    servers = {_upper(s.get("name")): s for s in state.get("transport_servers") or []}
    for member in sorted(state.get("members") or [], key=lambda m: _upper(m.get("name"))):
        name = _upper(member.get("name"))
        if phase(member) == "in_service" and member.get("cluster_node") == "Up" and name in servers:
            return servers[name].get("fqdn") or name
    for name in sorted(servers):
        if phase(servers[name]) == "in_service":
            return servers[name].get("fqdn") or name
    return None


def summary(state):
    """The ``state`` key of the module result."""
    return {
        "in_maintenance": phase(state) == "in_maintenance" and _component(state, "ServerWideOffline") != "Active",
        "phase": phase(state),
        "components": dict(state.get("components") or {}),
        "cluster_node": state.get("cluster_node"),
        "active_copies": list(state.get("active_copies") or []),
        "auto_activation": state.get("auto_activation"),
        "queue_messages": state.get("queue_messages"),
    }
