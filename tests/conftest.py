"""Shared pytest fixtures: in-process labs.  Helpers live in labtools.py."""
from __future__ import annotations

import os

import pytest

from labtools import (  # noqa: F401  (re-exported for older imports)
    COLLECTIONS_DIR, REPO_ROOT, TESTS_DIR, run_playbook, start_lab, write_inventory,
)


# Folders whose tests start a lab or run real playbooks: marked "lab" so
# `pytest -m "not lab"` is a fast loop of unit and repository tests.
_LAB_FOLDERS = ("test_lab", "test_playbooks", "test_faults", "test_awx")
_LAB_FIXTURES = {"lab_factory", "default_lab"}


# Under pytest-xdist, workers take tests in collection order, so the longest
# ones go first (fault matrix cases run three playbooks each, then the other
# lab folders) and the short unit and repository tests fill the workers at
# the end, instead of a few long lab tests running alone at the tail.
_XDIST_ORDER = ("test_faults", "test_playbooks", "test_awx", "test_lab")


def _xdist_rank(item):
    parts = item.path.parts
    return next((rank for rank, folder in enumerate(_XDIST_ORDER) if folder in parts), len(_XDIST_ORDER))


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = item.path.parts
        if any(folder in parts for folder in _LAB_FOLDERS) or _LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.lab)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_xdist_rank)  # stable: the order within a folder stays


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
