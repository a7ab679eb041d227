"""Run a playbook the way an AWX job does: ansible-runner over a private data
directory, in the project folder, with no ANSIBLE_CONFIG in the environment
(AWX's has none, so the project's ansible.cfg is the one found)."""
from __future__ import annotations

import os

import ansible_runner


def run_awx_job(root, project_dir, playbook, ident):
    """``(runner, events, stdout)``, read before the caller may delete ``root``
    as AWX deletes a job's folder. ANSIBLE_CONFIG is put back afterwards."""
    saved = os.environ.pop("ANSIBLE_CONFIG", None)
    try:
        runner = ansible_runner.run(private_data_dir=root, project_dir=project_dir, playbook=playbook, verbosity=3,
                                    quiet=True, ident=ident)
        events = list(runner.events)
        with open(runner.stdout.name, encoding="utf-8") as handle:
            stdout = handle.read()
    finally:
        if saved is not None:
            os.environ["ANSIBLE_CONFIG"] = saved
    return runner, events, stdout
