"""Every input variable of the roles is in its meta/argument_specs.yml, with the default it has.

A variable the role reads but does not set itself (set_fact, register, a
task's vars) is an input: it must be documented, or a user never learns it
exists; a documented default must be the one defaults/main.yml applies.
"""
from __future__ import annotations

import glob
import os
import re

import pytest
import yaml

from labtools import REPO_ROOT

ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(REPO_ROOT, "roles", "*")) if os.path.isdir(p))


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _tasks(node):
    """Every task mapping, inside blocks, rescue and always too."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always"):
            if key in node:
                yield from _tasks(node[key])


def _set_by_the_role(role):
    names = set()
    for path in glob.glob(os.path.join(REPO_ROOT, "roles", role, "tasks", "*.yml")):
        for task in _tasks(_load(path)):
            names.update((task.get("vars") or {}).keys())
            if task.get("register"):
                names.add(task["register"])
            for module in ("ansible.builtin.set_fact", "set_fact"):
                if isinstance(task.get(module), dict):
                    names.update(task[module].keys())
    return names


def _read_by_the_role(role, prefix):
    names = set()
    for path in glob.glob(os.path.join(REPO_ROOT, "roles", role, "tasks", "*.yml")):
        with open(path, encoding="utf-8") as handle:
            # A name ends in a letter or digit (exchange_patch_record_* in a comment is not one).
            names.update(re.findall(r"\b(%s\w*[A-Za-z0-9])\b" % re.escape(prefix), handle.read()))
    return names


@pytest.mark.parametrize("role", ROLES)
def test_every_input_variable_is_in_the_argument_spec(role):
    specs = _load(os.path.join(REPO_ROOT, "roles", role, "meta", "argument_specs.yml"))
    options = specs["argument_specs"]["main"]["options"]
    prefix = role + "_"
    inputs = _read_by_the_role(role, prefix) - _set_by_the_role(role)
    assert inputs, "found no input variable of %s: the test reads nothing" % role
    missing = sorted(name for name in inputs if name not in options)
    assert missing == [], "%s reads %s but meta/argument_specs.yml does not document them" % (role, missing)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented_with_that_default(role):
    specs = _load(os.path.join(REPO_ROOT, "roles", role, "meta", "argument_specs.yml"))
    options = specs["argument_specs"]["main"]["options"]
    defaults_path = os.path.join(REPO_ROOT, "roles", role, "defaults", "main.yml")
    defaults = _load(defaults_path) if os.path.exists(defaults_path) else {}
    for name, value in defaults.items():
        assert name in options, "%s: default %s is not in meta/argument_specs.yml" % (role, name)
        if options[name].get("required"):
            continue  # a required option's default only marks "not given"
        assert options[name].get("default") == value, "%s: %s defaults to %r, documented as %r" % (
            role, name, value, options[name].get("default"))
