"""update_stage action plugin with the host-call seam replaced."""
from __future__ import annotations

from unittest.mock import MagicMock

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.action import update_stage as plugin_module
from ansible_collections.onprem.exchange.plugins.modules import update_stage as doc_stub
from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_action

SHA = "c" * 64
MANIFEST = {"files": [{"name": "Exchange2019-KB1-x64-en.msp", "size": 100, "sha256": SHA}]}


class FakeHost:
    def __init__(self, staged=None, download_sha=SHA):
        self.staged = dict(staged or {})
        self.download_sha = download_sha
        self.calls = []

    def __call__(self, connection, operation, args):
        self.calls.append(operation)
        if operation == "Get-RepositoryManifest":
            return {"changed": False, "data": {"manifest": MANIFEST}, "steps": []}
        if operation == "Get-StagedFile":
            files = [dict(self.staged.get(f["staged_name"], {"exists": False}), staged_name=f["staged_name"])
                     for f in args["files"]]
            return {"changed": False, "data": {"free_disk_gb": 50.0, "files": files}, "steps": []}
        ok = self.download_sha == SHA
        seen = {"exists": ok, "size": 100, "sha256": self.download_sha, "signature_status": "Valid",
                "signer": "Microsoft Corporation", "path": "C:\\ExchangeUpdates\\" + args["staged_name"]}
        if ok:
            self.staged[args["staged_name"]] = seen
        return {"changed": True, "data": dict(seen, removed=not ok), "steps": []}


def _run(monkeypatch, host, args, check_mode=False):
    monkeypatch.setattr(_host_action, "run_host_operation", host)
    task = MagicMock(Task)
    task.args = dict({"repository_url": "https://repo.contoso.test/exchange/",
                      "installers": [{"name": "Exchange2019-KB1-x64-en.msp", "cu": "CU15"}]}, **args)
    task.check_mode = check_mode
    task.diff = True
    task.async_val = 0
    plugin = plugin_module.ActionModule(task=task, connection=MagicMock(), play_context=MagicMock(), loader=None,
                                        templar=None, shared_loader_obj=None)
    return plugin.run(task_vars={"inventory_hostname": "EX19C"})


def test_downloads_then_reads_back_and_a_second_run_does_nothing(monkeypatch):
    host = FakeHost()
    result = _run(monkeypatch, host, {})
    assert host.calls == ["Get-RepositoryManifest", "Get-StagedFile", "Invoke-PackageDownload", "Get-StagedFile"]
    assert result["changed"] is True
    assert result["staged"][0]["staged_name"] == "CU15-Exchange2019-KB1-x64-en.msp"
    assert result["staged"][0]["verified"] is True and result["staged"][0]["action"] == "downloaded"
    again = _run(monkeypatch, FakeHost(host.staged), {})
    assert again["changed"] is False and again["staged"][0]["action"] == "present"


def test_check_mode_sends_no_download(monkeypatch):
    host = FakeHost()
    result = _run(monkeypatch, host, {}, check_mode=True)
    assert "Invoke-PackageDownload" not in host.calls
    assert result["changed"] is True and result["staged"][0]["action"] == "would_download"
    assert result["diff"]["after"] == "CU15-Exchange2019-KB1-x64-en.msp\n"


def test_a_mismatching_download_fails_and_says_it_was_removed(monkeypatch):
    with pytest.raises(AnsibleActionFail, match="EX19C: Exchange2019-KB1-x64-en.msp from .* failed verification: "
                                                "SHA256 d{64} does not match .* was removed"):
        _run(monkeypatch, FakeHost(download_sha="d" * 64), {})


@pytest.mark.parametrize("args, message", [
    ({"staging_dir": "ExchangeUpdates"}, "staging_dir 'ExchangeUpdates' must be an absolute local folder"),
    ({"staging_dir": 'C:\\Ex"; rm'}, "must be an absolute local folder"),
    ({"repository_url": "ftp://x/"}, "repository_url 'ftp://x/' must be http"),
])
def test_bad_input_names_the_host_and_sends_nothing(monkeypatch, args, message):
    host = FakeHost()
    with pytest.raises(AnsibleActionFail, match=message):
        _run(monkeypatch, host, args)
    assert host.calls == []


def test_spec_matches_doc_stub():
    options = yaml.safe_load(doc_stub.DOCUMENTATION)["options"]
    assert set(options) == set(plugin_module.ARGUMENT_SPEC)
    for name, entry in plugin_module.ARGUMENT_SPEC.items():
        for key in ("type", "required", "choices", "default", "elements"):
            assert options[name].get(key, False if key == "required" else None) == entry.get(
                key, False if key == "required" else None), (name, key)
