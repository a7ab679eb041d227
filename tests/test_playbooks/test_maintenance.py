"""onprem.exchange.maintenance_mode against the lab: the procedure, the DAG gate
on the real state, and concurrent runs that must never take two members of
one DAG out of service together."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from labtools import recap, run_playbook, write_inventory

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
ONE_TASK = os.path.join(HERE, "playbooks", "maintenance.yml")
CYCLE = os.path.join(HERE, "playbooks", "maintenance_cycle.yml")
WRITES = {"Enter-MaintenanceStep", "Exit-MaintenanceStep"}


def _run(lab, tmp_path, hosts, state, *extra, name="inventory.yml"):
    inventory = write_inventory(lab, tmp_path / name)
    return run_playbook(inventory, ONE_TASK, "-e", "mm_hosts=%s" % hosts, "-e", "mm_state=%s" % state, *extra)


def _writes(lab, name):
    return {op: n for op, n in lab.stats(name)["operations"].items() if op in WRITES}


@pytest.fixture
def dag_lab(lab_factory):
    lab = lab_factory()
    with lab.state.lock:
        for name, queued in (("EX19B", 40), ("EX19C", 25), ("EX19D", 0)):
            lab.state.server(name)["queue_messages"] = queued
    return lab


@pytest.mark.smoke
def test_enter_and_leave_in_order_and_a_second_run_changes_nothing(dag_lab, tmp_path):
    enter = _run(dag_lab, tmp_path, "EX19B", "present")
    assert enter.returncode == 0, enter.stdout[-3000:]
    assert recap(enter.stdout)["EX19B"]["changed"] == 1
    log = [(e["server"], e["event"]) for e in dag_lab.maintenance_log]
    # Microsoft's procedure: HighAvailability inactive, and the cluster core
    # group (the PAM) handed to another member, since EX19B owned it.
    assert log == [("EX19B", "drain_transport"), ("EX19B", "redirect_messages"), ("EX19B", "suspend_cluster_node"),
                   ("EX19B", "disable_high_availability"), ("EX19B", "block_activation"),
                   ("EX19B", "move_cluster_group"), ("EX19B", "server_offline")]
    assert dag_lab.state.dag("DAG01")["cluster_group_owner"] == "EX19C"
    db01 = next(db for db in dag_lab.state.data["databases"] if db["name"] == "DB01")
    assert db01["active"] == "EX19C"  # moved to the next activation preference
    again = _run(dag_lab, tmp_path, "EX19B", "present")
    assert again.returncode == 0 and recap(again.stdout)["EX19B"]["changed"] == 0

    leave = _run(dag_lab, tmp_path, "EX19B", "absent")
    assert leave.returncode == 0 and recap(leave.stdout)["EX19B"]["changed"] == 1
    assert [e["event"] for e in dag_lab.maintenance_log][7:] == [
        "server_online", "resume_cluster_node", "enable_high_availability", "allow_activation", "resume_transport"]
    assert dag_lab.state.server("EX19B")["auto_activation"] == "Unrestricted"
    assert not dag_lab.maintenance_log[-1]["out_of_service"]
    leave_again = _run(dag_lab, tmp_path, "EX19B", "absent")
    assert leave_again.returncode == 0 and recap(leave_again.stdout)["EX19B"]["changed"] == 0
    assert dag_lab.dag_violations() == []


def test_check_mode_predicts_the_steps_and_sends_no_write(dag_lab, tmp_path):
    check = _run(dag_lab, tmp_path, "EX19B", "present", "--check")
    assert check.returncode == 0, check.stdout[-3000:]
    assert recap(check.stdout)["EX19B"]["changed"] == 1
    assert _writes(dag_lab, "EX19B") == {} and dag_lab.maintenance_log == []
    predicted = re.findall(r"'name': '(\w+)'|\"name\": \"(\w+)\"", check.stdout)
    real = _run(dag_lab, tmp_path, "EX19B", "present")
    assert real.returncode == 0
    predicted = [a or b for a, b in predicted if (a or b) in (
        "drain_transport", "redirect_messages", "wait_queues", "suspend_cluster_node", "block_activation",
        "wait_moves", "server_offline")]
    done = [a or b for a, b in re.findall(r"'name': '(\w+)'|\"name\": \"(\w+)\"", real.stdout) if (a or b) in predicted]
    assert predicted and done == predicted


def test_a_crashed_run_that_left_a_member_in_maintenance_keeps_the_gate_closed(dag_lab, tmp_path):
    # A run died after suspending EX19C's cluster node: nothing else was undone.
    with dag_lab.state.lock:
        ex19c = dag_lab.state.server("EX19C")
        ex19c["component_states"]["HubTransport"] = "Draining"
        ex19c["cluster_node"] = "Paused"
    result = _run(dag_lab, tmp_path, "EX19B", "present")
    assert result.returncode != 0
    assert "the DAG gate of DAG01 is closed: EX19C is in maintenance (HubTransport Draining, cluster node Paused)" \
        in result.stdout
    assert "Nothing was changed on EX19B" in result.stdout
    assert _writes(dag_lab, "EX19B") == {}


def test_a_member_that_only_claimed_before_crashing_also_keeps_the_gate_closed(dag_lab, tmp_path):
    with dag_lab.state.lock:
        dag_lab.state.server("EX19D")["component_states"]["HubTransport"] = "Draining"
    result = _run(dag_lab, tmp_path, "EX19B", "present")
    assert result.returncode != 0 and "claimed by EX19D" in result.stdout
    assert _writes(dag_lab, "EX19B") == {}


def test_an_unhealthy_copy_closes_the_gate(dag_lab, tmp_path):
    with dag_lab.state.lock:
        db02 = next(db for db in dag_lab.state.data["databases"] if db["name"] == "DB02")
        db02["copies"]["EX19D"]["status"] = "FailedAndSuspended"
    result = _run(dag_lab, tmp_path, "EX19B", "present", "-e", "mm_min_copies=1")
    assert result.returncode != 0
    assert "the copy of DB02 on EX19D is FailedAndSuspended" in result.stdout
    assert _writes(dag_lab, "EX19B") == {}


def test_too_few_healthy_copies_close_the_gate(dag_lab, tmp_path):
    result = _run(dag_lab, tmp_path, "EX19B", "present", "-e", "mm_min_copies=3")
    assert result.returncode != 0
    assert "DB01 would keep 2 healthy copies (EX19C, EX19D) without EX19B, fewer than min_healthy_copies=3" \
        in result.stdout


def test_queues_that_never_drain_fail_after_queue_timeout_and_say_what_is_left(dag_lab, tmp_path):
    dag_lab.set_faults("EX19B", {"queue_stuck": True})
    result = _run(dag_lab, tmp_path, "EX19B", "present", "-e", "mm_queue_timeout=2")
    assert result.returncode != 0
    assert "40 messages still queued after 2 s (queue_timeout)" in result.stdout
    assert "phase claimed" in result.stdout and "state=absent" in result.stdout
    # The cluster node and the databases were not touched.
    assert dag_lab.state.server("EX19B").get("cluster_node", "Up") == "Up"
    back = _run(dag_lab, tmp_path, "EX19B", "absent")
    assert back.returncode == 0 and dag_lab.state.server("EX19B")["component_states"]["HubTransport"] == "Active"


def test_a_standalone_server_needs_no_gate(dag_lab, tmp_path):
    result = _run(dag_lab, tmp_path, "EX19A", "present")
    assert result.returncode == 0, result.stdout[-3000:]
    events = [e["event"] for e in dag_lab.maintenance_log if e["server"] == "EX19A"]
    assert events == ["drain_transport", "server_offline"]
    assert _run(dag_lab, tmp_path, "EX19A", "absent").returncode == 0


def test_one_run_over_a_whole_dag_takes_members_one_at_a_time(dag_lab, tmp_path):
    inventory = write_inventory(dag_lab, tmp_path / "inventory.yml")
    result = run_playbook(inventory, CYCLE)
    assert result.returncode == 0, result.stdout[-4000:]
    out_events = [e["server"] for e in dag_lab.maintenance_log if e["event"] == "suspend_cluster_node"]
    assert sorted(out_events) == ["EX19B", "EX19C", "EX19D"]
    assert dag_lab.dag_violations() == []


def test_two_concurrent_runs_over_overlapping_members_never_take_two_down(dag_lab, tmp_path):
    inventory = write_inventory(dag_lab, tmp_path / "inventory.yml")
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    runs = []
    for index, hosts in enumerate(("EX19B,EX19C", "EX19C,EX19D")):
        env_run = dict(env, ANSIBLE_LOCAL_TEMP=str(tmp_path / ("tmp%d" % index)))
        runs.append(subprocess.Popen([binary, "-i", inventory, CYCLE, "-e", "cycle_hosts=%s" % hosts],
                                     cwd=REPO_ROOT, env=env_run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True))
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output[-4000:]
    assert dag_lab.dag_violations() == []
    went_out = {e["server"] for e in dag_lab.maintenance_log if e["out_of_service"]}
    assert went_out == {"EX19B", "EX19C", "EX19D"}
    assert not any(dag_lab.state.server(n)["component_states"].get("HubTransport", "Active") != "Active"
                   for n in ("EX19B", "EX19C", "EX19D"))


def test_dag_violation_checker_sees_two_members_out_together(dag_lab):
    # The checker itself must be able to fail: put two members down by hand.
    dag_lab.reboot("EX19C", "test")
    dag_lab.reboot("EX19D", "test")
    violations = dag_lab.dag_violations()
    assert violations and violations[0]["dag"] == "DAG01" and violations[0]["servers"] == ["EX19C", "EX19D"]


def test_no_secret_in_output_at_high_verbosity(dag_lab, tmp_path):
    password = dag_lab.state.data["lab"]["credential"]["password"]
    result = _run(dag_lab, tmp_path, "EX19B", "present", "-vvvv")
    assert result.returncode == 0, result.stdout[-2000:]
    assert password not in result.stdout + result.stderr


def test_unified_messaging_on_2016_is_drained_and_resumed_and_an_admins_inactive_um_stays(lab_factory, tmp_path):
    """Learn's procedure for Exchange 2016: UMCallRouter Draining on entry, Active on exit."""
    lab = lab_factory()
    enter = _run(lab, tmp_path, "EX16A,EX16C", "present")
    assert enter.returncode == 0, enter.stdout[-3000:]
    assert lab.state.server("EX16A")["component_states"]["UMCallRouter"] == "Draining"
    assert ("EX16A", "drain_um") in [(e["server"], e["event"]) for e in lab.maintenance_log]
    # Someone switched UM off on EX16C while it was out: that is theirs, not ours to undo.
    with lab.state.lock:
        lab.state.server("EX16C")["component_states"]["UMCallRouter"] = "Inactive"
    leave = _run(lab, tmp_path, "EX16A,EX16C", "absent")
    assert leave.returncode == 0, leave.stdout[-3000:]
    assert lab.state.server("EX16A")["component_states"]["UMCallRouter"] == "Active"
    assert lab.state.server("EX16C")["component_states"]["UMCallRouter"] == "Inactive"
