"""``python -m lab {start,stop,status,inventory,serve}`` (run with tests/ on PYTHONPATH).

``start`` runs ``serve`` as a detached process and waits until every
endpoint is listening; ``stop`` ends it (state is saved on the way out).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from .fleet import DEFAULT_FLEET, FleetError, generate_fleet, load_fleet

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_STATE_DIR = os.environ.get("EXLAB_DIR", os.path.join(REPO_ROOT, ".lab"))


def _info(state_dir):
    path = os.path.join(state_dir, "lab.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    # A zombie child counts as gone.
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return True


def control(state_dir, action, body=None):
    info = _info(state_dir)
    if not info:
        raise SystemExit("no lab is running in %s (start it with: python -m lab start)" % state_dir)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(info["control_url"] + action, data=data,
                                     headers={"X-Lab-Token": info["token"], "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode())


def _fleet_from_args(args):
    if args.generate:
        return generate_fleet(args.generate, args.dags)
    return load_fleet(args.fleet)


def cmd_serve(args):
    from .runtime import Lab
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    lab = Lab(_fleet_from_args(args), args.state_dir, fresh=args.fresh)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    lab.start()
    lab.write_runtime_files()
    logging.info("lab ready: %d servers", len(lab.endpoints))
    stop.wait()
    lab.stop()
    info_path = os.path.join(args.state_dir, "lab.json")
    if os.path.exists(info_path):
        os.remove(info_path)
    return 0


def cmd_start(args):
    info = _info(args.state_dir)
    if info and _alive(info["pid"]):
        print("lab already running (pid %d); inventory: %s" % (info["pid"], info["inventory"]))
        return 0
    try:
        _fleet_from_args(args)  # fail here, in the foreground, on a bad fleet file
    except (FleetError, OSError) as error:
        print("lab: cannot start: %s" % error, file=sys.stderr)
        return 2
    os.makedirs(args.state_dir, exist_ok=True)
    info_path = os.path.join(args.state_dir, "lab.json")
    if os.path.exists(info_path):
        os.remove(info_path)
    command = [sys.executable, "-m", "lab", "--state-dir", args.state_dir, "serve", "--fleet", args.fleet]
    if args.fresh:
        command.append("--fresh")
    if args.generate:
        command += ["--generate", str(args.generate), "--dags", str(args.dags)]
    log = open(os.path.join(args.state_dir, "lab.log"), "ab")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    process = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                               start_new_session=True, env=env, cwd=REPO_ROOT)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        info = _info(args.state_dir)
        if info and info.get("ready"):
            print("lab started (pid %d): %d servers; inventory: %s"
                  % (info["pid"], len(info["endpoints"]), info["inventory"]))
            return 0
        if process.poll() is not None:
            break
        time.sleep(0.1)
    print("lab: did not become ready; see %s" % os.path.join(args.state_dir, "lab.log"), file=sys.stderr)
    if process.poll() is None:
        process.terminate()
    return 1


def cmd_stop(args):
    info = _info(args.state_dir)
    if not info or not _alive(info["pid"]):
        print("lab is not running")
        if info:
            os.remove(os.path.join(args.state_dir, "lab.json"))
        return 0
    os.kill(info["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(info["pid"]):
        time.sleep(0.1)
    if _alive(info["pid"]):
        os.kill(info["pid"], signal.SIGKILL)
    info_path = os.path.join(args.state_dir, "lab.json")
    if os.path.exists(info_path):
        os.remove(info_path)
    print("lab stopped (state kept in %s)" % args.state_dir)
    return 0


def cmd_status(args):
    info = _info(args.state_dir)
    if not info or not _alive(info["pid"]):
        print("lab is not running")
        return 3
    status = control(args.state_dir, "status")
    print("lab running (pid %d), lab time %s" % (info["pid"], status["now"]))
    for name, server in sorted(status["servers"].items()):
        print("  %-10s %-16s %-18s %s" % (name, server["build"], server["endpoint"],
                                          "rebooting" if server["rebooting"] else "up"))
    return 0


def cmd_inventory(args):
    info = _info(args.state_dir)
    if not info or not _alive(info["pid"]):
        print("lab is not running", file=sys.stderr)
        return 3
    if args.output:
        shutil.copyfile(info["inventory"], args.output)
        print(args.output)
    else:
        with open(info["inventory"], encoding="utf-8") as handle:
            sys.stdout.write(handle.read())
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lab", description="The embedded Exchange lab.")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help="where state, certificates and logs live")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "serve"):
        p = sub.add_parser(name)
        p.add_argument("--fleet", default=DEFAULT_FLEET, help="fleet definition (YAML)")
        p.add_argument("--fresh", action="store_true", help="forget saved state and start from the fleet file")
        p.add_argument("--generate", type=int, default=0, metavar="N", help="generate a fleet of N servers instead")
        p.add_argument("--dags", type=int, default=0, metavar="M", help="with --generate: M three-member DAGs")
        p.add_argument("--timeout", type=float, default=60.0)
    sub.add_parser("stop")
    sub.add_parser("status")
    p = sub.add_parser("inventory")
    p.add_argument("--output", "-o", help="write the inventory here instead of printing it")
    args = parser.parse_args(argv)
    args.state_dir = os.path.abspath(args.state_dir)
    handler = {"start": cmd_start, "serve": cmd_serve, "stop": cmd_stop, "status": cmd_status,
               "inventory": cmd_inventory}[args.command]
    return handler(args)
