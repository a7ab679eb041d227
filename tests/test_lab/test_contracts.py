"""The lab answers every host operation within its contract.

Every operation is sent through real WinRM to the lab, on every server of the
default fleet for the reads (with and without an EMS credential, so both the
"exchange" and the "ems.error" halves of an answer are seen) and in a
working sequence for the writes.  The raw JSON is checked against the
contract directly, so a failure lists every field that broke, not only the
first one the controller would stop at.
"""
from __future__ import annotations

import hashlib
import json
import urllib.request

import pytest
import yaml

from ansible_collections.onprem.exchange.plugins.plugin_utils import _contracts, _host_call
from lab.client import WinRMClient
from lab.fleet import DEFAULT_FLEET

SERVERS = ["EX13A", "EX16A", "EX16B", "EX16C", "EX19A", "EX19B", "EX19C", "EX19D", "EX19E", "EX19P", "EXSE1",
           "FBEX01"]
STAGING = "C:\\ExchangeStaging"


def _ems(lab, with_credential=True):
    credential = lab.state.data["lab"]["credential"]
    if not with_credential:
        return {"mode": "remote", "username": None, "password": None}
    return {"mode": "remote", "username": credential["username"], "password": credential["password"]}


def _answer(client, operation, args):
    """The raw answer (no controller checks), as the lab sent it."""
    rc, stdout, stderr = client.exec_command(_host_call.bootstrap_command(),
                                             in_data=_host_call.build_request(operation, args))
    assert rc == 0, stderr
    answer = json.loads(stdout)
    assert answer["ok"], (operation, answer.get("error"))
    return answer["data"]


def _conforms(operation, data, where):
    violation = _contracts.check_answer(operation, data)
    assert violation is None, "%s on %s: %s" % (operation, where, violation)


def _read_calls(lab):
    return [
        ("Get-HostIdentity", {"token": "t0k3n"}),
        ("Get-ExchangeFacts", {"ems": _ems(lab)}),
        ("Get-ExchangeFacts", {"ems": _ems(lab, False)}),
        ("Get-EemsState", {"ems": _ems(lab)}),
        ("Get-EemsState", {"ems": _ems(lab, False)}),
        ("Get-MaintenanceState", {"ems": _ems(lab)}),
        ("Get-ActiveDirectoryPrepState", {"ems": _ems(lab)}),
        ("Get-RewriteConfiguration", {}),
        ("Test-ExchangeInstallHealth", {"ems": _ems(lab)}),
        ("Test-ExchangeInstallHealth", {"ems": _ems(lab, False)}),
        ("Get-MitigationServiceEvent", {"since": "2020-01-01T00:00:00Z"}),
        ("Get-InstallerTaskState", {"staging_dir": STAGING, "tail_lines": 20}),
        ("Get-StagedFile", {"staging_dir": STAGING, "files": [{"staged_name": "ExchangeServerSE-x64.ISO",
                                                                 "size": 1}]}),
        ("Get-RepositoryManifest", {"repository": {"url": lab.repo_url}}),
        ("Test-ExchangePrerequisite", {"ems": _ems(lab), "cmdlets": ["Get-ExchangeServer", "Set-OrganizationConfig"],
                                       "endpoints": [{"name": "repository", "url": lab.repo_url + "manifest.json"},
                                                     {"name": "ocs", "url": lab.ocs_url}],
                                       "repository": {"url": lab.repo_url}}),
        ("Test-ExchangePrerequisite", {"ems": _ems(lab, False), "cmdlets": [], "endpoints": []}),
        # Nothing published there yet: found false, the rest null.
        ("Get-ReportFile", {"share": "\\\\files.lab.contoso.test\\reports", "folder": "none-yet",
                            "name": "report.json", "max_bytes": 1024}),
    ]


@pytest.mark.parametrize("name", SERVERS)
def test_every_read_on_every_server_answers_within_its_contract(default_lab, name):
    client = WinRMClient.for_lab(default_lab, name)
    try:
        for operation, args in _read_calls(default_lab):
            _conforms(operation, _answer(client, operation, args), name)
    finally:
        client.close()


def test_the_writes_answer_within_their_contracts(lab_factory):
    lab = lab_factory()
    ems = _ems(lab)
    credential = lab.state.data["lab"]["credential"]
    seen = set()
    with open(lab.repo_dir + "/manifest.json", encoding="utf-8") as handle:
        manifest = {f["name"]: f for f in json.load(handle)["files"]}
    su = "ExchangeSubscriptionEdition-KB5129955-x64-en.msp"
    msi = "rewrite_amd64_en-US.msi"
    with urllib.request.urlopen(lab.repo_url.rstrip("/") + "/" + msi) as response:
        assert hashlib.sha256(response.read()).hexdigest() == manifest[msi]["sha256"]
    signer = "CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond, S=Washington, C=US"
    rule = {"entry": "rule", "name": "contract test", "enabled": True, "pattern_syntax": "ECMAScript",
            "stop_processing": True, "match": {"url": ".*", "ignore_case": True, "negate": False},
            "logical_grouping": "MatchAll",
            "conditions": [{"input": "{REQUEST_URI}", "pattern": "contract", "ignore_case": True, "negate": False}],
            "action": {"type": "AbortRequest", "value": ""}, "precondition": ""}
    sequences = {
        "EX19B": [
            ("Enter-MaintenanceStep", {"ems": ems, "step": "drain_transport"}),
            ("Enter-MaintenanceStep", {"ems": ems, "step": "redirect_messages", "target": "EX19C.lab.contoso.test"}),
            ("Enter-MaintenanceStep", {"ems": ems, "step": "suspend_cluster_node"}),
            ("Enter-MaintenanceStep", {"ems": ems, "step": "block_activation"}),
            ("Enter-MaintenanceStep", {"ems": ems, "step": "server_offline"}),
            ("Exit-MaintenanceStep", {"ems": ems, "step": "server_online"}),
            ("Exit-MaintenanceStep", {"ems": ems, "step": "resume_cluster_node"}),
            ("Exit-MaintenanceStep", {"ems": ems, "step": "allow_activation", "activation_policy": "Unrestricted"}),
            ("Exit-MaintenanceStep", {"ems": ems, "step": "resume_transport"}),
        ],
        "EX19E": [
            ("Set-EemsOrganizationConfig", {"ems": ems, "mitigations_enabled": True}),
            ("Set-EemsServerConfig", {"ems": ems, "settings": {"mitigations_enabled": True,
                                                               "mitigations_blocked": ["M1.1"]}}),
            ("Set-MitigationServiceState", {"start_mode": "Automatic", "start": True, "restart": False}),
        ],
        "EX16C": [
            ("Install-UrlRewriteModule", {"repository_url": lab.repo_url, "package": msi, "min_version": "7.1",
                                          "signers": [signer]}),
            ("Set-RewriteRules", {"changes": [{"op": "add_rule", "path": "", "collection": "inbound", "rule": rule}],
                                  "reason": "contract test"}),
            ("Restore-RewriteConfiguration", {"backup": None}),
        ],
        "EXSE1": [
            ("Invoke-PackageDownload", {"repository": {"url": lab.repo_url}, "name": su, "staged_name": su,
                                        "staging_dir": STAGING, "size": manifest[su]["size"],
                                        "sha256": manifest[su]["sha256"],
                                        "allowed_signers": [signer, "Microsoft Corporation"]}),
            ("Start-InstallerTask", {"kind": "su", "installer_path": STAGING + "\\" + su, "staging_dir": STAGING,
                                     "licence": "diagnostic_data", "update": "KB5129955", "expected_build": "",
                                     "dotnet_release": None, "username": credential["username"],
                                     "password": credential["password"]}),
            ("Get-InstallerTaskState", {"staging_dir": STAGING, "tail_lines": 20}),
            ("Publish-ReportFile", {"share": "\\\\files.lab.contoso.test\\reports", "folder": "contracts",
                                    "name": "report.json", "content_base64": "eyJvayI6IHRydWV9"}),
            ("Get-ReportFile", {"share": "\\\\files.lab.contoso.test\\reports", "folder": "contracts",
                                "name": "report.json", "max_bytes": 1024}),
            ("Restart-HostComputer", {"reason": "contract test", "delay_seconds": 30}),
        ],
    }
    for name, calls in sequences.items():
        client = WinRMClient.for_lab(lab, name)
        try:
            for operation, args in calls:
                _conforms(operation, _answer(client, operation, args), name)
                seen.add(operation)
        finally:
            client.close()
    reads = {operation for operation, _ in _read_calls(lab)}
    # Every operation that has a contract was answered by the lab in one of the two tests.
    assert set(_contracts.default_contracts().operations) - reads - seen == set()



def test_rewrite_rules_in_application_host_config_answer_within_the_contract(lab_factory):
    """Rules in applicationHost.config's server-level section and at a location
    only it knows (no web.config there) come back in their own forms."""
    with open(DEFAULT_FLEET, encoding="utf-8") as handle:
        fleet = yaml.safe_load(handle)
    rule = {"site": "Default Web Site", "direction": "inbound", "input": "{REQUEST_URI}", "pattern": "autodiscover",
            "match_url": ".*", "action": "AbortRequest", "enabled": True}
    for server in fleet["servers"]:
        if server["name"] == "EX16A":
            server["rewrite_rules"] = [dict(rule, name="server level", path="", config="apphost-root"),
                                       dict(rule, name="proxy only", path="/Microsoft-Server-ActiveSync/Proxy",
                                            config="apphost")]
    lab = lab_factory(fleet)
    client = WinRMClient.for_lab(lab, "EX16A")
    try:
        rewrite = _answer(client, "Get-RewriteConfiguration", {})
        _conforms("Get-RewriteConfiguration", rewrite, "EX16A")
        _conforms("Get-ExchangeFacts", _answer(client, "Get-ExchangeFacts", {"ems": _ems(lab)}), "EX16A")
    finally:
        client.close()
    sources = {e["source"] for loc in rewrite["locations"] for e in loc["inbound"]}
    assert sources == {"apphost-root", "apphost"}
    assert any(loc["file"] is None for loc in rewrite["locations"])
