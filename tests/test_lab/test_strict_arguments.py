"""The lab fails a call the way a real host does when a script reads an
argument the request lacks: the bootstrap runs under Set-StrictMode -Version
2.0, where a bare $HostArgs.name read of an absent JSON key throws
PropertyNotFoundException instead of giving $null."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_call
from lab.client import WinRMClient
from lab.host import missing_strict_argument, strict_argument_reads


def test_bare_reads_are_found_outside_comments():
    text = ("# $HostArgs.commented\n$a = [string]$HostArgs.token\n$b = $HostArgs.repository.url\n"
            "$c = $HostArgs.PSObject.Properties['x']\n$d = Get-PropertyValue -InputObject $HostArgs -Name 'y'")
    reads = strict_argument_reads(text)
    assert reads == [("token", None), ("repository", "url")]
    assert missing_strict_argument(reads, {"token": None, "repository": {"url": "u"}}) is None
    assert missing_strict_argument(reads, {"repository": {"url": "u"}}) == "token"
    assert missing_strict_argument(reads, {"token": "t", "repository": {}}) == "url"


@pytest.fixture
def client(default_lab):
    connection = WinRMClient.for_lab(default_lab, "EXSE1")
    yield connection
    connection.close()


def test_a_missing_argument_fails_like_strict_mode(client):
    with pytest.raises(_host_call.HostCallError) as caught:
        _host_call.run_host_operation(client, "Get-HostIdentity", {})
    assert "The property 'token' cannot be found on this object" in str(caught.value)


def test_mitigation_events_need_only_the_time_the_controller_sends(client):
    # plugins/action/eems.py sends {"since": ...} alone; max_events is optional.
    answer = _host_call.run_host_operation(client, "Get-MitigationServiceEvent", {"since": "2026-11-26T00:00:00Z"})
    assert isinstance(answer["data"]["events"], list)
