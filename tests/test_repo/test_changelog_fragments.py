"""Every changelog fragment parses and uses the sections changelogs/config.yaml knows.

A fragment that does not parse breaks the release's changelog generation (and
ansible-test sanity's changelog and yamllint tests) long after it was written;
a plain YAML item with a ": " inside is the usual cause.
"""
from __future__ import annotations

import glob
import os

import pytest
import yaml

from labtools import REPO_ROOT

FRAGMENTS = sorted(glob.glob(os.path.join(REPO_ROOT, "changelogs", "fragments", "*.y*ml")))


def _sections():
    with open(os.path.join(REPO_ROOT, "changelogs", "config.yaml"), encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    return {name for name, _title in config["sections"]} | {"release_summary", "trivial"}


@pytest.mark.parametrize("path", FRAGMENTS, ids=os.path.basename)
def test_fragment_parses_into_known_sections_of_text_items(path):
    with open(path, encoding="utf-8") as handle:
        fragment = yaml.safe_load(handle)
    assert isinstance(fragment, dict) and fragment, path
    unknown = set(fragment) - _sections()
    assert not unknown, "%s: unknown sections %s" % (path, sorted(unknown))
    for section, entries in fragment.items():
        if section == "release_summary":
            assert isinstance(entries, str), path
            continue
        assert isinstance(entries, list), "%s: %s is not a list" % (path, section)
        for entry in entries:
            assert isinstance(entry, str), "%s: %s has a non-text item %r" % (path, section, entry)
