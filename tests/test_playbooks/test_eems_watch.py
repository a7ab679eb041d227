"""playbooks/eems_watch.yml against the lab: each change EEMS can go through is raised once, a quiet run raises nothing."""
from __future__ import annotations

import json
import os
import re

import pytest

from labtools import changed_counts, run_playbook, write_inventory

PLAYBOOK = "playbooks/eems_watch.yml"
SE = "15.2.2562.53"


def _fleet():
    return {"organizations": [{"name": "Contoso", "mitigations_enabled": True}],
            "servers": [{"name": name, "build": SE} for name in ("EXSE1", "EXSE2", "EXSE3", "EXSE4")]}


def _watch(lab, tmp_path, reports, *extra):
    inventory = write_inventory(lab, str(tmp_path / "inventory.yml"))
    result = run_playbook(inventory, PLAYBOOK, "-e", "exchange_report_dir=%s" % reports, *extra)
    assert result.returncode == 0, result.stdout[-3000:]
    match = re.search(r'TASK \[Show what changed\].*?"msg": (\[.*?\n    \])', result.stdout, re.S)
    assert match, result.stdout[-3000:]
    lines = json.loads(match.group(1))
    changes = {}
    for line in lines[1:]:
        found = re.match(r"^(ALERT|NOTICE) (\S+) \[(\w+)\] (.*)$", line)
        assert found, line
        changes.setdefault(found.group(2), []).append((found.group(3), found.group(4)))
    return lines[0], changes, result


@pytest.mark.smoke
def test_watch_raises_each_change_once_and_nothing_on_a_quiet_run(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    # Every server has had its first check (PING1 applied) before the baseline,
    # so the quiet run cannot see the lab's own start-up as a change.
    for name in ("EXSE1", "EXSE2", "EXSE3", "EXSE4"):
        assert lab.run_eems_check(name)["id"] == 1005
    reports = tmp_path / "reports"
    head, changes, _ = _watch(lab, tmp_path, reports)
    assert "first run: baseline recorded" in head and changes == {}
    history = json.loads((reports / "eems-watch-history.json").read_text(encoding="utf-8"))
    assert sorted(history["servers"]) == ["EXSE1", "EXSE2", "EXSE3", "EXSE4"]

    before = {name: lab.stats(name) for name in lab.endpoints}
    head, changes, _ = _watch(lab, tmp_path, reports)
    assert changes == {} and "0 alert(s), 0 notice(s)" in head, head
    # Cheap: one host call (one remote process) per server, and nothing else.
    for name in lab.endpoints:
        after = lab.stats(name)
        calls = {op: n - before[name]["operations"].get(op, 0) for op, n in after["operations"].items()}
        assert {op: n for op, n in calls.items() if n} == {"Get-EemsState": 1}, (name, calls)
        assert after["processes"] - before[name]["processes"] == 1, name

    # Check mode compares and writes no history.
    history_file = reports / "eems-watch-history.json"
    recorded = history_file.read_bytes()
    with lab.state.lock:
        lab.state.server("EXSE2")["services"]["MSExchangeMitigation"]["start_mode"] = "Disabled"
    head, changes, _ = _watch(lab, tmp_path, reports, "--check")
    assert [kind for kind, _ in changes["EXSE2"]] == ["service_disabled"]
    assert history_file.read_bytes() == recorded
    with lab.state.lock:
        lab.state.server("EXSE2")["services"]["MSExchangeMitigation"]["start_mode"] = "Automatic"

    # The lab produces each change: an OCS it cannot reach (a new 1008), a
    # stopped service, a new definition EEMS applies, an ID an admin blocks,
    # a server that stops answering.
    lab.control("POST", "ocs", {"reachable": False})
    assert lab.run_eems_check("EXSE1")["id"] == 1008
    lab.control("POST", "ocs", {"reachable": True})
    with lab.state.lock:
        lab.state.server("EXSE2")["services"]["MSExchangeMitigation"]["state"] = "Stopped"
        lab.state.server("EXSE3")["eems"]["blocked"].append("M1.1")
    lab.cutoffs.definitions.append({"id": "LAB4.1", "description": "Lab probe applied by the watch test",
                                    "type": "DoNothing", "published": "2026-06-01"})
    assert lab.run_eems_check("EXSE3")["id"] == 1005
    lab.wsman.set_down("EXSE4", True)
    head, changes, _ = _watch(lab, tmp_path, reports)
    kinds = {name: [kind for kind, _ in rows] for name, rows in changes.items()}
    assert "new_error_event" in kinds["EXSE1"]
    assert any("endpoint_unreachable" in text for kind, text in changes["EXSE1"] if kind == "new_error_event")
    assert kinds["EXSE2"] == ["service_stopped"]
    assert "mitigation_applied" in kinds["EXSE3"] and "mitigation_blocked" in kinds["EXSE3"]
    # The M-ID and what EEMS says it applied (its 1006 event), in the line the job shows.
    assert ("mitigation_applied", "EEMS applied mitigation LAB4.1: Mitigation LAB4.1 (Lab probe applied by the watch "
            "test) applied.") in changes["EXSE3"]
    assert any("M1.1" in text for kind, text in changes["EXSE3"] if kind == "mitigation_blocked")
    assert kinds["EXSE4"] == ["stopped_reporting"]

    # The organisation flag switched off: every reporting server says so.
    with lab.state.lock:
        lab.state.organization("Contoso")["mitigations_enabled"] = False
    head, changes, _ = _watch(lab, tmp_path, reports)
    for name in ("EXSE1", "EXSE2", "EXSE3"):
        assert "organization_flag_off" in [kind for kind, _ in changes[name]], changes
    assert "EXSE4" not in changes  # still silent: raised once, not every run

    head, changes, result = _watch(lab, tmp_path, reports)
    assert changes == {} and "0 alert(s), 0 notice(s)" in head, head
    assert set(changed_counts(result.stdout).values()) == {0}, changed_counts(result.stdout)
    assert not [name for name in os.listdir(reports) if name.endswith(".tmp")]
