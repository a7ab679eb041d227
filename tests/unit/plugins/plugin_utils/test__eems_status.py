"""The EEMS judge: status and cause from facts a server reported."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_status import REMEDIES, judge_eems


def _facts(**overrides):
    facts = {
        "setup": {"exsetup_version": "15.02.1748.053"},
        "services": [{"name": "MSExchangeMitigation", "state": "Running", "start_mode": "Automatic"}],
        "mitigation_events": [{"id": 1005, "time": "2026-11-26T08:00:00Z", "message": "ok"}],
        "exchange": {"organization_mitigations_enabled": True, "server_mitigations_enabled": True,
                     "organization_name": "Contoso"},
        "ems": {"available": True},
    }
    facts.update(overrides)
    return facts


@pytest.mark.parametrize("facts, classification, status, cause", [
    (_facts(), {"eems_fetch_ok": True, "eems_2026_ok": True}, "working", None),
    (_facts(setup={"exsetup_version": "15.00.1497.048"}), {}, "not_applicable", "not_applicable"),
    (_facts(exchange={"organization_mitigations_enabled": False, "server_mitigations_enabled": True}), {},
     "disabled", "disabled_at_organization"),
    (_facts(exchange={"organization_mitigations_enabled": True, "server_mitigations_enabled": False}), {},
     "disabled", "disabled_at_server"),
    (_facts(services=[{"name": "MSExchangeMitigation", "state": "Stopped", "start_mode": "Disabled"}]), {},
     "not_working", "service_not_running"),
    (_facts(services=[{"name": "MSExchangeMitigation", "state": "Stopped", "start_mode": "Disabled"}],
            setup_watermark={"watermark": "MailboxRole: ServiceControlTask"}), {},
     "not_working", "setup_incomplete"),
    # Flags on, service running, a success event long ago - but the build cannot fetch any more.
    (_facts(), {"eems_fetch_ok": False, "build": "15.1.2375.37"}, "not_working", "build_before_march_2023"),
    (_facts(), {"eems_fetch_ok": True, "eems_2026_ok": False}, "not_working", "build_before_june_2026"),
    (_facts(mitigation_events=[{"id": 1008, "time": "t",
                                "message": "Could not establish trust relationship for the SSL/TLS secure channel."}]),
     {},
     "not_working", "tls_inspecting_proxy"),
    (_facts(exchange=None, ems={"error": "0x80090311"}), {"eems_fetch_ok": True, "eems_2026_ok": True},
     "unknown", "exchange_cmdlets_unavailable"),
    (_facts(mitigation_events=[]), {"eems_fetch_ok": True, "eems_2026_ok": True}, "unknown", "no_evidence"),
])
def test_verdicts(facts, classification, status, cause):
    verdict = judge_eems(facts, classification)
    assert (verdict["status"], verdict["cause"]) == (status, cause)
    if cause:
        assert verdict["remedy"] == REMEDIES[cause]
