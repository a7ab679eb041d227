"""scripts/build_manifest.py: the manifest update_stage verifies against."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._staging import manifest_index

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts", "build_manifest.py")
_spec = importlib.util.spec_from_file_location("build_manifest", _PATH)
build_manifest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_manifest)


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "ExchangeServer2019-x64-CU15.ISO").write_bytes(b"iso" * 1000)
    (tmp_path / "Exchange2019-KB5094139-x64-en.msp").write_bytes(b"msp")
    (tmp_path / "half.msp.partial").write_bytes(b"x")
    (tmp_path / ".hidden").write_bytes(b"x")
    return tmp_path


def test_manifest_lists_each_installer_with_size_and_sha256_and_update_stage_accepts_it(repo):
    assert build_manifest.main([str(repo)]) == 0
    manifest = json.loads((repo / "manifest.json").read_text())
    names = [f["name"] for f in manifest["files"]]
    assert names == ["Exchange2019-KB5094139-x64-en.msp", "ExchangeServer2019-x64-CU15.ISO"]
    iso = manifest["files"][1]
    assert iso["size"] == 3000 and iso["sha256"] == hashlib.sha256(b"iso" * 1000).hexdigest()
    assert set(manifest_index(manifest)) == {n.lower() for n in names}


def test_check_reports_a_stale_manifest(repo, capsys):
    build_manifest.main([str(repo)])
    assert build_manifest.main([str(repo), "--check"]) == 0
    (repo / "Exchange2019-KB5094139-x64-en.msp").write_bytes(b"replaced")
    assert build_manifest.main([str(repo), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
