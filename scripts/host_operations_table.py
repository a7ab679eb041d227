#!/usr/bin/env python3
"""The table of host operations in docs/architecture.md, derived from the tree.

For every operation script in plugins/plugin_utils/_host_scripts/ (the
bootstrap Invoke-HostOperation excepted) one row: the script, what it does
(the first sentence of its header comment), the shared functions its
``# Uses:`` line declares, the action plugins that call it (directly, or
through a plugin_utils module they import), and the lab model that answers it
in tests/lab/operations/, and what the answer's ``data`` carries: the
top-level fields of the operation's contract in
plugins/plugin_utils/_data/host_contracts.yml, which the controller checks
every answer against. Nothing in the table is written by hand.

    python scripts/host_operations_table.py           # check the document (exit 1 on drift)
    python scripts/host_operations_table.py --write   # rewrite the table in place
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT_DIR = os.path.join(ROOT, "plugins", "plugin_utils", "_host_scripts")
ACTION_DIR = os.path.join(ROOT, "plugins", "action")
UTILS_DIR = os.path.join(ROOT, "plugins", "plugin_utils")
LAB_DIR = os.path.join(ROOT, "tests", "lab", "operations")
CONTRACTS = os.path.join(UTILS_DIR, "_data", "host_contracts.yml")
DOC = os.path.join(ROOT, "docs", "architecture.md")
BOOTSTRAP = "Invoke-HostOperation"
BEGIN = "<!-- host-operations:begin (scripts/host_operations_table.py --write) -->"
END = "<!-- host-operations:end -->"
HEADER = ("| Operation script | What it does | Shared functions (`# Uses:`) | Action plugins | Lab model | "
          "Answer `data` fields (contract) |")
RULE = "|---|---|---|---|---|---|"
# The generic host-call path: it sends whatever operation its caller names
# (and may list operations, e.g. which ones are safe to retry), so it never
# makes an action a caller by itself.
PLUMBING = {"_host_call", "_host_action"}
_OPERATION_DECORATOR = re.compile(r"""@operation\(\s*["']([A-Za-z]+-[A-Za-z]+)["']\s*\)""")


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _py_files(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".py") and not n.startswith("__"))


def operations():
    return sorted(n[:-4] for n in os.listdir(SCRIPT_DIR) if n.endswith(".ps1") and n[:-4] != BOOTSTRAP)


def purpose(text):
    """The first sentence of the script's header comment."""
    words = []
    for line in text.splitlines():
        if not line.startswith("#") or re.match(r"#\s*(Uses|Exchange):", line):
            break
        words.append(line.lstrip("#").strip())
    sentence = " ".join(w for w in words if w)
    match = re.match(r"(.+?\.)(\s|$)", sentence)
    sentence = match.group(1) if match else sentence
    # A long first sentence keeps its lead, up to its colon (the list after it is in the script).
    if len(sentence) > 140:
        depth = 0
        for index, char in enumerate(sentence):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0 and index >= 30 and sentence.startswith(": ", index):
                return sentence[:index] + "."
    if len(sentence) > 220:
        sentence = sentence[:200].rsplit(" ", 1)[0] + " ..."
    return sentence


def uses(text):
    names = []
    for line in text.splitlines():
        match = re.match(r"^#\s*Uses:\s*(.*)$", line)
        if match:
            names += [n.strip() for n in match.group(1).split(",") if n.strip()]
    return names


def _mentions(text, name):
    return re.search(r"""["']%s["']""" % re.escape(name), text) is not None


def _module_name(node_module):
    """plugin_utils module named by an import (absolute or relative), else None."""
    if not node_module:
        return None
    last = node_module.rsplit(".", 1)[-1]
    if node_module.startswith("ansible_collections.onprem.exchange.plugins.plugin_utils.") or "." not in node_module:
        return last if last.startswith("_") else None
    return None


def _imports(tree):
    """{plugin_utils module: set of names imported from it} for one parsed Python file."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _module_name(node.module)
            if module:
                found.setdefault(module, set()).update(alias.name for alias in node.names)
    return found


def _constant_strings(tree):
    """{top-level name: string constants in its value} of a parsed module."""
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            strings = {n.value for n in ast.walk(node.value) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = strings
    return constants


_PARSED = {}


def _python_file(path):
    """(text, imports, constant strings) of one Python file, parsed once per
    version of it: the table asks for every operation's callers, and parsing
    every plugin again for each made the check take tens of seconds."""
    stat = os.stat(path)
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key not in _PARSED:
        text = _read(path)
        tree = ast.parse(text)
        _PARSED[key] = (text, _imports(tree), _constant_strings(tree))
    return _PARSED[key]


def callers(name):
    """Action plugins that send the operation: they name it themselves, import
    a plugin_utils helper that sends it (a module that calls
    run_host_operation and names it, or imports such a module), or import a
    plugin_utils constant that lists it (such as a list of operations to run).
    A plugin_utils module that merely names operations (a table of which job
    needs which) does not make its importers callers."""
    utils = {n[:-3]: _python_file(os.path.join(UTILS_DIR, n)) for n in _py_files(UTILS_DIR)}
    senders = {m for m, (t, _i, _c) in utils.items()
               if m not in PLUMBING and "run_host_operation" in t and _mentions(t, name)}
    senders |= {m for m, (_t, i, _c) in utils.items() if m not in PLUMBING and set(i) & senders}
    found = []
    for n in _py_files(ACTION_DIR):
        text, imports, _constants = _python_file(os.path.join(ACTION_DIR, n))
        listed = any(name in utils[m][2].get(imported, ())
                     for m, names in imports.items() if m in utils for imported in names)
        if _mentions(text, name) or set(imports) & senders or listed:
            found.append(n[:-3])
    return found


def lab_models():
    models = {}
    for n in _py_files(LAB_DIR):
        for name in _OPERATION_DECORATOR.findall(_read(os.path.join(LAB_DIR, n))):
            models.setdefault(name, []).append("tests/lab/operations/" + n)
    return models


def contract_fields():
    """{operation: top-level field names of its answer's contract}."""
    with open(CONTRACTS, encoding="utf-8") as handle:
        operations_ = (yaml.safe_load(handle) or {}).get("operations") or {}
    return {name: [f for f in spec if not f.startswith("_")] for name, spec in operations_.items()
            if isinstance(spec, dict)}


def derived_rows():
    models = lab_models()
    contracts = contract_fields()
    rows = []
    for name in operations():
        text = _read(os.path.join(SCRIPT_DIR, name + ".ps1"))
        rows.append({
            "name": name,
            "cells": ["`%s.ps1`" % name, purpose(text).replace("|", "\\|").replace("<", "&lt;"),
                      ", ".join("`%s`" % u for u in uses(text)) or "-",
                      ", ".join("`%s`" % c for c in callers(name)) or "-",
                      ", ".join("`%s`" % m for m in models.get(name, [])) or "**none**",
                      ", ".join("`%s`" % f for f in contracts.get(name, [])) or "**none**"],
        })
    return rows


def _split_row(line):
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
    return cells


def documented(doc_text):
    """{operation: cells} of the table in the document, and the text around it."""
    if BEGIN not in doc_text or END not in doc_text:
        raise SystemExit("%s has no host operations table between %s and %s" % (DOC, BEGIN, END))
    head, rest = doc_text.split(BEGIN, 1)
    table, tail = rest.split(END, 1)
    rows = {}
    for line in table.strip().splitlines():
        if not line.startswith("| `"):
            continue
        cells = _split_row(line)
        match = re.match(r"`([A-Za-z]+-[A-Za-z]+)\.ps1`", cells[0])
        if match:
            rows[match.group(1)] = cells
    return head, rows, tail


def render():
    lines = [HEADER, RULE]
    for row in derived_rows():
        lines.append("| " + " | ".join(row["cells"]) + " |")
    return "\n".join(lines)


def problems(doc_text):
    """Every way the document's table differs from the tree."""
    _head, rows, _tail = documented(doc_text)
    found = []
    derived = derived_rows()
    names = [r["name"] for r in derived]
    for name in sorted(set(names) - set(rows)):
        found.append("%s.ps1 is missing from the table" % name)
    for name in sorted(set(rows) - set(names)):
        found.append("%s.ps1 is in the table but not in %s" % (name, os.path.relpath(SCRIPT_DIR, ROOT)))
    for row in derived:
        cells = rows.get(row["name"])
        if cells is None:
            continue
        if cells != row["cells"]:
            found.append("%s: row is %s, the tree says %s" % (row["name"], cells, row["cells"]))
        if "**none**" in row["cells"][4]:
            found.append("%s: no lab model registers @operation(%r)" % (row["name"], row["name"]))
        if "**none**" in row["cells"][5]:
            found.append("%s: no answer contract in %s" % (row["name"], os.path.relpath(CONTRACTS, ROOT)))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/architecture.md")
    options = parser.parse_args(argv)
    text = _read(DOC)
    if options.write:
        head, _rows, tail = documented(text)
        with open(DOC, "w", encoding="utf-8") as handle:
            handle.write(head + BEGIN + "\n" + render() + "\n" + END + tail)
        text = _read(DOC)
    found = problems(text)
    for problem in found:
        print("docs/architecture.md: %s" % problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
