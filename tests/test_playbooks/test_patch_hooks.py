"""The admin's own tasks while a server is out of service (exchange_patch_hook_tasks and
exchange_patch_pre_install_tasks), and the window given as a length to the role itself.

The hooks call a module against the lab (the maintenance state read in check
mode, the build from build_facts) and write what they saw to a file on the
controller, so the test sees the server's state at the hook's moment.
"""
from __future__ import annotations

import datetime
import json
import re

from lab.maintenance import out_of_service
from labtools import run_playbook, write_inventory
from test_patch import TARGET, _fleet, _out, _patch

OLD_BUILD = "15.2.1748.39"

RECORD_HOOK = """
- name: Read whether this server is in maintenance (check mode only reads)
  onprem.exchange.maintenance_mode:
    state: absent
  check_mode: true
  register: hook_maintenance

- name: Read this server's build
  onprem.exchange.build_facts:
    target: latest
  register: hook_facts

- name: Write down what the hook saw
  ansible.builtin.copy:
    dest: "{{ hook_record_dir }}/{{ inventory_hostname }}-%(kind)s.json"
    content: >-
      {{ {'in_maintenance': hook_maintenance is changed,
          'build': hook_facts.ansible_facts.exchange.build} | to_json }}
    mode: "0644"
  delegate_to: localhost
"""

FAILING_HOOK = """
- name: Install the Windows updates
  ansible.builtin.fail:
    msg: 2 updates failed to install (0x80240022)
"""


def _hook(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _records(tmp_path, name):
    found = {}
    for kind in ("pre", "post"):
        path = tmp_path / ("%s-%s.json" % (name, kind))
        if path.exists():
            found[kind] = json.loads(path.read_text(encoding="utf-8"))
    return found


def test_hook_tasks_run_while_the_server_is_out_of_service_after_the_install(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    pre = _hook(tmp_path, "pre.yml", RECORD_HOOK % {"kind": "pre"})
    post = _hook(tmp_path, "post.yml", RECORD_HOOK % {"kind": "post"})
    result, rows = _patch(lab, tmp_path, ["PS1", "PM3"], "-e", json.dumps({
        "exchange_patch_pre_install_tasks": pre, "exchange_patch_hook_tasks": post,
        "hook_record_dir": str(tmp_path)}))
    assert result.returncode == 0, _out(result)
    # Before the install: out of service, old build; after: out of service, new build.
    assert _records(tmp_path, "PS1") == {"pre": {"in_maintenance": True, "build": OLD_BUILD},
                                         "post": {"in_maintenance": True, "build": TARGET}}
    assert rows["PS1"]["status"] == "patched" and rows["PS1"]["in_maintenance"] is False
    assert not out_of_service(lab.state.server("PS1"))
    # A server this window does not take out of service runs no hook.
    assert rows["PM3"]["status"] == "up_to_date"
    assert _records(tmp_path, "PM3") == {}


RESTARTING_HOOK = """
- name: Restart Windows, as win_updates does after installing updates
  ansible.builtin.uri:
    url: "{{ exchange_lab_control_url }}reboot"
    method: POST
    body_format: json
    body: {server: "{{ inventory_hostname }}"}
    headers: {X-Lab-Token: "{{ hook_lab_token }}"}
  delegate_to: localhost
"""


def test_a_server_the_hook_restarted_goes_back_in_service_only_once_exchange_runs_again(lab_factory, tmp_path):
    # WinRM answers before Exchange's services have started (the lab keeps
    # them StartPending a while): the check after the hook waits for them
    # and verifies, instead of calling the server broken or putting it back
    # in service before Exchange runs.
    lab = lab_factory(_fleet())
    boots = lab.state.server("PS1")["boot_count"]
    post = _hook(tmp_path, "post.yml", RESTARTING_HOOK)
    result, rows = _patch(lab, tmp_path, ["PS1"], "-e", json.dumps({"exchange_patch_hook_tasks": post,
                                                                     "hook_lab_token": lab.token}))
    assert result.returncode == 0, _out(result)
    assert "Check the server after the admin's tasks" in result.stdout
    row = rows["PS1"]
    assert (row["status"], row["in_maintenance"]) == ("patched", False), row
    assert row["verified"]["services_ok"] is True
    server = lab.state.server("PS1")
    assert server["boot_count"] == boots + 2  # after the SU, then the hook's
    assert {s["state"] for s in server["services"].values() if s["start_mode"] == "Automatic"} == {"Running"}
    # Back in service only after the services ran: the leave came after the hook's restart had ended.
    events = [e["event"] for e in lab.maintenance_log if e.get("server") == "PS1"]
    assert events.index("reboot_end", events.index("reboot_end") + 1) < len(events) - 1


def test_a_failing_hook_leaves_the_server_in_maintenance_and_names_the_hook(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    hook = _hook(tmp_path, "windows-updates.yml", FAILING_HOOK)
    result, rows = _patch(lab, tmp_path, ["PS1"], "-e", "exchange_patch_hook_tasks=%s" % hook)
    assert result.returncode != 0
    row = rows["PS1"]
    assert row["status"] == "failed_in_maintenance", row
    assert row["in_maintenance"] is True
    assert "exchange_patch_hook_tasks (%s): Install the Windows updates: 2 updates failed" % hook in row["message"]
    # Exchange itself was installed; the server stays out of service on purpose.
    assert lab.state.server("PS1")["build"] == TARGET
    assert out_of_service(lab.state.server("PS1"))
    assert "STAYS IN MAINTENANCE (out of service) on purpose: its hook tasks failed" in result.stdout
    assert "PS1" in rows["_summary"]["hosts"]["in_maintenance"]

    # The admin looked, fixed it and re-runs without the hook: healthy, back in service.
    again, rows = _patch(lab, tmp_path, ["PS1"], name="again")
    assert again.returncode == 0, _out(again)
    assert rows["PS1"]["status"] == "returned_to_service"
    assert not out_of_service(lab.state.server("PS1"))


def test_a_failing_pre_install_hook_installs_nothing_and_stays_in_maintenance(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    hook = _hook(tmp_path, "backup.yml", FAILING_HOOK.replace("Install the Windows updates", "Take the backup"))
    result, rows = _patch(lab, tmp_path, ["PS1"], "-e", "exchange_patch_pre_install_tasks=%s" % hook)
    assert result.returncode != 0
    row = rows["PS1"]
    assert row["status"] == "failed_in_maintenance", row
    assert "exchange_patch_pre_install_tasks (%s): Take the backup" % hook in row["message"]
    assert lab.state.server("PS1")["build"] == OLD_BUILD
    assert "Start-InstallerTask" not in lab.stats("PS1")["operations"]
    assert out_of_service(lab.state.server("PS1"))


LOSING_HOOK = """
- name: Read the EEMS state (the lab cuts the network at this call)
  onprem.exchange.eems:
    verify_timeout: 0
"""


def test_a_server_lost_inside_a_hook_is_reported_possibly_out_of_service_naming_the_hook(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    # The window itself never reads EEMS: the cut comes inside the hook.
    lab.set_faults("PS1", {"unreachable_at": {"operation": "Get-EemsState"}})
    hook = _hook(tmp_path, "lose.yml", LOSING_HOOK)
    # Ansible drops a host lost without ignore_unreachable from the later
    # plays: another server of the run (PM3, up to date) writes the report.
    result, rows = _patch(lab, tmp_path, ["PS1", "PM3"], "-e", "exchange_patch_hook_tasks=%s" % hook)
    assert result.returncode != 0
    row = rows["PS1"]
    assert row["status"] == "unreachable", row
    assert row["in_maintenance"] is True and row["maintenance"] == "possibly_out_of_service", row
    assert "the server was lost inside exchange_patch_hook_tasks (%s)" % hook in row["message"], row
    assert lab.state.server("PS1")["build"] == TARGET


# -- the role on its own, with a window given as a length --------------------------------

ROLE_PLAYBOOK = """
- hosts: all
  gather_facts: false
  roles:
    - role: onprem.exchange.exchange_patch
      vars:
        exchange_patch_target: "%s"
        exchange_patch_esu_enrolled: true
        exchange_patch_poll_interval: 0.3
        exchange_patch_reboot_timeout: 120
        exchange_patch_services_timeout: 5
  post_tasks:
    - name: Show the result
      ansible.builtin.debug:
        msg: "STARTED={{ exchange_patch_result.started }} STATUS={{ exchange_patch_result.status }} END={{ exchange_patch_window_closes }}"
""" % TARGET


def _role(lab, tmp_path, *extra):
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    playbook = tmp_path / "role.yml"
    playbook.write_text(ROLE_PLAYBOOK, encoding="utf-8")
    return run_playbook(inventory, str(playbook), "--limit", "PS1", *extra)


def test_the_role_turns_a_length_into_its_own_end(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    result = _role(lab, tmp_path, "-e", "exchange_patch_window_minutes=90")
    assert result.returncode == 0, _out(result)
    found = re.search(r"STARTED=(\S+) STATUS=(\S+) END=(\S+)\"", result.stdout)
    assert found, _out(result)
    started, status, end = found.groups()
    assert status == "patched"
    # The server's own start (naive UTC from now(utc=true)) plus 90 minutes, to the second.
    begin = datetime.datetime.fromisoformat(started).replace(tzinfo=None, microsecond=0)
    assert datetime.datetime.strptime(end, "%Y-%m-%dT%H:%M:%SZ") == begin + datetime.timedelta(minutes=90)


def test_the_role_refuses_a_length_that_is_not_minutes_before_touching_the_server(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    result = _role(lab, tmp_path, "-e", "exchange_patch_window_minutes=4h")
    assert result.returncode != 0
    assert "exchange_patch_window_minutes" in result.stdout
    assert "Get-ExchangeFacts" not in lab.stats("PS1")["operations"]
    assert lab.state.server("PS1")["build"] == OLD_BUILD


def test_the_role_refuses_an_end_with_an_offset_with_the_allowed_form(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    result = _role(lab, tmp_path, "-e", "exchange_patch_window_end=2026-11-28T06:00:00+01:00")
    assert result.returncode != 0
    assert "must be a UTC time such as 2026-11-28T06:00:00Z" in result.stdout
    assert "Get-ExchangeFacts" not in lab.stats("PS1")["operations"]
