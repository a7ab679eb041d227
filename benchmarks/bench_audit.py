"""Benchmark: the fleet audit against a bare ``raw`` echo on the same lab fleet.

Starts one lab with a generated fleet (default 200 servers) and added
latency on every WinRM request (default 50 ms), then, in one run:

1. ``ansible exchange -m raw -a "echo ok"`` with the given forks;
2. ``ansible-playbook playbooks/audit.yml`` with the same forks;

and prints wall times, their ratio, and how many remote processes
(WinRM commands) each host ran for the audit.  Timings go here, never into
tests.  Usage (from the repository root, in the project venv):

    python benchmarks/bench_audit.py [--servers 200] [--latency-ms 50] [--forks 50]
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--dags", type=int, default=10)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--forks", type=int, default=50)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-audit-")
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
        raw_time, _ = _run([os.path.join(bindir, "ansible"), "exchange", "-i", inventory, "-m", "raw",
                            "-a", "echo ok", "-f", str(args.forks), "-o"], env)
        before = {name: lab.stats(name)["processes"] for name in lab.endpoints}
        audit_time, audit = _run([os.path.join(bindir, "ansible-playbook"), "-i", inventory,
                                  os.path.join(ROOT, "playbooks", "audit.yml"), "-f", str(args.forks),
                                  "-e", "exchange_report_dir=%s" % os.path.join(workdir, "reports")], env)
        per_host = sorted({lab.stats(name)["processes"] - before[name] for name in lab.endpoints})
        import ansible
        summary = {
            "servers": args.servers, "latency_ms": args.latency_ms, "forks": args.forks,
            "python": sys.version.split()[0], "ansible_core": ansible.__version__, "cpus": os.cpu_count(),
            "raw_echo_seconds": round(raw_time, 2), "audit_seconds": round(audit_time, 2),
            "ratio": round(audit_time / raw_time, 2),
            "remote_processes_per_host_in_audit": per_host,
            "audit_rc": audit.returncode,
        }
        print(json.dumps(summary, indent=1))
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
