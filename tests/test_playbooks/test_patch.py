"""playbooks/patch.yml and onprem.exchange.update_install against the lab: the patch window a person runs.

The fleet is small on purpose: one three-member DAG (a CU+SU member, an
SU-only member, one already current) and standalone servers, with installs
and restarts accelerated so a window takes seconds.

Fault scenarios (installer exit codes, hash mismatch, full disk, slow or
endless restarts, services that will not start, an interrupted Setup, WinRM
drops, network cuts) live in tests/test_faults/test_fault_matrix.py, which
also checks the invariants after each and that a re-run converges.
"""
from __future__ import annotations

import json
import threading
import time

import pytest

from labtools import recap, run_playbook, write_inventory

PLAYBOOK = "playbooks/patch.yml"
TARGET = "15.2.1748.53"  # 2019 CU15 Sep26SUv2 (ESU)
CU15_ISO = "ExchangeServer2019-x64-CU15.ISO"
SU_MSP = "Exchange2019-KB5129956-x64-en.msp"
WRITING_OPERATIONS = {"Start-InstallerTask", "Restart-HostComputer"}


def _fleet(**server_overrides):
    servers = [
        {"name": "PM1", "build": "15.2.1544.39", "dag": "PDAG"},   # CU14 -> CU15 -> Sep26SUv2
        {"name": "PM2", "build": "15.2.1748.46", "dag": "PDAG"},   # SU only
        {"name": "PM3", "build": TARGET, "dag": "PDAG"},           # already there
        {"name": "PS1", "build": "15.2.1748.39"},                  # standalone, SU only
        {"name": "PS2", "build": "15.2.1748.39", "pending_reboot": True,
         "pending_reboot_reasons": ["PendingFileRenameOperations"]},
    ]
    for server in servers:
        server.update({"reboot_seconds": 10})
        server.update(server_overrides.get(server["name"], {}))
    members = ["PM1", "PM2", "PM3"]
    databases = [{"name": "PDB%d" % (i + 1), "active": members[i],
                  "copies": {m: {"activation_preference": 1 + (j - i) % 3} for j, m in enumerate(members)}}
                 for i in range(3)]
    databases += [{"name": "SDB%d" % i, "copies": {"PS%d" % i: {}}} for i in (1, 2)]
    return {
        "lab": {"installer_seconds": {"cu": 30, "su": 15, "prepare_schema": 10, "prepare_ad": 10}},
        "organizations": [{"name": "Contoso", "esu_enrolled": True}],
        "dags": [{"name": "PDAG"}],
        "repository": {"packages": [{"name": CU15_ISO, "size_kb": 256}, {"name": SU_MSP, "size_kb": 64}]},
        "servers": servers,
        "databases": databases,
    }


def _patch(lab, tmp_path, hosts, *extra, env=None, name="run"):
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / ("reports-" + name)
    result = run_playbook(
        inventory, PLAYBOOK, "--limit", ",".join(hosts) + ",localhost",
        "-e", "exchange_report_dir=%s" % reports,
        "-e", json.dumps({"exchange_patch_target": TARGET, "exchange_patch_esu_enrolled": True,
                          "exchange_patch_poll_interval": 0.3, "exchange_patch_gate_timeout": 600,
                          "exchange_patch_reboot_timeout": 120, "exchange_patch_services_timeout": 5}),
        *extra, env=env)
    rows = {}
    if (reports / "exchange-patch.json").exists():
        report = json.loads((reports / "exchange-patch.json").read_text(encoding="utf-8"))
        rows = {s["name"]: s for s in report["servers"]}
        rows["_summary"] = report["summary"]
    return result, rows


def _ops(lab, name):
    return lab.stats(name)["operations"]


def _builds(lab, names):
    return {n: lab.state.server(n)["build"] for n in names}


def _out(result):
    return result.stdout[-4000:] + result.stderr[-2000:]


# -- the whole window -----------------------------------------------------------

@pytest.mark.smoke
def test_window_patches_a_dag_member_cu_and_su_and_su_only_servers_then_changes_nothing(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    hosts = ["PM1", "PM2", "PM3", "PS1", "PS2"]
    result, rows = _patch(lab, tmp_path, hosts)
    assert result.returncode == 0, _out(result)
    assert _builds(lab, hosts) == {n: TARGET for n in hosts}
    assert rows["PM1"]["status"] == "patched"
    assert rows["PM1"]["steps_done"] == ["install_cu CU15", "install_su Sep26SUv2"]
    assert rows["PM2"]["steps_done"] == ["install_su Sep26SUv2"]
    assert rows["PM3"]["status"] == "up_to_date" and rows["PM3"]["steps_done"] == []
    assert (rows["PM1"]["build_before"], rows["PM1"]["build_after"]) == ("15.2.1544.39", TARGET)
    assert rows["PS1"]["seconds"] > 0
    # Every server is back in service, and no two DAG members were ever out together.
    assert rows["_summary"]["hosts"]["in_maintenance"] == []
    assert lab.dag_violations() == []
    out_of_service = {e["server"] for e in lab.maintenance_log if e["out_of_service"]}
    assert {"PM1", "PM2"} <= out_of_service and "PM3" not in out_of_service
    # Each member's copies resynchronized after its restarts, and the next
    # member went out only once they were healthy again (dag_violations
    # counts going out beside a recovering member as a violation too).
    resynced = {e["server"] for e in lab.maintenance_log if e["event"] == "copies_resynchronizing"}
    assert {"PM1", "PM2"} <= resynced

    again, rows = _patch(lab, tmp_path, hosts, name="again")
    assert again.returncode == 0, _out(again)
    assert all(r["changed"] == 0 for r in recap(again.stdout).values()), again.stdout[-3000:]
    assert {rows[n]["status"] for n in hosts} == {"up_to_date"}


def test_a_pending_reboot_is_done_before_anything_is_installed(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    boots = lab.state.server("PS2")["boot_count"]
    result, rows = _patch(lab, tmp_path, ["PS2"])
    assert result.returncode == 0, _out(result)
    assert rows["PS2"]["steps_done"] == ["reboot", "install_su Sep26SUv2"]
    assert lab.state.server("PS2")["boot_count"] == boots + 2  # the pending one, then the one after the SU


def test_a_server_at_its_target_with_only_a_pending_restart_is_judged_after_exchange_has_started(lab_factory,
                                                                                                   tmp_path):
    # After the restart WinRM answers before Exchange's services run (the lab
    # keeps them StartPending for a while): the health check must wait for
    # them, not call a healthy server broken and keep it out of service.
    lab = lab_factory(_fleet(PS1={"build": TARGET, "pending_reboot": True,
                                  "pending_reboot_reasons": ["PendingFileRenameOperations"]}))
    boots = lab.state.server("PS1")["boot_count"]
    result, rows = _patch(lab, tmp_path, ["PS1"])
    assert result.returncode == 0, _out(result)
    assert (rows["PS1"]["status"], rows["PS1"]["steps_done"]) == ("patched", ["reboot"])
    assert rows["PS1"]["verified"]["services_ok"] is True
    server = lab.state.server("PS1")
    assert server["boot_count"] == boots + 1 and not server["pending_reboot"]
    assert {s["state"] for s in server["services"].values() if s["start_mode"] == "Automatic"} == {"Running"}


def test_a_server_without_setups_prerequisites_is_not_taken_out_for_a_cu_setup_would_refuse(lab_factory, tmp_path):
    lab = lab_factory(_fleet(PS1={"build": "15.2.1544.39", "setup_prerequisites": {
        "vcredist2012": "11.0.61030", "vcredist2013": None, "ucma4": "5.0.8308.0"}}))
    result, rows = _patch(lab, tmp_path, ["PS1"])
    assert result.returncode != 0, _out(result)
    row = rows["PS1"]
    assert (row["status"], row["in_maintenance"], row["steps_done"]) == ("failed", False, []), row
    assert row["message"].startswith("not taken out of service: Visual C++ Redistributable Package for Visual "
                                      "Studio 2013 is not installed."), row["message"]
    assert "Fix: Install Visual C++ Redistributable Package for Visual Studio 2013" in row["message"]
    # Nothing was changed on it: no maintenance step, no installer, no restart.
    assert not {"Enter-MaintenanceStep", "Start-InstallerTask", "Restart-HostComputer"} & set(_ops(lab, "PS1"))
    assert lab.state.server("PS1")["build"] == "15.2.1544.39"


def test_check_mode_predicts_the_real_run_and_sends_no_writing_operation(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    hosts = ["PM2", "PS1", "PS2"]
    check, predicted = _patch(lab, tmp_path, hosts, "--check", name="check")
    assert check.returncode == 0, _out(check)
    for name in hosts:
        assert not WRITING_OPERATIONS & set(_ops(lab, name)), name
        assert lab.state.server(name)["build"] != TARGET
    real, done = _patch(lab, tmp_path, hosts, name="real")
    assert real.returncode == 0, _out(real)
    for name in hosts:
        assert [s.replace(" (predicted)", "") for s in predicted[name]["steps_done"]] == done[name]["steps_done"]
        assert predicted[name]["build_after"] == done[name]["build_after"] == TARGET


def test_window_end_reached_mid_fleet_starts_no_new_server(lab_factory, tmp_path):
    # Deterministic on a loaded machine: one server at a time, and the first
    # (PM2, first in inventory order) restarts for 30 real seconds (1800 lab
    # seconds at the lab's 60x clock), so the window that ends 20 s after the
    # run starts is still open at PM2's turn and surely closed at the next one.
    lab = lab_factory(_fleet(PM2={"faults": {"slow_reboot_seconds": 1800}}))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 20))
    result, rows = _patch(lab, tmp_path, ["PM2", "PS1", "PS2"], "-e", "exchange_patch_max_in_flight=1",
                          "-e", "exchange_patch_window_end=%s" % end)
    statuses = {n: rows[n]["status"] for n in ("PM2", "PS1", "PS2")}
    assert statuses == {"PM2": "patched", "PS1": "not_started_window_closed",
                        "PS2": "not_started_window_closed"}, statuses
    for name in ("PS1", "PS2"):
        assert "Start-InstallerTask" not in _ops(lab, name)
        assert "the window ended" in rows[name]["left_undone"][0]["why"]
    assert rows["_summary"]["hosts"]["in_maintenance"] == []
    # Not a failure: the window did what it was told.
    assert result.returncode == 0, _out(result)


def test_two_concurrent_windows_over_overlapping_dag_slices_never_take_two_members_out(lab_factory, tmp_path):
    lab = lab_factory(_fleet(PM3={"build": "15.2.1748.46"}))
    outcomes = {}

    def window(name, hosts):
        outcomes[name] = _patch(lab, tmp_path / name, hosts, name=name)

    runs = [threading.Thread(target=window, args=("first", ["PM1", "PM2"])),
            threading.Thread(target=window, args=("second", ["PM2", "PM3"]))]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert lab.dag_violations() == []
    assert _builds(lab, ["PM1", "PM2", "PM3"]) == {n: TARGET for n in ("PM1", "PM2", "PM3")}
    # A server in both slices may be restarted by one run while the other
    # reads it; that run then names it (never silently), and a re-run settles.
    for name, (result, rows) in outcomes.items():
        assert set(rows["_summary"]["hosts"]["problems"]) <= {"PM2"}, name + _out(result)
        assert result.returncode == 0 or "not patched as planned: PM2" in result.stdout, name + _out(result)


def test_no_secret_in_output_at_high_verbosity(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    password = lab.state.data["lab"]["credential"]["password"]
    # From a vars file, as a vault would give it: ansible-playbook -vvvv echoes its own command line.
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"exchange_patch_setup_username": "LAB\\ansible",
                                        "exchange_patch_setup_password": password}), encoding="utf-8")
    result, rows = _patch(lab, tmp_path, ["PS1"], "-vvvv", "-e", "@%s" % secrets_file)
    assert result.returncode == 0, _out(result)
    assert rows["PS1"]["status"] == "patched"
    assert password not in result.stdout + result.stderr
    for path in (tmp_path / "reports-run").iterdir():
        assert password not in path.read_text(encoding="utf-8")
