# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.maintenance_mode: take an Exchange server
out of service, or put it back, step by step, behind a DAG gate that reads
the real state of the DAG (see _dag_gate for the claim-then-verify design).
"""
from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail

from ansible_collections.onprem.exchange.plugins.plugin_utils import _dag_gate as gate_logic
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import (
    CONNECTION_LOST,
    EMS_ARGUMENT_SPEC,
    HostActionBase,
)

ARGUMENT_SPEC = dict(EMS_ARGUMENT_SPEC, **{
    "state": {"type": "str", "choices": ["present", "absent"], "required": True},
    "min_healthy_copies": {"type": "int", "default": 1},
    "allow_single_copy_outage": {"type": "bool", "default": False},
    "gate_timeout": {"type": "int", "default": 0},
    "queue_timeout": {"type": "int", "default": 600},
    "move_timeout": {"type": "int", "default": 600},
    "redirect_to": {"type": "str"},
    "activation_policy": {"type": "str", "choices": ["Unrestricted", "IntrasiteOnly"], "default": "Unrestricted"},
    "poll_interval": {"type": "float", "default": 5.0},
})

# Contention between two fresh claims resolves within a read or two; the
# lowest-named claimant waits this long for the others to withdraw even when
# gate_timeout is 0, so simultaneous starts do not all refuse.
CONTENTION_GRACE = 15.0
# How often a refused redirect target is chosen again (see _ex_redirect).
REDIRECT_TRIES = 5


class _Refused(Exception):
    pass


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    # A server name or FQDN: a DNS name is at most 255 octets (RFC 1035,
    # section 2.3.4 "Size limits").
    TEXT_BOUNDS = {"redirect_to": 255}

    def _ex_run(self, args, result):
        self._ex_args = args
        self._ex_steps = []
        host = self._ex_host
        problem = gate_logic.option_problem(args)
        if problem:
            raise self._ex_error(problem)
        state = self._ex_read()
        desired = args["state"]
        todo = gate_logic.pending_steps(state, desired)
        gate = self._ex_judge(state) if desired == "present" else None
        result.update(changed=False, steps=[], state=gate_logic.summary(state), gate=gate)
        if gate and gate["single_copy"] and args["allow_single_copy_outage"]:
            result["single_copy_outage"] = gate["single_copy"]
        if not todo:
            return result
        if self._task.diff:
            result["diff"] = {"before": gate_logic.summary(state), "after": {"phase": (
                "in_maintenance" if desired == "present" else "in_service")}}
        if self._task.check_mode:
            result.update(changed=True, steps=[{"name": s, "changed": True, "detail": "would run"} for s in todo])
            if desired == "present" and state.get("dag") and gate_logic.phase(state) == "in_service" \
                    and not gate["open"]:
                if gate["refused"] or args["gate_timeout"] == 0:
                    raise AnsibleActionFail(self._ex_refusal(gate, waited=0))
                result["warnings"] = ["%s: the DAG gate is closed now (%s); the real run would wait up to %d s"
                                      % (host, gate["reason"], args["gate_timeout"])]
            return result
        try:
            if desired == "present":
                state, gate = self._ex_enter(state)
                result["gate"] = gate
            else:
                state = self._ex_leave(state)
        except _Refused as refusal:
            raise AnsibleActionFail(str(refusal)) from None
        except CONNECTION_LOST as lost:
            if not self._ex_steps:
                raise  # nothing was sent: the host is simply unreachable
            # Steps were applied (or sent with the answer lost): never let
            # that escape as a bare unreachable host; say what was done.
            result.update(failed=True, changed=True, steps=self._ex_steps, connection_lost=True,
                          possibly_out_of_service=True, state=None, msg=self._ex_lost_message(desired, lost))
            return result
        result.update(changed=any(s["changed"] for s in self._ex_steps), steps=self._ex_steps,
                      state=gate_logic.summary(state))
        return result

    # -- host calls ---------------------------------------------------------
    def _ex_read(self):
        return self._ex_host_call("Get-MaintenanceState", {"ems": self._ex_ems_args(self._ex_args)})["data"]

    def _ex_apply(self, operation, step, **extra):
        op_args = dict(extra, step=step, ems=self._ex_ems_args(self._ex_args))
        # Recorded before it is sent: if the connection is lost now, the
        # result still says this step may have been applied.
        entry = {"name": step, "changed": None, "detail": "sent; the connection was lost before the answer"}
        self._ex_steps.append(entry)
        answer = self._ex_host_call(operation, op_args)
        entry.update(changed=answer["changed"], detail=answer["data"].get("detail"))
        return answer

    def _ex_lost_message(self, desired, lost):
        return gate_logic.lost_message(self._ex_host, desired, self._ex_steps, lost)

    def _ex_fail(self, message, state):
        raise _Refused(gate_logic.left_as_is_message(self._ex_host, message, state))

    def _ex_judge(self, state):
        return gate_logic.judge_gate(state, self._ex_args["min_healthy_copies"],
                                     self._ex_args["allow_single_copy_outage"])

    def _ex_refusal(self, gate, waited):
        return gate_logic.refusal_message(self._ex_host, gate, waited)

    # -- entering -----------------------------------------------------------
    def _ex_enter(self, state):
        gate = self._ex_judge(state)
        if state.get("dag"):
            state, gate = self._ex_pass_gate(state)
        for step in gate_logic.enter_steps(state):
            state = self._ex_enter_step(step, state)
        final = self._ex_read()
        left = gate_logic.enter_steps(final)
        if left:
            self._ex_fail("did not reach maintenance; still to do: %s." % ", ".join(left), final)
        return final, gate

    def _ex_pass_gate(self, state):
        """Claim and verify (see _dag_gate); returns the state read after a
        successful verification."""
        args = self._ex_args
        me = state["server"]
        started = time.monotonic()
        while True:
            gate = self._ex_judge(state)
            my_phase = gate_logic.phase(state)
            if my_phase == "in_maintenance":
                # A run that stopped part-way: carry on, unless someone else is out too.
                if gate["blockers"] or gate["contenders"]:
                    self._ex_fail("is partly in maintenance while the DAG gate is closed (%s); not going further."
                                  % gate["reason"], state)
                return state, gate
            if my_phase == "in_service":
                if gate["refused"]:
                    raise _Refused(self._ex_refusal(gate, 0))  # waiting cannot help
                if not gate["open"]:
                    waited = time.monotonic() - started
                    if waited >= args["gate_timeout"]:
                        raise _Refused(self._ex_refusal(gate, int(waited)))
                    time.sleep(args["poll_interval"])
                    state = self._ex_read()
                    continue
                self._ex_apply("Enter-MaintenanceStep", "drain_transport")
            # Verify on a read made after the claim.
            held_since = time.monotonic()
            while True:
                state = self._ex_read()
                gate = self._ex_judge(state)
                decision = gate_logic.after_claim(gate, me)
                if decision == "proceed":
                    return state, gate
                if decision == "hold" and time.monotonic() - held_since < max(args["gate_timeout"], CONTENTION_GRACE):
                    time.sleep(args["poll_interval"])
                    continue
                break
            self._ex_apply("Exit-MaintenanceStep", "resume_transport", activation_policy=args["activation_policy"])
            waited = time.monotonic() - started
            if waited >= args["gate_timeout"]:
                raise _Refused("%s: the DAG gate of %s closed after the claim: %s. The claim was withdrawn "
                               "(HubTransport Active again); nothing else was changed." % (
                                   self._ex_host, gate["dag"], gate["reason"]))
            time.sleep(args["poll_interval"])
            state = self._ex_read()

    def _ex_redirect(self, state):
        """Hand queued mail to another transport server.  The target is
        chosen on a fresh read, and chosen again when it refuses: another
        member's claim at the gate drains its transport for a read or two, and
        a target picked just before that claim refuses the mail.  A target the
        admin named (redirect_to) is never swapped for another."""
        named = self._ex_args.get("redirect_to")
        attempt = 0
        while True:
            attempt += 1
            if not named:
                state = self._ex_read()
            target = gate_logic.redirect_target(state, named)
            if target is None:
                self._ex_steps.append({"name": "redirect_messages", "changed": False,
                                       "detail": "no other transport server in service; queued mail waits here"})
                return state
            try:
                self._ex_apply("Enter-MaintenanceStep", "redirect_messages", target=target)
                return self._ex_read()
            except CONNECTION_LOST:
                raise
            except AnsibleActionFail as error:
                self._ex_steps[-1].update(changed=False, detail="%s refused the mail: %s" % (target, error))
                if named or attempt == REDIRECT_TRIES:
                    raise
                time.sleep(self._ex_args["poll_interval"])

    def _ex_enter_step(self, step, state):
        args = self._ex_args
        if step == "redirect_messages":
            return self._ex_redirect(state)
        if step == "wait_queues":
            return self._ex_wait(step, lambda s: (s.get("queue_messages") or 0) == 0, args["queue_timeout"],
                                 lambda s: "%d messages still queued after %d s (queue_timeout)" % (
                                     s.get("queue_messages") or 0, args["queue_timeout"]))
        if step == "wait_moves":
            # Only replicated databases can move; a single-copy one was
            # decided at the gate (refused, or its outage allowed).
            return self._ex_wait(step, lambda s: not gate_logic.movable_active(s), args["move_timeout"],
                                 lambda s: "%s still active here after %d s (move_timeout): no healthy copy on a "
                                 "member that allows activation took over" % (
                                     ", ".join(gate_logic.movable_active(s)), args["move_timeout"]))
        if step == "move_cluster_group":
            target = gate_logic.cluster_group_target(state)
            if target is None:
                self._ex_fail("owns the DAG's cluster core group (the PAM) and no other member is in service with "
                              "its cluster node Up to take it.", state)
            self._ex_apply("Enter-MaintenanceStep", step, target=target)
            state = self._ex_read()
            if step in gate_logic.enter_steps(state):
                self._ex_fail("step %s did not take effect." % step, state)
            return state
        self._ex_apply("Enter-MaintenanceStep", step)
        state = self._ex_read()
        if step in gate_logic.enter_steps(state):
            self._ex_fail("step %s did not take effect." % step, state)
        return state

    def _ex_wait(self, step, done, timeout, why):
        started = time.monotonic()
        state = self._ex_read()
        while not done(state):
            if time.monotonic() - started >= timeout:
                self._ex_fail("%s." % why(state), state)
            time.sleep(self._ex_args["poll_interval"])
            state = self._ex_read()
        self._ex_steps.append({"name": step, "changed": False, "detail": "done after %d s" % (time.monotonic() - started)})
        return state

    # -- leaving ------------------------------------------------------------
    def _ex_leave(self, state):
        errors = []
        for step in gate_logic.exit_steps(state):
            # Every exit step is tried even if one fails, so as much service
            # as possible comes back; the failures are reported together.
            try:
                self._ex_apply("Exit-MaintenanceStep", step, activation_policy=self._ex_args["activation_policy"])
            except AnsibleActionFail as error:
                errors.append(str(error))
        final = self._ex_read()
        left = gate_logic.exit_steps(final)
        if errors or left:
            self._ex_fail("could not leave maintenance completely (%s)." % "; ".join(
                errors + (["still to do: %s" % ", ".join(left)] if left else [])), final)
        return final
