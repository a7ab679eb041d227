"""Action plugins stay thin: none imports another, and every one that calls a host
uses HostActionBase's shared opening (run -> _ex_run) instead of its own copy."""
from __future__ import annotations

import ast
import glob
import os

from labtools import REPO_ROOT

ACTIONS = sorted(glob.glob(os.path.join(REPO_ROOT, "plugins", "action", "*.py")))


def _tree(path):
    with open(path, encoding="utf-8") as handle:
        return ast.parse(handle.read(), path)


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_no_action_plugin_imports_another():
    offenders = {os.path.basename(p): m for p in ACTIONS for m in _imports(_tree(p))
                 if m.startswith("ansible_collections.") and ".plugins.action" in m}
    assert not offenders, offenders


def test_host_actions_use_the_shared_opening_and_define_only_their_steps():
    for path in ACTIONS:
        tree = _tree(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == "ActionModule":
                bases = {getattr(b, "id", getattr(b, "attr", None)) for b in node.bases}
                methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
                if "HostActionBase" in bases:
                    assert "run" not in methods and "_ex_run" in methods, (
                        "%s: a HostActionBase action defines _ex_run (its steps), not run" % os.path.basename(path))
                else:
                    # Only controller-side actions (reports, watch, import) may do without it.
                    uses_host = any("_host_call" in m for m in _imports(tree))
                    name = os.path.basename(path)
                    assert not uses_host or name in ("report_share.py", "report_share_fetch.py"), (
                        "%s calls hosts without HostActionBase" % name)
