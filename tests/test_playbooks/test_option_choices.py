"""Options with a fixed set of values fail before any server is contacted (issue 13)."""
from __future__ import annotations

import pytest

from labtools import run_playbook, start_lab, write_inventory
from lab.fleet import load_fleet


@pytest.fixture(scope="module")
def quiet_lab(tmp_path_factory):
    fleet = load_fleet()
    fleet["lab"]["clock_factor"] = 0
    lab = start_lab(tmp_path_factory.mktemp("choices-lab"), fleet)
    yield lab
    lab.stop()


def _processes(lab):
    return {name: lab.stats(name)["processes"] for name in lab.endpoints}


@pytest.mark.parametrize("playbook, extra, quoted", [
    ("playbooks/audit.yml", "exchange_target=bogus", "'bogus'"),
    ("playbooks/patch.yml", "exchange_patch_target=eems-minimal", "'eems-minimal'"),
    ("playbooks/stage.yml", "exchange_target=newest", "'newest'"),
    ("playbooks/mitigate.yml", "exchange_mitigation_state=on", "must be auto, present or absent"),
    ("playbooks/eems.yml", "exchange_eems_blocked_mode=replace", "must be add, remove or set"),
])
def test_unknown_value_fails_before_any_server_is_contacted(quiet_lab, tmp_path, playbook, extra, quoted):
    before = _processes(quiet_lab)
    inventory = write_inventory(quiet_lab, tmp_path / "inventory.yml")
    result = run_playbook(inventory, playbook, "-e", extra, "-e", "exchange_report_dir=%s" % (tmp_path / "r"))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert quoted in output, output
    if "target" in extra:
        assert "latest, eems, eems_minimal" in output
    assert _processes(quiet_lab) == before          # no shell opened on any server
    assert not (tmp_path / "r").exists()            # and no report pretends the job ran
