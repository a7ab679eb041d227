"""Helpers shared by the lab and playbook tests: import paths, labs, ansible-playbook runs.

Kept out of conftest.py so tests import them by a unique module name
(several conftest modules would otherwise shadow each other).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
COLLECTIONS_DIR = os.path.join(REPO_ROOT, ".collections")
for path in (TESTS_DIR, COLLECTIONS_DIR):
    if path not in sys.path:
        sys.path.insert(0, path)

from lab.fleet import load_fleet, normalise_fleet  # noqa: E402
from lab.runtime import Lab  # noqa: E402


def start_lab(state_dir, fleet=None, **kwargs):
    if fleet is None:
        fleet = load_fleet()
    elif isinstance(fleet, dict):
        fleet = normalise_fleet(fleet)
    return Lab(fleet, str(state_dir), **kwargs).start()


def write_inventory(lab, path):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(lab.inventory(), handle, sort_keys=False)
    return str(path)


def run_playbook(inventory, playbook, *extra, env=None, timeout=600):
    """Run the real ansible-playbook of this interpreter's environment."""
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    environment = dict(os.environ)
    environment.update({
        "ANSIBLE_CONFIG": os.path.join(REPO_ROOT, "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_LOCAL_TEMP": os.path.join(os.path.dirname(str(inventory)), ".ansible-tmp"),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + environment.get("PATH", ""),
    })
    environment.update(env or {})
    playbook_path = playbook if os.path.isabs(playbook) else os.path.join(REPO_ROOT, playbook)
    return subprocess.run([binary, "-i", str(inventory), playbook_path, *extra], cwd=REPO_ROOT,
                          env=environment, capture_output=True, text=True, timeout=timeout)


_RECAP_LINE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def recap(stdout):
    """{host: {"ok": n, "changed": n, "unreachable": n, "failed": n}} from the
    PLAY RECAP of an ansible-playbook run's output (empty when it has none)."""
    if "PLAY RECAP" not in stdout:
        return {}
    return {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "unreachable": int(m.group(4)),
                         "failed": int(m.group(5))}
            for m in _RECAP_LINE.finditer(stdout.rsplit("PLAY RECAP", 1)[1])}


def changed_counts(stdout):
    """{host: changed count} from the PLAY RECAP."""
    return {host: row["changed"] for host, row in recap(stdout).items()}
