#!/usr/bin/env python3
"""Write the option specs of the awx.awx modules awx/configure.yml uses, for its tests.

tests/test_awx/test_awx_config.py runs configure.yml against stand-in modules
that accept exactly these options (with their types and choices), so a
misspelt or unsupported option fails there without a live AWX. The specs are
read from the awx.awx source at the release pinned in awx/requirements.yml:

    # with a clone of github.com/ansible/awx (or `fetch github:ansible/awx`):
    python scripts/extract_awx_options.py --git-dir /path/to/awx/.git --ref 24.6.1 \
        > tests/test_awx/data/awx_awx_options.json

It also keeps the stub context AWX validates notification messages against.
Only literal values are read (ast), nothing of the source is executed.
"""
from __future__ import annotations

import argparse
import ast
import json
import subprocess

MODULES = ["execution_environment", "project", "inventory", "inventory_source", "credential_type", "credential",
           "notification_template", "job_template", "workflow_job_template", "workflow_job_template_node", "schedule"]
BASE = "awx_collection/plugins"


def _show(git_dir, ref, path):
    return subprocess.run(["git", "--git-dir", git_dir, "show", "%s:%s" % (ref, path)], check=True,
                          capture_output=True, text=True).stdout


def _literal(node, names):
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "list" and node.args:
        inner = node.args[0]
        # list(SOME_DICT.keys())
        if isinstance(inner, ast.Call) and getattr(inner.func, "attr", "") == "keys":
            return sorted(names[inner.func.value.id].keys())
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    return ast.literal_eval(node)


def _spec(call, names):
    """The keywords of a dict(name=dict(type=..., choices=...), ...) call."""
    options = {}
    for keyword in call.keywords:
        entry = {"type": "str"}
        value = keyword.value
        if isinstance(value, ast.Call):
            for inner in value.keywords:
                if inner.arg in ("type", "choices", "elements", "required", "aliases"):
                    try:
                        entry[inner.arg] = _literal(inner.value, names)
                    except (ValueError, KeyError, AttributeError):
                        pass
        options[keyword.arg] = entry
    return options


def _find_argument_spec(tree, names):
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            name = getattr(target, "id", getattr(target, "attr", ""))
            if name in ("argument_spec", "AUTH_ARGSPEC") and isinstance(node.value, ast.Call):
                return _spec(node.value, names)
    raise ValueError("no argument_spec found")


def _module_constants(tree):
    names = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return names


def _notification_context_stub(git_dir, ref):
    """The stub context AWX renders notification messages with when it
    validates them (JobNotificationMixin.context_stub, a dict literal)."""
    tree = ast.parse(_show(git_dir, ref, "awx/main/models/notifications.py"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "context_stub":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Assign) and getattr(inner.targets[0], "id", "") == "context":
                    return _lenient(inner.value)
    raise ValueError("no context_stub found")


def _lenient(node):
    """A dict/list literal, with any computed value (a call) kept as the text of its source."""
    if isinstance(node, ast.Dict):
        return {_lenient(k): _lenient(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_lenient(v) for v in node.elts]
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git-dir", required=True)
    parser.add_argument("--ref", required=True)
    args = parser.parse_args()
    out = {"awx.awx": args.ref, "source": "github.com/ansible/awx %s %s/modules" % (args.ref, BASE), "modules": {}}
    api = ast.parse(_show(args.git_dir, args.ref, BASE + "/module_utils/controller_api.py"))
    out["common"] = _find_argument_spec(api, {})
    out["common"]["state"] = {"type": "str", "choices": ["present", "absent", "exists"]}
    for module in MODULES:
        tree = ast.parse(_show(args.git_dir, args.ref, "%s/modules/%s.py" % (BASE, module)))
        out["modules"][module] = _find_argument_spec(tree, _module_constants(tree))
    out["notification_context_stub"] = _notification_context_stub(args.git_dir, args.ref)
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
