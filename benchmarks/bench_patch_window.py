"""Benchmark: the patch window's makespan against ``serial: 1`` on the same fleet.

Generates a lab fleet of 8 DAGs x 3 members + 4 standalone servers (sizes
are options) with accelerated installs and restarts, then, in one run and
on two fresh labs with the same fleet:

1. ``playbooks/patch.yml`` as shipped (strategy free, DAG gate, all servers in flight);
2. the same playbook with ``exchange_patch_max_in_flight=1`` (``serial: 1``);

and prints each makespan, their ratio (target <= 0.2), and the DAG
violations the lab's maintenance log shows for each run (target 0).
DAG members get an SU, standalone servers a CU and an SU.  Timings go here,
never into tests.  Usage (from the repository root, in the project venv):

    python benchmarks/bench_patch_window.py [--dags 8] [--dag-size 3] [--standalone 4] [--forks 40]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from lab.fleet import generate_fleet  # noqa: E402
from lab.runtime import Lab  # noqa: E402

import yaml  # noqa: E402

TARGET = "15.2.1748.53"
PACKAGES = [{"name": "ExchangeServer2019-x64-CU15.ISO", "size_kb": 256},
            {"name": "Exchange2019-KB5129956-x64-en.msp", "size_kb": 64}]


def make_fleet(dags, dag_size, standalone):
    fleet = generate_fleet(dags * dag_size + standalone, dags, dag_size=dag_size)
    for server in fleet["servers"]:
        server["build"] = "15.2.1748.46" if server["dag"] else "15.2.1544.39"
        server["reboot_seconds"] = 20
    fleet["lab"]["installer_seconds"] = {"cu": 1200, "su": 600}
    fleet["organizations"][0]["esu_enrolled"] = True
    fleet["repository"]["packages"] = PACKAGES
    return fleet


def run_window(fleet, forks, extra_vars):
    with tempfile.TemporaryDirectory(prefix="bench-patch-") as state_dir:
        lab = Lab(json.loads(json.dumps(fleet)), state_dir).start()
        try:
            inventory = os.path.join(state_dir, "inventory.yml")
            with open(inventory, "w", encoding="utf-8") as handle:
                yaml.safe_dump(lab.inventory(), handle)
            env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                       PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
            variables = {"exchange_patch_target": TARGET, "exchange_patch_esu_enrolled": True,
                         "exchange_patch_poll_interval": 0.5, "exchange_patch_gate_timeout": 3600,
                         "exchange_patch_gate_poll_interval": 0.5,
                         "exchange_report_dir": os.path.join(state_dir, "reports")}
            variables.update(extra_vars)
            command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
                       "-f", str(forks), "playbooks/patch.yml", "-e", json.dumps(variables)]
            started = time.monotonic()
            result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            elapsed = time.monotonic() - started
            if result.returncode != 0:
                sys.stderr.write(result.stdout[-4000:] + result.stderr[-2000:])
                raise SystemExit("ansible-playbook failed with rc %d" % result.returncode)
            with open(os.path.join(state_dir, "reports", "exchange-patch.json"), encoding="utf-8") as handle:
                report = json.load(handle)
            patched = report["summary"]["by_status"]["patched"]
            return {"seconds": round(elapsed, 1), "patched": patched, "dag_violations": len(lab.dag_violations()),
                    "builds_at_target": sum(1 for s in lab.state.servers() if s["build"] == TARGET)}
        finally:
            lab.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dags", type=int, default=8)
    parser.add_argument("--dag-size", type=int, default=3)
    parser.add_argument("--standalone", type=int, default=4)
    parser.add_argument("--forks", type=int, default=40)
    options = parser.parse_args(argv)
    fleet = make_fleet(options.dags, options.dag_size, options.standalone)
    total = len(fleet["servers"])
    window = run_window(fleet, options.forks, {})
    serial = run_window(fleet, options.forks, {"exchange_patch_max_in_flight": 1})
    ratio = window["seconds"] / serial["seconds"]
    print("fleet: %d servers (%d DAGs x %d + %d standalone), installs accelerated (CU 1200, SU 600 lab s = 20 s and 10 s real; clock x60)"
          % (total, options.dags, options.dag_size, options.standalone))
    print("window (free, DAG gate):   %7.1f s  patched %d/%d  at target %d  DAG violations %d"
          % (window["seconds"], window["patched"], total, window["builds_at_target"], window["dag_violations"]))
    print("serial: 1:                 %7.1f s  patched %d/%d  at target %d  DAG violations %d"
          % (serial["seconds"], serial["patched"], total, serial["builds_at_target"], serial["dag_violations"]))
    print("makespan ratio window/serial: %.3f (target <= 0.2)" % ratio)
    return 0 if ratio <= 0.2 and window["dag_violations"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
