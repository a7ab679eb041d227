"""playbooks/remediate.yml against the default lab: the README's main job."""
from __future__ import annotations

import json

from labtools import changed_counts, run_playbook, write_inventory

# Where each default-fleet server must end (target eems, no ESU): working, or
# not working with the reason a person reads.
EXPECTED = {
    "EX13A": ("not_applicable", "not applicable"),
    "EX16A": ("not_working", "No build reachable"),       # 2016 without ESU: Jun26SU is ESU-only
    "EX16B": ("not_working", "No build reachable"),
    "EX16C": ("not_working", "No build reachable"),
    "EX19A": ("working", None),
    "EX19B": ("working", None),
    "EX19C": ("working", None),
    "EX19D": ("working", None),
    "EX19E": ("not_working", "setup incomplete"),          # needs its own CU media to finish Setup
    "EX19P": ("not_working", "tls inspecting proxy"),
    "EXSE1": ("working", None),
    "FBEX01": ("working", None),                           # org flag switched on, once
}


# The job as the demo runs it, with shorter waits between two reads: the lab's
# clock runs 60x, so the defaults (a read every 15 s, the DAG gate every 5 s)
# only add real seconds of waiting, never a different outcome.
FAST_POLLS = json.dumps({"exchange_patch_poll_interval": 0.5, "exchange_patch_gate_poll_interval": 0.5,
                         "exchange_eems_verify_interval": 0.5})


def test_remediate_ends_every_server_working_or_named_and_settles(lab_factory, tmp_path):
    lab = lab_factory()
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / "reports"
    first = run_playbook(inventory, "playbooks/remediate.yml", "-e", "exchange_report_dir=%s" % reports,
                         "-e", FAST_POLLS, "-f", "20", timeout=1500)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    with open(reports / "exchange-remediation.json", encoding="utf-8") as handle:
        report = json.load(handle)
    rows = {s["name"]: s for s in report["servers"]}
    assert set(rows) == set(EXPECTED)
    for name, (verdict, reason) in EXPECTED.items():
        assert rows[name]["verdict"] == verdict, (name, rows[name])
        if reason:
            assert reason in rows[name]["reason"] and rows[name]["remedy"], (name, rows[name])
    # The patch window raised the servers it could, and never took two DAG members out together.
    assert rows["EX19A"]["build_changed"] and rows["EX16A"]["build_changed"]
    assert lab.dag_violations() == []
    assert report["summary"]["working_after"] > report["summary"]["working_before"]
    for report_file in ("before/exchange-audit.json", "after/exchange-audit.json", "exchange-patch.json",
                        "exchange-protection.json", "exchange-remediation.html"):
        assert (reports / report_file).is_file(), report_file
    assert "Report: %s" % (reports / "exchange-remediation.html") in first.stdout

    second = run_playbook(inventory, "playbooks/remediate.yml", "-e", "exchange_report_dir=%s" % reports,
                          "-e", FAST_POLLS, "-f", "20", timeout=1500)
    assert second.returncode == 0, second.stdout[-4000:]
    assert changed_counts(second.stdout) and all(changed == 0 for changed in changed_counts(second.stdout).values()), \
        changed_counts(second.stdout)
