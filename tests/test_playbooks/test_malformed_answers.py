"""Broken host answers fail that host alone, with a message a person can act on."""
from __future__ import annotations

import json
import re

import pytest

from labtools import run_playbook, write_inventory

CASES = {
    "EX16B": ("non_json", "did not return JSON"),
    "EX16C": ("truncated", "did not return JSON"),
    "EX19A": ("huge", "more than the 16777216 allowed"),
    "EX19B": ("wrong_types", "expected a bool"),
}


@pytest.mark.smoke
def test_each_broken_answer_fails_its_host_and_the_play_goes_on(lab_factory, tmp_path):
    lab = lab_factory()
    for name, (kind, _) in CASES.items():
        lab.set_faults(name, {"malformed_answer": kind})
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    hosts = ",".join(list(CASES) + ["EX19C", "localhost"])
    result = run_playbook(inventory, "playbooks/audit.yml", "--limit", hosts,
                          "-e", "exchange_report_dir=%s" % (tmp_path / "reports"))
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    with open(tmp_path / "reports" / "exchange-audit.json", encoding="utf-8") as handle:
        rows = {s["name"]: s for s in json.load(handle)["servers"]}
    for name, (_, message) in CASES.items():
        assert rows[name]["status"] == "failed", name
        assert message in rows[name]["error"], (name, rows[name]["error"])
        assert rows[name]["error"].startswith(name + ": host operation Get-ExchangeFacts")
    assert rows["EX19C"]["status"] == "audited"
    # The job says plainly that four servers could not be audited.
    assert result.returncode != 0
    assert re.search(r"0 server\(s\) unreachable .* 4 failed", output.replace("\n", " "))


def test_an_answer_off_its_contract_fails_that_host_naming_operation_and_field(lab_factory, tmp_path):
    """Well-formed JSON with ok=true, but a value of the wrong kind: the
    controller's contract check fails that host with the field path; the
    other servers are audited as usual."""
    lab = lab_factory()
    lab.set_faults("EX19B", {"malformed_answer": "off_contract:exchange.database_copies[1].status"})
    lab.set_faults("EX16A", {"malformed_answer": "off_contract"})
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    result = run_playbook(inventory, "playbooks/audit.yml", "--limit", "EX19B,EX16A,EX19C,localhost",
                          "-e", "exchange_report_dir=%s" % (tmp_path / "reports"))
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "KeyError" not in output
    with open(tmp_path / "reports" / "exchange-audit.json", encoding="utf-8") as handle:
        rows = {s["name"]: s for s in json.load(handle)["servers"]}
    assert rows["EX19B"]["status"] == "failed"
    assert rows["EX19B"]["error"] == ("EX19B: host operation Get-ExchangeFacts answered "
                                      "exchange.database_copies[1].status = 7, expected text")
    # Without a path the fault breaks the first text inside a list (EX16A's installed update).
    assert rows["EX16A"]["status"] == "failed"
    assert rows["EX16A"]["error"] == ("EX16A: host operation Get-ExchangeFacts answered "
                                      "installed_updates[0].display_name = 7, expected text or null")
    assert rows["EX19C"]["status"] == "audited"
    assert result.returncode != 0
