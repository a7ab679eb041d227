"""Benchmark: the EEMS watch against the fleet audit on the same lab fleet.

Starts one lab with a generated fleet (default 100 servers) and added
latency on every WinRM request (default 50 ms), then, in one run:

1. ``ansible-playbook playbooks/audit.yml``;
2. ``ansible-playbook playbooks/eems_watch.yml`` (a baseline run), then a
   second watch run (the comparing one, as a schedule runs it);

and prints wall times, the ratio watch/audit, and how many remote processes
(WinRM commands) each host ran for each.  The watch is meant to cost one host
call per server.  Timings go here, never into tests.  Usage (from the
repository root, in the project venv):

    python benchmarks/bench_eems_watch.py [--servers 100] [--latency-ms 50] [--forks 50]

Measured (2026-12-02, 2 shared CPUs under another test run's load, Python
3.12.1, ansible-core 2.21.5): --servers 40 --latency-ms 50 --forks 20, three
runs: audit 4.22/5.17/5.62 s, comparing watch 4.61/5.32/5.08 s, ratio
1.09/1.03/0.90; defaults (100 servers, 50 ms, 50 forks): audit 14.16 s, watch
9.95 s (baseline 10.31 s), ratio 0.70. One remote process per host for each.
(An earlier single run at 40 servers read audit 14.66 s, watch 11.99 s.)
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


def _run(command, env):
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode not in (0, 2):
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit("%s failed with rc %d" % (command[0], result.returncode))
    return elapsed, result


def _processes(lab):
    return {name: lab.stats(name)["processes"] for name in lab.endpoints}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--dags", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--forks", type=int, default=50)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-eems-watch-")
    fleet = generate_fleet(args.servers, args.dags)
    for server in fleet["servers"]:
        server["faults"]["latency_ms"] = args.latency_ms
    lab = Lab(fleet, os.path.join(workdir, "lab")).start()
    try:
        inventory = os.path.join(workdir, "inventory.yml")
        with open(inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump(lab.inventory(), handle)
        bindir = os.path.dirname(sys.executable)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORKS=str(args.forks),
                   PATH=bindir + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1")
        reports = "exchange_report_dir=%s" % os.path.join(workdir, "reports")
        playbook = os.path.join(bindir, "ansible-playbook")

        before = _processes(lab)
        audit_time, audit = _run([playbook, "-i", inventory, os.path.join(ROOT, "playbooks", "audit.yml"),
                                  "-f", str(args.forks), "-e", reports], env)
        after_audit = _processes(lab)
        baseline_time, _ = _run([playbook, "-i", inventory, os.path.join(ROOT, "playbooks", "eems_watch.yml"),
                                 "-f", str(args.forks), "-e", reports], env)
        after_baseline = _processes(lab)
        watch_time, watch = _run([playbook, "-i", inventory, os.path.join(ROOT, "playbooks", "eems_watch.yml"),
                                  "-f", str(args.forks), "-e", reports], env)
        after_watch = _processes(lab)
        import ansible
        summary = {
            "servers": args.servers, "latency_ms": args.latency_ms, "forks": args.forks,
            "python": sys.version.split()[0], "ansible_core": ansible.__version__, "cpus": os.cpu_count(),
            "audit_seconds": round(audit_time, 2),
            "watch_baseline_seconds": round(baseline_time, 2), "watch_seconds": round(watch_time, 2),
            "ratio_watch_to_audit": round(watch_time / audit_time, 2),
            "remote_processes_per_host_audit": sorted({after_audit[n] - before[n] for n in lab.endpoints}),
            "remote_processes_per_host_watch": sorted({after_watch[n] - after_baseline[n] for n in lab.endpoints}),
            "audit_rc": audit.returncode, "watch_rc": watch.returncode,
        }
        print(json.dumps(summary, indent=1))
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
