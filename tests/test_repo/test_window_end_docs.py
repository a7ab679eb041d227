"""Every example of the window's end the documentation gives is a form the role accepts.

The role (onprem.exchange.patch_window_end) accepts one form, the UTC
2026-11-28T06:00:00Z; docs once gave an offset the role refused.
"""
from __future__ import annotations

import glob
import os
import re

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._patch_window import WindowError, check_window_end

from labtools import REPO_ROOT

PLACES = ["README.md", "docs/*.md", "awx/*.yml", "playbooks/*.yml", "roles/*/defaults/*.yml",
          "roles/*/meta/*.yml", "roles/*/README.md", "examples/**/*.yml", "examples/**/*.md", "plugins/modules/*.py",
          "plugins/filter/*.yml", "changelogs/fragments/*.yml"]
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ][0-9:]+[^\s`'\")\],;]*")


def _lines_about_the_end():
    found = []
    for pattern in PLACES:
        for path in sorted(glob.glob(os.path.join(REPO_ROOT, pattern), recursive=True)):
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
            for number, line in enumerate(lines):
                # The line, or one of the three before it, speaks of the window's end.
                context = " ".join(lines[max(0, number - 3):number + 1])
                if re.search(r"window[_ ]end|end of the window|window's end", context, re.I):
                    for stamp in TIMESTAMP.findall(line):
                        found.append(("%s:%d" % (os.path.relpath(path, REPO_ROOT), number + 1), stamp.rstrip(".")))
    return found


def test_the_docs_give_examples_of_the_end():
    assert len(_lines_about_the_end()) >= 5


@pytest.mark.parametrize("where, stamp", _lines_about_the_end())
def test_each_example_of_the_end_is_accepted_by_the_role(where, stamp):
    try:
        check_window_end(stamp)
    except WindowError as err:
        pytest.fail("%s gives %s: %s" % (where, stamp, err))
