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


def _ansible_doc(plugin_type, names):
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run([binary, "-t", plugin_type, "--json"] + ["%s.%s" % (NAMESPACE, n) for n in names],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_there_are_modules_and_filters_to_check():
    assert "build_facts" in MODULES and "host_info" in MODULES
    assert "exchange_build" in FILTERS


# One ansible-doc call per module, so one broken stub fails alone, by name.
@pytest.mark.parametrize("name", MODULES)
def test_module_renders_with_examples_and_return_values(name):
    doc = _ansible_doc("module", [name]).get("%s.%s" % (NAMESPACE, name))
    assert doc, "ansible-doc did not render %s.%s" % (NAMESPACE, name)
    assert doc["doc"]["short_description"], name
    assert doc["doc"].get("description"), name
    assert (doc.get("examples") or "").strip(), "%s has no EXAMPLES" % name
    # Examples call the module by its full name, as the style guide asks.
    assert "%s.%s:" % (NAMESPACE, name) in doc["examples"], "%s EXAMPLES do not use the FQCN" % name
    assert doc.get("return"), "%s has no RETURN" % name
    for key, spec in doc["return"].items():
        assert spec.get("returned") and spec.get("type"), "%s RETURN %s lacks returned/type" % (name, key)


@pytest.mark.parametrize("name", MODULES)
def test_module_renders_as_text(name):
    """The plain `ansible-doc onprem.exchange.<module>` a person types."""
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PAGER="cat")
    result = subprocess.run([binary, "%s.%s" % (NAMESPACE, name)], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "EXAMPLES:" in result.stdout and "RETURN VALUES:" in result.stdout


@pytest.mark.parametrize("name", FILTERS)
def test_filter_renders_with_examples_and_return_values(name):
    doc = _ansible_doc("filter", [name]).get("%s.%s" % (NAMESPACE, name))
    assert doc, "ansible-doc did not render filter %s.%s" % (NAMESPACE, name)
    assert doc["doc"].get("short_description"), name
    assert (doc.get("examples") or "").strip(), "filter %s has no EXAMPLES" % name
    assert doc.get("return"), "filter %s has no RETURN" % name
