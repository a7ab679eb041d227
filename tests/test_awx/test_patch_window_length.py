"""playbooks/patch.yml with the window given as a length (exchange_patch_window_minutes),
as the monthly AWX schedule passes it, instead of an end someone edits."""
from __future__ import annotations

import datetime
import json
import os

import yaml

from labtools import run_playbook

from test_runner_patch_and_slicing import TARGET, _extravars, _fleet


def _standalone(builds):
    """test_runner_patch_and_slicing's fleet without its DAG: standalone servers only."""
    fleet = _fleet(builds)
    fleet["dags"] = []
    fleet["databases"] = [db for db in fleet["databases"] if not db["name"].startswith("PDB")]
    return fleet


def _run(lab, tmp_path, **extra):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(lab.inventory(), sort_keys=False), encoding="utf-8")
    variables = dict(_extravars(str(tmp_path / "reports")), **extra)
    (tmp_path / "vars.json").write_text(json.dumps(variables), encoding="utf-8")
    return run_playbook(str(inventory), "playbooks/patch.yml", "-e", "@" + str(tmp_path / "vars.json"))


def _utc(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def test_a_window_of_90_minutes_ends_90_minutes_after_the_run_started(lab_factory, tmp_path):
    lab = lab_factory(_standalone({"PS1": "15.2.1748.39", "PS2": TARGET}))
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    result = _run(lab, tmp_path, exchange_patch_window_minutes=90)
    after = datetime.datetime.now(datetime.timezone.utc)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    with open(os.path.join(str(tmp_path / "reports"), "exchange-patch.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    end = _utc(report["window_end"])
    assert before + datetime.timedelta(minutes=90) <= end <= after + datetime.timedelta(minutes=90)
    assert {s["name"]: s["status"] for s in report["servers"]} == {"PS1": "patched", "PS2": "up_to_date"}


def test_a_window_end_given_wins_over_the_length(lab_factory, tmp_path):
    lab = lab_factory(_standalone({"PS2": TARGET}))
    end = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = _run(lab, tmp_path, exchange_patch_window_minutes=30, exchange_patch_window_end=end)
    assert result.returncode == 0, result.stdout[-3000:]
    with open(os.path.join(str(tmp_path / "reports"), "exchange-patch.json"), encoding="utf-8") as handle:
        assert json.load(handle)["window_end"] == end


def test_a_length_that_is_not_minutes_stops_before_anything_is_patched(lab_factory, tmp_path):
    lab = lab_factory(_standalone({"PS1": "15.2.1748.39"}))
    result = _run(lab, tmp_path, exchange_patch_window_minutes="4h")
    assert result.returncode != 0
    assert "exchange_patch_window_minutes must be a whole number of minutes (0 for no limit), got '4h'" in result.stdout
    assert lab.state.server("PS1")["build"] == "15.2.1748.39"
