"""Shared pytest fixtures: in-process labs.  Helpers live in labtools.py."""
from __future__ import annotations

import pytest

from labtools import (  # noqa: F401  (re-exported for older imports)
    COLLECTIONS_DIR, REPO_ROOT, TESTS_DIR, run_playbook, start_lab, write_inventory,
)


# Folders whose tests start a lab or run real playbooks: marked "lab" so
# `pytest -m "not lab"` is a fast loop of unit and repository tests.
_LAB_FOLDERS = ("test_lab", "test_playbooks", "test_faults", "test_awx")
_LAB_FIXTURES = {"lab_factory", "default_lab"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = item.path.parts
        if any(folder in parts for folder in _LAB_FOLDERS) or _LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.lab)


@pytest.fixture
def lab_factory(tmp_path):
    """Start labs on demand; every lab started is stopped at teardown."""
    labs = []

    def factory(fleet=None, state_dir=None, **kwargs):
        lab = start_lab(state_dir or tmp_path / ("lab%d" % len(labs)), fleet, **kwargs)
        labs.append(lab)
        return lab

    yield factory
    for lab in labs:
        lab.stop()


@pytest.fixture(scope="module")
def default_lab(tmp_path_factory):
    """The default fleet, shared by a module's read-only tests."""
    lab = start_lab(tmp_path_factory.mktemp("default-lab"))
    yield lab
    lab.stop()
