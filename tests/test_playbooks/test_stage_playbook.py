"""playbooks/stage.yml: the AWX "stage" job, ahead of the window."""
from __future__ import annotations


from labtools import changed_counts, run_playbook, write_inventory


def test_stage_job_stages_each_plan_once_and_check_mode_predicts_it(lab_factory, tmp_path):
    lab = lab_factory()
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    hosts = ("--limit", "EX16A,EX19C,EXSE1")
    check = run_playbook(inventory, "playbooks/stage.yml", "--check", *hosts)
    assert check.returncode == 0, check.stdout[-2000:]
    assert not any(lab.state.server(n).get("staged_files") for n in ("EX16A", "EX19C"))
    first = run_playbook(inventory, "playbooks/stage.yml", *hosts)
    assert first.returncode == 0, first.stdout[-2000:]
    assert changed_counts(first.stdout) == changed_counts(check.stdout) == {"EX16A": 1, "EX19C": 1, "EXSE1": 0}
    assert lab.state.server("EX16A")["staged_files"] and lab.state.server("EX19C")["staged_files"]
    second = run_playbook(inventory, "playbooks/stage.yml", *hosts)
    assert changed_counts(second.stdout) == {"EX16A": 0, "EX19C": 0, "EXSE1": 0}
    assert all(set(lab.stats(n)["operations"]) & {"Invoke-PackageDownload"} for n in ("EX16A", "EX19C"))
