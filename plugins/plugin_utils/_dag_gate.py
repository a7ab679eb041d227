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
   database keeps ``min_healthy_copies`` healthy copies that can take over
   without this server.  The default, 1, is the rule admins live by: never
   take down a database's last healthy copy, so one member of a two-member
   DAG may leave (Microsoft's StartDagServerMaintenance.ps1 also asks for
   only one other critical copy in a two-server DAG).  2 or more is the
   stricter rule for estates that want it.  A copy counts when its member
   is in service and allows activation: a member kept ``Blocked`` on purpose
   (a lagged or DR copy) holds a healthy copy Active Manager will not
   activate, so it never stands in for this server, yet it is not "in
   maintenance" either and does not close the gate for its DAG.
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
    "redirect_target", "cluster_group_target", "single_copy_databases", "movable_active", "summary",
    "RULE_LAST_COPY", "RULE_MIN_COPIES",
]

HEALTHY_COPY = ("Healthy", "Mounted")
# Microsoft's order (Learn, "Performing maintenance on DAG members", and its
# StartDagServerMaintenance.ps1): drain transport (and UM on 2016), pause the
# node, HighAvailability inactive, block activation and move the databases,
# move the cluster core group (the PAM) away, then ServerWideOffline.
ENTER_ORDER = ("drain_transport", "drain_um", "redirect_messages", "wait_queues", "suspend_cluster_node",
               "disable_high_availability", "block_activation", "move_cluster_group", "wait_moves", "server_offline")
EXIT_ORDER = ("server_online", "resume_cluster_node", "enable_high_availability", "allow_activation", "resume_um",
              "resume_transport")
RULE_LAST_COPY = "last_healthy_copy"
RULE_MIN_COPIES = "min_healthy_copies"


def _upper(name):
    return str(name or "").upper()


def _component(entry, name):
    return (entry.get("components") or {}).get(name, "Active")


def _ha_inactive(entry):
    # The HighAvailability component exists from Exchange 2013 CU on; an
    # absent one is not a marker.
    return (entry.get("components") or {}).get("HighAvailability", "Active") != "Active"


def phase(entry):
    """``in_service``, ``claimed`` (transport drained only) or ``in_maintenance``.

    Activation ``Blocked`` alone is a policy (a lagged or DR member), not
    maintenance: maintenance is a paused node, ServerWideOffline or
    HighAvailability inactive, or the MoveNow flag the procedure sets."""
    if _component(entry, "ServerWideOffline") != "Active" or entry.get("cluster_node") == "Paused" \
            or entry.get("move_now") or _ha_inactive(entry):
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
    if _ha_inactive(entry):
        found.append("HighAvailability %s" % entry["components"]["HighAvailability"])
    if entry.get("move_now"):
        found.append("database activation blocked")
    return ", ".join(found)


def _replicated(database):
    return len(database.get("copies") or []) > 1


def single_copy_databases(state):
    """Databases of this DAG member with no other copy: they cannot move and
    are offline while the server is out of service."""
    if not state.get("dag"):
        return []
    return sorted(d.get("name") for d in state.get("databases") or [] if not _replicated(d))


def movable_active(state):
    """Active databases here that have another copy to move to."""
    replicated = {d.get("name") for d in state.get("databases") or [] if _replicated(d)}
    return [name for name in state.get("active_copies") or [] if name in replicated]


def judge_gate(state, min_healthy_copies=1, allow_single_copy_outage=False):
    """Whether this server may leave service now.

    Returns ``{open, reason, dag, members, blockers, contenders, held_by,
    single_copy, refused}``.  ``blockers`` are reasons that keep the gate
    shut whoever asks; ``contenders`` are other members holding only a claim
    (see module doc); ``held_by`` names the rules behind the blockers
    (``member_out``, ``member_down``, ``unhealthy_copy``,
    ``last_healthy_copy`` or ``min_healthy_copies``).  ``refused`` is set
    when waiting cannot help: a database of this server with a single copy
    and ``allow_single_copy_outage`` off.
    """
    me = _upper(state.get("server"))
    dag = state.get("dag")
    if not dag:
        return {"open": True, "reason": "not a DAG member", "dag": None, "members": {}, "blockers": [],
                "contenders": [], "held_by": [], "single_copy": [], "refused": None}
    rule = RULE_LAST_COPY if min_healthy_copies <= 1 else RULE_MIN_COPIES
    members, blockers, contenders, away, blocked, held_by = {}, [], [], set(), set(), []

    def hold(why, reason):
        blockers.append(reason)
        if why not in held_by:
            held_by.append(why)

    for member in state.get("members") or []:
        name = _upper(member.get("name"))
        member_phase = phase(member)
        node = member.get("cluster_node")
        health = "healthy"
        if node not in ("Up", "Paused"):
            health = "down"
            hold("member_down", "%s's cluster node is %s" % (name, node or "unknown"))
            away.add(name)
        if member_phase == "in_maintenance":
            hold("member_out", "%s is in maintenance (%s)" % (name, _markers(member)))
            away.add(name)
        elif member_phase == "claimed":
            contenders.append(name)
        if member.get("auto_activation") == "Blocked":
            blocked.add(name)
        members[name] = {"phase": member_phase, "health": health, "markers": _markers(member),
                         "activation": member.get("auto_activation")}
    for database in state.get("databases") or []:
        copies = database.get("copies") or []
        for copy in copies:
            server = _upper(copy.get("server"))
            if server != me and server in members and copy.get("status") not in HEALTHY_COPY:
                members[server]["health"] = "unhealthy"
                hold("unhealthy_copy", "the copy of %s on %s is %s" % (
                    database.get("name"), server, copy.get("status")))
        if len(copies) < 2:
            continue  # not replicated: decided by single_copy below
        healthy = sorted(_upper(c.get("server")) for c in copies
                         if _upper(c.get("server")) not in {me} | away | blocked
                         and c.get("status") in HEALTHY_COPY)
        if len(healthy) < max(min_healthy_copies, 1):
            kept_back = sorted(_upper(c.get("server")) for c in copies if _upper(c.get("server")) in blocked)
            if rule == RULE_LAST_COPY:
                text = "%s would lose its last healthy copy that can take over if %s left%s (rule: never take " \
                       "down a database's last healthy copy)" % (
                           database.get("name"), me,
                           "; the copy on %s is not counted, its activation is Blocked" % ", ".join(kept_back)
                           if kept_back else "")
            else:
                text = "%s would keep %d healthy cop%s (%s) without %s, fewer than min_healthy_copies=%d" % (
                    database.get("name"), len(healthy), "y" if len(healthy) == 1 else "ies",
                    ", ".join(healthy) or "none", me, min_healthy_copies)
            hold(rule, text)
    single = single_copy_databases(state)
    refused = None
    if single and not allow_single_copy_outage:
        refused = ("%s hold%s a single copy (not replicated), so %s cannot move and would be offline while %s is "
                   "out of service; set allow_single_copy_outage to accept that outage" % (
                       ", ".join(single), "s" if len(single) == 1 else "", "it" if len(single) == 1 else "they", me))
    if blockers:
        reason = "; ".join(blockers)
    elif contenders:
        reason = "claimed by %s" % ", ".join(sorted(contenders))
    else:
        reason = "no other member is out of service and every replicated database keeps %s" % (
            "a healthy copy that can take over" if rule == RULE_LAST_COPY
            else "at least %d healthy copies" % min_healthy_copies)
    return {"open": not blockers and not contenders and not refused, "reason": refused or reason, "dag": dag,
            "members": members, "blockers": blockers, "contenders": sorted(contenders), "held_by": held_by,
            "single_copy": single, "refused": refused}


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
    components = state.get("components") or {}
    dag = state.get("dag")
    if _component(state, "HubTransport") == "Active":
        steps.append("drain_transport")
    # UMCallRouter exists on 2016 (Unified Messaging left with 2019).
    if components.get("UMCallRouter") == "Active":
        steps.append("drain_um")
    if not offline and (state.get("queue_messages") or 0) > 0:
        # An Edge Transport server has no Mailbox server to redirect to
        # (Redirect-Message hands a Mailbox server's queues to another
        # Mailbox server, Learn's cmdlet reference): it drains by delivering
        # what it holds, and the window waits for that.
        steps += ["wait_queues"] if state.get("edge_transport") else ["redirect_messages", "wait_queues"]
    if dag and state.get("cluster_node") == "Up":
        steps.append("suspend_cluster_node")
    if dag and components.get("HighAvailability") == "Active":
        steps.append("disable_high_availability")
    if dag and (state.get("auto_activation") != "Blocked" or not state.get("move_now")):
        steps.append("block_activation")
    if dag and state.get("cluster_group_owner") and _upper(state.get("cluster_group_owner")) == _upper(
            state.get("server")):
        steps.append("move_cluster_group")
    if dag and movable_active(state):
        steps.append("wait_moves")
    if not offline:
        steps.append("server_offline")
    return [s for s in ENTER_ORDER if s in steps]


def exit_steps(state):
    """Steps still needed to put the server back in service, in order."""
    steps = []
    components = state.get("components") or {}
    if _component(state, "ServerWideOffline") != "Active":
        steps.append("server_online")
    if state.get("dag") and state.get("cluster_node") == "Paused":
        steps.append("resume_cluster_node")
    if state.get("dag") and _ha_inactive(state):
        steps.append("enable_high_availability")
    # The policy the server had before entry is on the host (recorded by the
    # block_activation step); put exactly that back.  Without a record, a
    # Blocked policy is undone only while the server is otherwise in
    # maintenance: on a server in service it is an admin's choice.
    before = state.get("activation_before")
    if state.get("move_now") or before or (state.get("auto_activation") == "Blocked" and steps):
        steps.append("allow_activation")
    # Only the Draining we set is undone; an admin's Inactive UM stays.
    if components.get("UMCallRouter") == "Draining":
        steps.append("resume_um")
    if _component(state, "HubTransport") != "Active":
        steps.append("resume_transport")
    return [s for s in EXIT_ORDER if s in steps]


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


def cluster_group_target(state):
    """The other DAG member, in service with its cluster node Up, that should
    own the cluster core group (and so the PAM) while this server is out."""
    for member in sorted(state.get("members") or [], key=lambda m: _upper(m.get("name"))):
        if phase(member) == "in_service" and member.get("cluster_node") == "Up":
            return _upper(member.get("name"))
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
        "activation_before": state.get("activation_before"),
        "cluster_group_owner": state.get("cluster_group_owner"),
        "queue_messages": state.get("queue_messages"),
    }


def option_problem(args):
    """The first refused option of onprem.exchange.maintenance_mode, or None."""
    for name in ("gate_timeout", "queue_timeout", "move_timeout", "min_healthy_copies"):
        if args[name] < 0:
            return "%s=%d must not be negative" % (name, args[name])
    if args["min_healthy_copies"] < 1:
        return ("min_healthy_copies=0 is not allowed: a database's last healthy copy is never taken down (1 is that "
                "rule, 2 or more is stricter)")
    if args["poll_interval"] <= 0:
        return "poll_interval must be more than 0 seconds"
    return None


# -- what a person reads -----------------------------------------------------

def refusal_message(host, gate, waited):
    """Why ``host`` may not leave service now (``gate`` from judge_gate)."""
    if gate["refused"]:
        return ("%s: refused up front (rule: single_copy_database): %s. Nothing was changed on %s."
                % (host, gate["refused"], host))
    return ("%s: the DAG gate of %s is closed: %s. Held back by rule: %s.%s Nothing was changed on %s." % (
        host, gate["dag"], gate["reason"], ", ".join(gate["held_by"]) or "another member's claim",
        " Waited %d s (gate_timeout)." % waited if waited else " gate_timeout is 0, so it did not wait.", host))


def left_as_is_message(host, message, state):
    """A stop part-way, with the state the server is left in and the way back."""
    left = summary(state)
    return ("%s: %s Left as it is now: phase %s, components %s, cluster node %s, active databases %s. Run "
            "onprem.exchange.maintenance_mode with state=absent to put it back in service."
            % (host, message, left["phase"], left["components"], left["cluster_node"],
               ", ".join(left["active_copies"]) or "none"))


def lost_message(host, desired, steps, lost):
    """A connection lost after steps were sent: which were done, which answers were lost."""
    done = ", ".join("%s (%s)" % (s["name"], "answer lost" if s["changed"] is None else "done") for s in steps)
    return ("%s: the connection was lost while %s maintenance, after: %s. The server may be out of service. %s. "
            "Once it answers, run the window again (it finishes what was started) or onprem.exchange.maintenance_mode "
            "with state=absent to put it back in service."
            % (host, "entering" if desired == "present" else "leaving", done, str(lost).rstrip(".")))
