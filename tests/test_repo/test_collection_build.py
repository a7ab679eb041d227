"""The built collection artifact ships the collection and nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

# Cheap and sensitive to the ansible-core version, so also part of the
# Python 3.11 + ansible-core 2.19 smoke run.
pytestmark = pytest.mark.smoke

REPO_ROOT = Path(__file__).resolve().parents[2]

# Use the ansible-galaxy of the venv running the tests, not whichever one is
# on PATH. sys.executable is not resolved: a venv's python is a symlink.
ANSIBLE_GALAXY = Path(sys.executable).parent / "ansible-galaxy"

# Developer-only paths (galaxy.yml's build_ignore says why). Each one gets a
# decoy in the build copy below, so the test checks the ignore rules even
# for paths a given checkout does not have.
MUST_NOT_SHIP = [
    "tests/unit/test_decoy.py",
    ".collections/ansible_collections/decoy.txt",
    "ansible.cfg",
    "inventory/decoy.yml",
    "benchmarks/decoy.py",
    ".venv/bin/decoy",
    ".venv312/bin/decoy",
    "Makefile",
    ".ci/decoy",
    "scripts/decoy.sh",
    "pytest.ini",
    "ruff.toml",
    ".lab/decoy.json",
    ".pytest_cache/decoy",
    "reports/decoy.html",
    "plugins/plugin_utils/__pycache__/decoy.cpython-312.pyc",
]

# Skipped when copying the checkout: large or machine-local, and the decoys
# above stand in for them.
_COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv*", ".lab", ".pytest_cache", "reports", "__pycache__", "*.tar.gz"
)


def _top_level(member: str) -> str:
    return member.removeprefix("./").split("/", 1)[0]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> dict:
    if not ANSIBLE_GALAXY.exists():
        pytest.skip(f"no ansible-galaxy next to {sys.executable}")
    src = tmp_path_factory.mktemp("src") / "exchange"
    # symlinks=True keeps .collections/…/exchange a link, as in a checkout.
    shutil.copytree(REPO_ROOT, src, symlinks=True, ignore=_COPY_IGNORE)
    for rel in MUST_NOT_SHIP:
        path = src / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("decoy\n")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [str(ANSIBLE_GALAXY), "collection", "build", "--output-path", str(out), str(src)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [tarball] = out.glob("*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = {m.name.removeprefix("./").rstrip("/") for m in tar.getmembers()}
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    return {"tarball": tarball, "names": names, "manifest": manifest}


def test_artifact_has_galaxy_metadata(artifact):
    galaxy = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
    info = artifact["manifest"]["collection_info"]
    assert {"MANIFEST.json", "FILES.json"} <= artifact["names"]
    assert (info["namespace"], info["name"], info["version"]) == (
        galaxy["namespace"],
        galaxy["name"],
        galaxy["version"],
    )
    assert (
        artifact["tarball"].name
        == f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz"
    )


def test_artifact_has_collection_content(artifact):
    names = artifact["names"]
    assert "meta/runtime.yml" in names
    assert "plugins" in names
    assert any(n.startswith("plugins/") and n.endswith(".py") for n in names)


@pytest.mark.parametrize("rel", MUST_NOT_SHIP)
def test_artifact_excludes_developer_paths(artifact, rel):
    names = artifact["names"]
    top = _top_level(rel)
    if top in ("plugins",):
        # Inside shipped folders, only the file itself must be absent.
        assert rel not in names
    else:
        assert not [n for n in names if _top_level(n) == top], f"{top} shipped"


def test_artifact_excludes_every_venv(artifact):
    assert not [n for n in artifact["names"] if _top_level(n).startswith(".venv")]


def test_requires_ansible_admits_running_core():
    # packaging is an ansible-core dependency, so it is always importable here.
    from ansible.release import __version__ as core_version
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    runtime = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())
    spec = SpecifierSet(runtime["requires_ansible"])
    assert spec.contains(
        Version(core_version), prereleases=True
    ), f"meta/runtime.yml requires_ansible {spec} rejects ansible-core {core_version}"


def test_artifact_ships_the_license_and_its_links(artifact):
    info = artifact["manifest"]["collection_info"]
    assert "LICENSE" in artifact["names"]
    assert info["license"] == ["GPL-3.0-or-later"]
    assert (REPO_ROOT / "LICENSE").read_text().startswith("                    GNU GENERAL PUBLIC LICENSE\n"
                                                          "                       Version 3, 29 June 2007")
    for key in ("repository", "documentation", "issues", "homepage"):
        assert (info.get(key) or "").startswith("https://"), key
