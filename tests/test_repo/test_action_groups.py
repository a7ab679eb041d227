"""meta/runtime.yml's action group lets a play set the EMS options once.

`module_defaults: group/onprem.exchange.exchange:` must reach every module
that opens an Exchange session, and only modules that accept those options
(Ansible hands the group's defaults to each member, and the actions refuse
options they do not know).
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

import yaml

from labtools import REPO_ROOT

EMS_OPTIONS = {"ems_mode", "ems_username", "ems_password"}


def _group():
    with open(os.path.join(REPO_ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["action_groups"]["exchange"]


def _spec(name):
    return importlib.import_module("ansible_collections.onprem.exchange.plugins.action.%s" % name).ARGUMENT_SPEC


def test_the_group_is_exactly_the_modules_with_the_ems_options():
    actions = sorted(os.path.splitext(n)[0] for n in os.listdir(os.path.join(REPO_ROOT, "plugins", "action"))
                     if n.endswith(".py") and not n.startswith("_"))
    with_ems = sorted(n for n in actions if EMS_OPTIONS <= set(_spec(n)))
    assert with_ems and sorted(_group()) == with_ems


def test_ansible_playbook_applies_group_module_defaults_to_a_member(tmp_path):
    # The bad value can only reach build_facts through the group; its argument
    # validation refuses it before any host is contacted, so no lab is needed.
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  gather_facts: false\n"
        "  module_defaults:\n"
        "    group/onprem.exchange.exchange:\n"
        "      ems_mode: from-the-group\n"
        "  tasks:\n"
        "    - name: Read facts\n"
        "      onprem.exchange.build_facts:\n")
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run([binary, "-i", "localhost,", "-c", "local", str(playbook)], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "value of ems_mode must be one of: auto, remote, snapin, got: from-the-group" in result.stdout
