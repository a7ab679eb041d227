"""exchange_patch_hooks_on_every_server: the admin's hook tasks also on servers whose Exchange is already at
its target (the months with no CU or SU), through the same window: DAG gate, maintenance, the tasks, the
health check of an install, back in service; the report says ``maintained``.

The fleet: two DAG members (PM2, PM3) and a standalone server (PS1) already at the target. The hooks are
test_patch_hooks' recording hook: it reads the maintenance state and the build at the hook's moment and writes
them to a file on the controller.
"""
from __future__ import annotations

import json

from lab.maintenance import out_of_service
from test_patch import TARGET, WRITING_OPERATIONS, _fleet, _out, _patch
from test_patch_hooks import FAILING_HOOK, RECORD_HOOK, _hook, _records

HOSTS = ["PM2", "PM3", "PS1"]


def _current_fleet():
    # PM2 and PS1 brought to the target: nothing to install anywhere.
    return _fleet(PM2={"build": TARGET}, PS1={"build": TARGET})


def _hooks(tmp_path, **extra):
    options = {"exchange_patch_pre_install_tasks": _hook(tmp_path, "pre.yml", RECORD_HOOK % {"kind": "pre"}),
               "exchange_patch_hook_tasks": _hook(tmp_path, "post.yml", RECORD_HOOK % {"kind": "post"}),
               "hook_record_dir": str(tmp_path)}
    options.update(extra)
    return json.dumps(options)


def _forget_records(tmp_path):
    for path in tmp_path.glob("*-p*.json"):
        path.unlink()


def _taken_out(lab):
    return {e["server"] for e in lab.maintenance_log if e["out_of_service"]}


def test_up_to_date_servers_go_through_the_window_for_the_hooks_one_dag_member_at_a_time(lab_factory, tmp_path):
    lab = lab_factory(_current_fleet())
    result, rows = _patch(lab, tmp_path, HOSTS, "-e", _hooks(tmp_path, exchange_patch_hooks_on_every_server=True))
    assert result.returncode == 0, _out(result)
    at_target = {"in_maintenance": True, "build": TARGET}
    for name in HOSTS:
        # Both hooks ran, each while the server was out of service; nothing was installed.
        assert _records(tmp_path, name) == {"pre": at_target, "post": at_target}, name
        row = rows[name]
        assert row["status"] == "maintained", row
        assert row["in_maintenance"] is False and row["maintenance"] == "in_service", row
        assert row["steps_done"] == [] and row["build_after"] == TARGET, row
        assert "exchange_patch_pre_install_tasks and exchange_patch_hook_tasks ran while it was out of service" \
            in row["message"], row
        # The install's health check ran on it: build, services, Setup, web.config, components.
        assert row["verified"] == {"build_ok": True, "services_ok": True, "setup_ok": True,
                                   "web_config_ok": True, "components_ok": True}, row
        assert not out_of_service(lab.state.server(name))
        assert not WRITING_OPERATIONS & set(lab.stats(name)["operations"]), name
        assert "Test-ExchangeInstallHealth" in lab.stats(name)["operations"], name
        assert "%s MAINTAINED: " % name in result.stdout
    # Each left service, and the two DAG members never together.
    assert _taken_out(lab) == set(HOSTS)
    assert lab.dag_violations() == []
    summary = rows["_summary"]
    assert summary["by_status"]["maintained"] == 3 and summary["hosts"]["maintained"] == HOSTS
    assert summary["problems"] == 0 and summary["hosts"]["in_maintenance"] == []
    assert summary["next_actions"] == []

    # The monthly job: a second run takes them out again and runs the hooks again.
    _forget_records(tmp_path)
    again, rows = _patch(lab, tmp_path, HOSTS, "-e", _hooks(tmp_path, exchange_patch_hooks_on_every_server=True),
                         name="again")
    assert again.returncode == 0, _out(again)
    for name in HOSTS:
        assert _records(tmp_path, name) == {"pre": at_target, "post": at_target}, name
        assert rows[name]["status"] == "maintained"
    assert lab.dag_violations() == []


def test_without_the_option_up_to_date_servers_run_no_hook_and_stay_in_service(lab_factory, tmp_path):
    lab = lab_factory(_current_fleet())
    # The hooks are set, the option is not (its default: false).
    result, rows = _patch(lab, tmp_path, HOSTS, "-e", _hooks(tmp_path))
    assert result.returncode == 0, _out(result)
    for name in HOSTS:
        assert rows[name]["status"] == "up_to_date", rows[name]
        assert _records(tmp_path, name) == {}, name
    assert _taken_out(lab) == set()
    assert "Enter-MaintenanceStep" not in lab.stats("PS1")["operations"]

    # The option alone, with no hook file: nothing to run, so nothing is taken out either.
    alone, rows = _patch(lab, tmp_path, HOSTS, "-e", "exchange_patch_hooks_on_every_server=true", name="alone")
    assert alone.returncode == 0, _out(alone)
    assert {rows[name]["status"] for name in HOSTS} == {"up_to_date"}
    assert _taken_out(lab) == set()


def test_a_failing_hook_on_an_up_to_date_server_keeps_it_in_maintenance_and_names_the_hook(lab_factory, tmp_path):
    lab = lab_factory(_current_fleet())
    hook = _hook(tmp_path, "windows-updates.yml", FAILING_HOOK)
    result, rows = _patch(lab, tmp_path, ["PS1"], "-e", json.dumps({
        "exchange_patch_hook_tasks": hook, "exchange_patch_hooks_on_every_server": True}))
    assert result.returncode != 0
    row = rows["PS1"]
    assert row["status"] == "failed_in_maintenance", row
    assert row["in_maintenance"] is True and row["maintenance"] == "in_maintenance", row
    assert "exchange_patch_hook_tasks (%s): Install the Windows updates: 2 updates failed" % hook in row["message"]
    assert "STAYS IN MAINTENANCE (out of service) on purpose: its hook tasks failed" in result.stdout
    assert out_of_service(lab.state.server("PS1"))
    assert lab.state.server("PS1")["build"] == TARGET
    assert rows["_summary"]["hosts"]["in_maintenance"] == ["PS1"]

    # Fixed and re-run: the server an earlier run left in maintenance goes back first, as today.
    again, rows = _patch(lab, tmp_path, ["PS1"], "-e", _hooks(tmp_path, exchange_patch_hooks_on_every_server=True),
                         name="again")
    assert again.returncode == 0, _out(again)
    assert rows["PS1"]["status"] == "returned_to_service"
    assert _records(tmp_path, "PS1") == {}
    assert not out_of_service(lab.state.server("PS1"))


def test_check_mode_predicts_maintained_and_takes_nothing_out(lab_factory, tmp_path):
    lab = lab_factory(_current_fleet())
    check, predicted = _patch(lab, tmp_path, ["PM3", "PS1"], "--check",
                              "-e", _hooks(tmp_path, exchange_patch_hooks_on_every_server=True), name="check")
    assert check.returncode == 0, _out(check)
    assert {predicted[n]["status"] for n in ("PM3", "PS1")} == {"maintained"}
    assert _taken_out(lab) == set()
    for name in ("PM3", "PS1"):
        assert "Enter-MaintenanceStep" not in lab.stats(name)["operations"]
        assert not out_of_service(lab.state.server(name))


def test_a_closed_window_starts_no_up_to_date_server_for_the_hooks(lab_factory, tmp_path):
    lab = lab_factory(_current_fleet())
    result, rows = _patch(lab, tmp_path, ["PS1"], "-e", _hooks(
        tmp_path, exchange_patch_hooks_on_every_server=True, exchange_patch_window_end="2020-01-01T00:00:00Z"))
    row = rows["PS1"]
    assert row["status"] == "not_started_window_closed", (row, _out(result))
    assert "its Exchange is at its target, the admin's tasks did not run" in row["message"]
    assert _records(tmp_path, "PS1") == {}
    assert _taken_out(lab) == set()
