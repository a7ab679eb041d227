"""execution-environment.yml: ansible-builder accepts it and it holds what the collection needs."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

from labtools import REPO_ROOT


def _names(lines):
    return {re.split(r"[\[<>=!~; ]", line.strip(), maxsplit=1)[0].lower()
            for line in lines if line.strip() and not line.strip().startswith("#")}


@pytest.fixture(scope="module")
def definition():
    with open(os.path.join(REPO_ROOT, "execution-environment.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_python_requirements_match_the_collections_own(definition):
    with open(os.path.join(REPO_ROOT, "requirements.txt"), encoding="utf-8") as handle:
        runtime = _names(handle)
    assert _names(definition["dependencies"]["python"]) == runtime - {"ansible-core"}
    assert "pywinrm[kerberos]" in " ".join(definition["dependencies"]["python"])
    assert definition["dependencies"]["ansible_core"]["package_pip"].startswith("ansible-core")
    assert "galaxy" not in definition["dependencies"]  # the collection depends on no collection


def test_ansible_builder_create_writes_a_build_context(tmp_path):
    builder = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
    if not os.path.exists(builder):
        pytest.skip("ansible-builder is not installed in this environment")
    context = tmp_path / "context"
    result = subprocess.run([builder, "create", "-f", os.path.join(REPO_ROOT, "execution-environment.yml"),
                             "-c", str(context)], cwd=str(tmp_path), capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    recipe = (context / "Dockerfile").read_text(encoding="utf-8")
    assert "ansible-core>=2.19,<2.22" in recipe and "ansible-runner" in recipe
    assert "pywinrm[kerberos]" in (context / "_build" / "requirements.txt").read_text(encoding="utf-8")
    bindep = (context / "_build" / "bindep.txt").read_text(encoding="utf-8")
    assert "krb5-workstation [platform:rpm]" in bindep  # kinit for the winrm connection
