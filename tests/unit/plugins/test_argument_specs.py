"""Every action plugin's ARGUMENT_SPEC matches its documentation stub.

Modules here run as action plugins, so `ansible-doc` and the documentation
site read plugins/modules/<name>.py while Ansible validates the task's
arguments against the action's ARGUMENT_SPEC. Nothing ties the two together
but this test: one option documented with another default, type or choice
than the code applies misleads every user who reads the docs. Doc fragments of
this collection (extends_documentation_fragment) are merged the way
ansible-doc merges them.
"""
from __future__ import annotations

import glob
import importlib
import os
import re

import pytest
import yaml

from labtools import REPO_ROOT

NAMESPACE = "onprem.exchange"
ACTIONS = sorted(os.path.splitext(os.path.basename(p))[0]
                 for p in glob.glob(os.path.join(REPO_ROOT, "plugins", "action", "*.py"))
                 if not os.path.basename(p).startswith("_"))

# Option names that carry a secret: the spec must mark them no_log so Ansible
# masks the value in every output, whatever the verbosity.
SECRET_NAME = re.compile(r"(password|passwd|secret|token|private_key|api_key|credential)", re.I)
# Names that match the pattern but hold no secret.
NOT_SECRET = set()


def _documentation(name):
    module = importlib.import_module("ansible_collections.onprem.exchange.plugins.modules.%s" % name)
    doc = yaml.safe_load(module.DOCUMENTATION)
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        if fragment.startswith(NAMESPACE + "."):
            package = "ansible_collections.onprem.exchange.plugins.doc_fragments"
            fragment = fragment[len(NAMESPACE) + 1:]
        else:  # ansible-core's own, e.g. action_common_attributes (attributes, options only if any)
            package = "ansible.plugins.doc_fragments"
            fragment = fragment.removeprefix("ansible.builtin.")
        frag_name, _dot, variant = fragment.partition(".")
        frag_module = importlib.import_module("%s.%s" % (package, frag_name))
        text = getattr(frag_module.ModuleDocFragment, (variant or "documentation").upper())
        for key, value in (yaml.safe_load(text).get("options") or {}).items():
            # ansible-doc lets the module's own entry win over the fragment's.
            options.setdefault(key, value)
    return options


def _spec(name):
    module = importlib.import_module("ansible_collections.onprem.exchange.plugins.action.%s" % name)
    return module.ARGUMENT_SPEC


def _compare(where, spec, doc, problems):
    for key in sorted(set(spec) - set(doc)):
        problems.append("%s.%s: in ARGUMENT_SPEC, not documented" % (where, key))
    for key in sorted(set(doc) - set(spec)):
        problems.append("%s.%s: documented, not in ARGUMENT_SPEC" % (where, key))
    for key in sorted(set(spec) & set(doc)):
        s, d = spec[key], doc[key] or {}
        path = "%s.%s" % (where, key)
        s_type, d_type = s.get("type", "str"), d.get("type", "str")
        if s_type != d_type:
            problems.append("%s: type %s in spec, %s in docs" % (path, s_type, d_type))
        if s_type == "list" or d_type == "list":
            if s.get("elements") != d.get("elements"):
                problems.append("%s: elements %s in spec, %s in docs" % (path, s.get("elements"), d.get("elements")))
        if bool(s.get("required")) != bool(d.get("required")):
            problems.append("%s: required %s in spec, %s in docs"
                            % (path, bool(s.get("required")), bool(d.get("required"))))
        if s.get("default") != d.get("default"):
            problems.append("%s: default %r in spec, %r in docs" % (path, s.get("default"), d.get("default")))
        s_choices, d_choices = s.get("choices"), d.get("choices")
        if (list(s_choices) if s_choices is not None else None) != d_choices:
            problems.append("%s: choices %r in spec, %r in docs" % (path, s_choices, d_choices))
        if sorted(s.get("aliases") or []) != sorted(d.get("aliases") or []):
            problems.append("%s: aliases %r in spec, %r in docs" % (path, s.get("aliases"), d.get("aliases")))
        if SECRET_NAME.search(key) and key not in NOT_SECRET and not s.get("no_log"):
            problems.append("%s: names a secret but the spec does not set no_log" % path)
        s_sub, d_sub = s.get("options"), d.get("suboptions")
        if s_sub is not None or d_sub is not None:
            _compare(path, s_sub or {}, d_sub or {}, problems)


def test_every_action_has_a_doc_stub_and_back():
    modules = sorted(os.path.splitext(os.path.basename(p))[0]
                     for p in glob.glob(os.path.join(REPO_ROOT, "plugins", "modules", "*.py"))
                     if not os.path.basename(p).startswith("_"))
    assert ACTIONS and ACTIONS == modules


@pytest.mark.parametrize("name", ACTIONS)
def test_argument_spec_matches_documentation(name):
    problems = []
    _compare(name, _spec(name), _documentation(name), problems)
    assert not problems, "\n".join(problems)


def test_the_comparison_sees_a_drift():
    """The checker itself: a wrong default, type, choice or missing no_log is found."""
    spec = {"a": {"type": "int", "default": 3}, "b": {"type": "str", "choices": ["x", "y"]},
            "api_token": {"type": "str"}, "c": {"type": "dict", "options": {"d": {"type": "bool"}}}}
    doc = {"a": {"type": "int", "default": 4}, "b": {"type": "str", "choices": ["x"]},
           "api_token": {"type": "str"}, "c": {"type": "dict", "suboptions": {"d": {"type": "str"}}}}
    problems = []
    _compare("m", spec, doc, problems)
    text = "\n".join(problems)
    assert "m.a: default 3" in text and "m.b: choices" in text
    assert "m.api_token: names a secret" in text and "m.c.d: type bool" in text
