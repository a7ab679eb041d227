"""ansible-doc renders every module and filter with examples and return values.

Runs the real ansible-doc of this environment over the checkout (the
collection resolves through ansible.cfg's collections_path), so a module
added without EXAMPLES or RETURN, or with docs that do not parse, fails here
by name.
"""
from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys

import pytest

from labtools import REPO_ROOT

NAMESPACE = "onprem.exchange"


def _names(pattern):
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(REPO_ROOT, pattern))
                  if not os.path.basename(p).startswith("__"))


MODULES = _names("plugins/modules/*.py")
FILTERS = _names("plugins/filter/*.yml")


def _run_ansible_doc(*args):
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PAGER="cat")
    return subprocess.run([binary, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


# One ansible-doc call per plugin type and output form (each call costs about
# a second of start-up). ansible-doc stops at the first plugin whose docs do
# not parse, so when that call fails every plugin is asked again alone: each
# still fails alone, by name, with what ansible-doc said.
def _each(names, run_one, run_all):
    """{name: (what ansible-doc gave for it, its warnings)} from one call over ``names``, or one call each when that fails."""
    result, per_name = run_all(names)
    if result.returncode == 0:
        return {n: (per_name.get(n), result.stderr[-3000:]) for n in names}
    return {n: (run_one(n), "") for n in names}


def _json_docs(plugin_type, names):
    def run_all(batch):
        result = _run_ansible_doc("-t", plugin_type, "--json", *("%s.%s" % (NAMESPACE, n) for n in batch))
        docs = json.loads(result.stdout) if result.returncode == 0 else {}
        return result, {n: docs.get("%s.%s" % (NAMESPACE, n)) for n in batch}

    def run_one(name):
        result, docs = run_all([name])
        return docs[name] if result.returncode == 0 else "ansible-doc failed: " + result.stderr[-3000:]
    return _each(names, run_one, run_all)


def _text_docs(names):
    def run_all(batch):
        result = _run_ansible_doc(*("%s.%s" % (NAMESPACE, n) for n in batch))
        parts = re.split(r"^> MODULE %s\.(\w+) " % re.escape(NAMESPACE), result.stdout, flags=re.M)
        return result, dict(zip(parts[1::2], parts[2::2]))

    def run_one(name):
        result, texts = run_all([name])
        return texts.get(name) if result.returncode == 0 else "ansible-doc failed: " + result.stderr[-3000:]
    return _each(names, run_one, run_all)


@pytest.fixture(scope="module")
def module_docs():
    return _json_docs("module", MODULES)


@pytest.fixture(scope="module")
def filter_docs():
    return _json_docs("filter", FILTERS)


@pytest.fixture(scope="module")
def module_texts():
    """{module: its part of the plain `ansible-doc onprem.exchange.<module>...` text}."""
    return _text_docs(MODULES)


def _rendered(docs, name):
    doc, errors = docs[name]
    assert doc and not isinstance(doc, str), "ansible-doc did not render %s.%s: %s" % (NAMESPACE, name, doc or errors)
    return doc


def test_there_are_modules_and_filters_to_check():
    assert "build_facts" in MODULES and "host_info" in MODULES
    assert "exchange_build" in FILTERS


@pytest.mark.parametrize("name", MODULES)
def test_module_renders_with_examples_and_return_values(name, module_docs):
    doc = _rendered(module_docs, name)
    assert doc["doc"]["short_description"], name
    assert doc["doc"].get("description"), name
    assert (doc.get("examples") or "").strip(), "%s has no EXAMPLES" % name
    # Examples call the module by its full name, as the style guide asks.
    assert "%s.%s:" % (NAMESPACE, name) in doc["examples"], "%s EXAMPLES do not use the FQCN" % name
    assert doc.get("return"), "%s has no RETURN" % name
    for key, spec in doc["return"].items():
        assert spec.get("returned") and spec.get("type"), "%s RETURN %s lacks returned/type" % (name, key)


@pytest.mark.parametrize("name", MODULES)
def test_module_renders_as_text(name, module_texts):
    """The plain `ansible-doc onprem.exchange.<module>` a person types."""
    text, errors = module_texts[name]
    assert text, "ansible-doc printed no text for %s.%s: %s" % (NAMESPACE, name, errors)
    assert "EXAMPLES:" in text and "RETURN VALUES:" in text, text[-2000:]


@pytest.mark.parametrize("name", FILTERS)
def test_filter_renders_with_examples_and_return_values(name, filter_docs):
    doc = _rendered(filter_docs, name)
    assert doc["doc"].get("short_description"), name
    assert (doc.get("examples") or "").strip(), "filter %s has no EXAMPLES" % name
    assert doc.get("return"), "filter %s has no RETURN" % name
