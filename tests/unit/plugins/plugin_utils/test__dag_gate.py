"""_dag_gate: the gate, the claim tie-break and the step plan, from real-state snapshots."""
from __future__ import annotations

import copy
import itertools

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _dag_gate as gate

IN_SERVICE = {"components": {"HubTransport": "Active", "ServerWideOffline": "Active"}, "cluster_node": "Up",
              "auto_activation": "Unrestricted", "move_now": False}


def _member(name, **changes):
    member = dict(copy.deepcopy(IN_SERVICE), name=name)
    components = changes.pop("components", {})
    member["components"].update(components)
    member.update(changes)
    return member


def _state(me="EX19B", members=None, copies=None, **changes):
    databases = [{"name": db, "active_server": "EX19B",
                  "copies": [{"server": s, "status": st} for s, st in (copies or {}).get(db, [
                      ("EX19B", "Mounted"), ("EX19C", "Healthy"), ("EX19D", "Healthy")])]}
                 for db in ("DB01", "DB02")]
    state = dict(_member(me), server=me, dag="DAG01", queue_messages=0, active_copies=["DB01"],
                 databases=databases, members=members if members is not None else [_member("EX19C"), _member("EX19D")],
                 transport_servers=[])
    state.pop("name")
    state.update(changes)
    return state


@pytest.mark.parametrize("members, copies, min_copies, is_open, reason", [
    (None, None, 2, True, "no other member is out of service"),
    ([_member("EX19C", cluster_node="Paused"), _member("EX19D")], None, 1, False,
     "EX19C is in maintenance (cluster node Paused)"),
    ([_member("EX19C", components={"ServerWideOffline": "Inactive"}), _member("EX19D")], None, 1, False,
     "EX19C is in maintenance (ServerWideOffline Inactive)"),
    ([_member("EX19C", move_now=True), _member("EX19D")], None, 1, False, "EX19C is in maintenance"),
    ([_member("EX19C", components={"HighAvailability": "Inactive"}), _member("EX19D")], None, 1, False,
     "EX19C is in maintenance (HighAvailability Inactive)"),
    ([_member("EX19C", cluster_node="Down"), _member("EX19D")], None, 1, False, "EX19C's cluster node is Down"),
    ([_member("EX19C", components={"HubTransport": "Draining"}), _member("EX19D")], None, 1, False,
     "claimed by EX19C"),
    (None, {"DB02": [("EX19B", "Healthy"), ("EX19C", "Mounted"), ("EX19D", "FailedAndSuspended")]}, 1, False,
     "the copy of DB02 on EX19D is FailedAndSuspended"),
    (None, None, 3, False, "DB01 would keep 2 healthy copies (EX19C, EX19D) without EX19B, fewer than "
                           "min_healthy_copies=3"),
    # Our own copy being unhealthy does not close the gate: we are the one leaving.
    (None, {"DB01": [("EX19B", "Failed"), ("EX19C", "Mounted"), ("EX19D", "Healthy")]}, 2, True, "no other"),
])
def test_gate(members, copies, min_copies, is_open, reason):
    verdict = gate.judge_gate(_state(members=members, copies=copies), min_copies)
    assert verdict["open"] is is_open
    assert reason in verdict["reason"]


def test_a_member_away_does_not_count_as_a_healthy_copy():
    members = [_member("EX19C", cluster_node="Paused"), _member("EX19D")]
    verdict = gate.judge_gate(_state(members=members), 2)
    assert "DB01 would keep 1 healthy copy (EX19D)" in verdict["reason"]


def test_a_standalone_server_has_an_open_gate():
    assert gate.judge_gate(_state(dag=None, members=[]), 2)["open"] is True


@pytest.mark.parametrize("me, blockers, contenders, decision", [
    ("EX19B", [], [], "proceed"),
    ("EX19B", [], ["EX19C"], "hold"),
    ("EX19C", [], ["EX19B"], "withdraw"),
    ("EX19C", [], ["EX19B", "EX19D"], "withdraw"),
    ("EX19B", ["EX19D is in maintenance"], [], "withdraw"),
    ("EX19B", ["x"], ["EX19C"], "withdraw"),
])
def test_after_claim(me, blockers, contenders, decision):
    assert gate.after_claim({"blockers": blockers, "contenders": contenders}, me) == decision


def test_any_interleaving_of_two_claims_lets_at_most_one_through():
    """Two members claim and read in every possible order: never both proceed."""
    events = [("B", "claim"), ("B", "read"), ("C", "claim"), ("C", "read")]
    for order in itertools.permutations(events):
        if order.index(("B", "claim")) > order.index(("B", "read")) or \
                order.index(("C", "claim")) > order.index(("C", "read")):
            continue
        claimed, decisions = set(), {}
        for who, what in order:
            if what == "claim":
                claimed.add(who)
            else:
                other = "C" if who == "B" else "B"
                members = [_member("EX19" + other, components={"HubTransport": "Draining"} if other in claimed else {})]
                verdict = gate.judge_gate(_state(me="EX19" + who, members=members), 1)
                decisions[who] = gate.after_claim(verdict, "EX19" + who)
        assert list(decisions.values()).count("proceed") <= 1, order
        assert "proceed" in decisions.values() or "hold" in decisions.values(), order


@pytest.mark.parametrize("changes, desired, steps", [
    ({"queue_messages": 5}, "present", ["drain_transport", "redirect_messages", "wait_queues", "suspend_cluster_node",
                                        "block_activation", "wait_moves", "server_offline"]),
    ({}, "present", ["drain_transport", "suspend_cluster_node", "block_activation", "wait_moves", "server_offline"]),
    ({"components": {"HubTransport": "Draining", "ServerWideOffline": "Active"}, "cluster_node": "Paused",
      "active_copies": []}, "present", ["block_activation", "server_offline"]),
    ({"components": {"HubTransport": "Inactive", "ServerWideOffline": "Inactive"}, "cluster_node": "Paused",
      "auto_activation": "Blocked", "move_now": True, "active_copies": []}, "present", []),
    ({"dag": None, "active_copies": ["MBX"]}, "present", ["drain_transport", "server_offline"]),
    ({"components": {"HubTransport": "Inactive", "ServerWideOffline": "Inactive"}, "cluster_node": "Paused",
      "auto_activation": "Blocked", "move_now": True}, "absent",
     ["server_online", "resume_cluster_node", "allow_activation", "resume_transport"]),
    ({}, "absent", []),
    # An admin's IntrasiteOnly policy is not ours to undo.
    ({"auto_activation": "IntrasiteOnly"}, "absent", []),
])
def test_pending_steps(changes, desired, steps):
    assert gate.pending_steps(_state(**changes), desired) == steps


def test_redirect_goes_to_a_dag_member_in_service_first():
    state = _state(members=[_member("EX19C", components={"HubTransport": "Draining"}), _member("EX19D")],
                   transport_servers=[{"name": "EX19A", "fqdn": "EX19A.lab", "components": {}},
                                      {"name": "EX19C", "fqdn": "EX19C.lab", "components": {}},
                                      {"name": "EX19D", "fqdn": "EX19D.lab", "components": {}}])
    assert gate.redirect_target(state) == "EX19D.lab"
    assert gate.redirect_target(state, "EX01.contoso.com") == "EX01.contoso.com"
    assert gate.redirect_target(_state(members=[], transport_servers=[])) is None


# -- DAGs as they are really run (issue 13) -------------------------------------

def _two_member(**changes):
    copies = {db: [("EX19B", "Mounted"), ("EX19C", "Healthy")] for db in ("DB01", "DB02")}
    return _state(members=[_member("EX19C", **changes)], copies=copies)


def test_one_member_of_a_two_member_dag_may_leave_by_default():
    verdict = gate.judge_gate(_two_member())
    assert verdict["open"] is True, verdict["reason"]
    assert "a healthy copy that can take over" in verdict["reason"]


def test_the_stricter_rule_stays_available_and_names_itself():
    verdict = gate.judge_gate(_two_member(), 2)
    assert verdict["open"] is False
    assert verdict["held_by"] == [gate.RULE_MIN_COPIES]
    assert "fewer than min_healthy_copies=2" in verdict["reason"]


def test_the_last_healthy_copy_is_never_taken_down_and_the_rule_is_named():
    copies = {"DB01": [("EX19B", "Mounted"), ("EX19C", "Healthy")], "DB02": [("EX19B", "Mounted"), ("EX19C", "Healthy")]}
    # EX19C is down for the DAG: every database would lose its last copy.
    state = _state(members=[_member("EX19C", cluster_node="Down")], copies=copies)
    verdict = gate.judge_gate(state)
    assert verdict["open"] is False
    assert gate.RULE_LAST_COPY in verdict["held_by"] and "member_down" in verdict["held_by"]
    assert "DB01 would lose its last healthy copy that can take over if EX19B left" in verdict["reason"]


def test_a_member_blocked_on_purpose_keeps_the_gate_open_but_its_copy_cannot_take_over():
    lagged = _member("EX19D", auto_activation="Blocked")
    assert gate.phase(lagged) == "in_service"
    three = _state(members=[_member("EX19C"), lagged])
    assert gate.judge_gate(three)["open"] is True
    # With only the lagged copy left, the database would have nowhere to go.
    two = _state(members=[lagged], copies={db: [("EX19B", "Mounted"), ("EX19D", "Healthy")] for db in ("DB01", "DB02")})
    verdict = gate.judge_gate(two)
    assert verdict["open"] is False and verdict["held_by"] == [gate.RULE_LAST_COPY]
    assert "the copy on EX19D is not counted, its activation is Blocked" in verdict["reason"]


def test_a_single_copy_database_is_refused_up_front_unless_its_outage_is_allowed():
    copies = {"DB02": [("EX19B", "Mounted")]}
    state = _state(copies=copies, active_copies=["DB01", "DB02"])
    verdict = gate.judge_gate(state)
    assert verdict["open"] is False and verdict["single_copy"] == ["DB02"]
    assert "DB02 holds a single copy (not replicated)" in verdict["refused"]
    allowed = gate.judge_gate(state, allow_single_copy_outage=True)
    assert allowed["open"] is True and allowed["refused"] is None and allowed["single_copy"] == ["DB02"]
    # Only DB01 can move: the procedure waits for that one, never for DB02.
    assert gate.movable_active(state) == ["DB01"]
    assert "wait_moves" not in gate.enter_steps(dict(state, active_copies=["DB02"]))
    # A standalone server's databases are never "single-copy DAG databases".
    assert gate.judge_gate(dict(state, dag=None, members=[]))["open"] is True


def test_microsofts_extra_steps_high_availability_um_and_the_cluster_core_group():
    state = _state(components={"HubTransport": "Active", "ServerWideOffline": "Active", "HighAvailability": "Active",
                               "UMCallRouter": "Active"}, cluster_group_owner="EX19B")
    assert gate.enter_steps(state) == ["drain_transport", "drain_um", "suspend_cluster_node",
                                       "disable_high_availability", "block_activation", "move_cluster_group",
                                       "wait_moves", "server_offline"]
    assert gate.cluster_group_target(state) == "EX19C"
    assert "move_cluster_group" not in gate.enter_steps(dict(state, cluster_group_owner="EX19C"))
    out = _state(components={"HubTransport": "Draining", "ServerWideOffline": "Inactive",
                             "HighAvailability": "Inactive", "UMCallRouter": "Draining"},
                 cluster_node="Paused", auto_activation="Blocked", move_now=True, activation_before="Unrestricted")
    assert gate.exit_steps(out) == ["server_online", "resume_cluster_node", "enable_high_availability",
                                    "allow_activation", "resume_um", "resume_transport"]
    # An admin's Inactive UM is not ours to undo.
    assert "resume_um" not in gate.exit_steps(dict(out, components=dict(out["components"], UMCallRouter="Inactive")))


@pytest.mark.parametrize("changes, steps", [
    # A lagged member in service: Blocked is its policy, nothing to undo.
    ({"auto_activation": "Blocked"}, []),
    # The same member after the window's procedure: the record says Blocked; put exactly that back.
    ({"auto_activation": "Blocked", "move_now": True, "activation_before": "Blocked"}, ["allow_activation"]),
    # A record left by a run whose exit stopped half-way: it is still spent.
    ({"auto_activation": "IntrasiteOnly", "activation_before": "IntrasiteOnly"}, ["allow_activation"]),
    # No record, but Blocked while otherwise in maintenance (entered by other means): undone.
    ({"auto_activation": "Blocked", "cluster_node": "Paused"}, ["resume_cluster_node", "allow_activation"]),
])
def test_leaving_puts_back_the_recorded_policy_and_leaves_an_admins_block(changes, steps):
    assert gate.exit_steps(_state(**changes)) == steps


def test_a_lagged_member_is_patched_like_any_other():
    state = _state(auto_activation="Blocked", active_copies=[])
    assert gate.phase(state) == "in_service"
    assert "block_activation" in gate.enter_steps(state)


def test_the_messages_name_the_host_the_rule_and_the_way_back():
    from ansible_collections.onprem.exchange.plugins.plugin_utils import _dag_gate as gate
    closed = {"refused": None, "dag": "DAG1", "reason": "DB1 would lose its last healthy copy",
              "held_by": ["last_healthy_copy"]}
    text = gate.refusal_message("EX1", closed, 0)
    assert text.startswith("EX1: the DAG gate of DAG1 is closed") and "Held back by rule: last_healthy_copy" in text
    assert "gate_timeout is 0, so it did not wait" in text and "Waited 30 s" in gate.refusal_message("EX1", closed, 30)
    assert "rule: single_copy_database" in gate.refusal_message("EX1", dict(closed, refused="DB9 has one copy"), 0)
    steps = [{"name": "drain_transport", "changed": True}, {"name": "suspend_cluster_node", "changed": None}]
    lost = gate.lost_message("EX1", "present", steps, "EX1: could not connect.")
    assert "while entering maintenance, after: drain_transport (done), suspend_cluster_node (answer lost)" in lost
    assert gate.option_problem({"gate_timeout": 0, "queue_timeout": 0, "move_timeout": 0, "min_healthy_copies": 0,
                                "poll_interval": 1}).startswith("min_healthy_copies=0 is not allowed")
