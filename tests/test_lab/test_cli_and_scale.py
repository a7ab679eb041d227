"""The lab CLI as a person uses it, and a lab of 200 servers."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import run_host_operation
from labtools import TESTS_DIR
from lab.client import WinRMClient
from lab.fleet import generate_fleet


def _lab_cli(state_dir, *args):
    env = dict(os.environ, PYTHONPATH=TESTS_DIR)
    return subprocess.run([sys.executable, "-m", "lab", "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.smoke
def test_cli_start_status_inventory_stop(tmp_path):
    state_dir = tmp_path / "cli-lab"
    try:
        started = _lab_cli(state_dir, "start")
        assert started.returncode == 0, started.stderr
        assert "lab started" in started.stdout and "12 servers" in started.stdout
        again = _lab_cli(state_dir, "start")
        assert "already running" in again.stdout
        status = _lab_cli(state_dir, "status")
        assert status.returncode == 0
        assert "EX19B" in status.stdout and "15.2.1544.39" in status.stdout
        inventory_path = tmp_path / "inventory.yml"
        assert _lab_cli(state_dir, "inventory", "-o", str(inventory_path)).returncode == 0
        inventory = yaml.safe_load(inventory_path.read_text())
        hosts = inventory["all"]["children"]["exchange"]["hosts"]
        assert len(hosts) == 12
        assert set(inventory["all"]["children"]["dag_dag01"]["hosts"]) == {"EX19B", "EX19C", "EX19D"}
    finally:
        stopped = _lab_cli(state_dir, "stop")
    assert stopped.returncode == 0 and "lab stopped" in stopped.stdout
    assert (state_dir / "state.json").exists()
    assert _lab_cli(state_dir, "status").returncode == 3


def test_cli_refuses_a_bad_fleet_in_the_foreground(tmp_path):
    fleet = tmp_path / "bad.yml"
    fleet.write_text("servers:\n  - name: EX1\n    build: nope\n")
    result = _lab_cli(tmp_path / "bad-lab", "start", "--fleet", str(fleet))
    assert result.returncode == 2
    assert "build 'nope' must look like 15.2.1748.10" in result.stderr


@pytest.mark.slow
def test_two_hundred_servers_in_one_lab_each_answer(lab_factory):
    lab = lab_factory(generate_fleet(200, 10))
    assert len(lab.endpoints) == 200
    assert len({port for _, port in lab.endpoints.values()}) == 200
    for name in lab.endpoints:
        client = WinRMClient.for_lab(lab, name)
        try:
            assert run_host_operation(client, "Get-HostIdentity", {"token": name})["data"]["computer_name"] == name
        finally:
            client.close()
    assert all(lab.stats(name)["processes"] == 1 for name in lab.endpoints)
