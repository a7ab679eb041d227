"""Mitigation Service event texts: the published ones name their cause, however they are wrapped."""
from __future__ import annotations

import pytest
import yaml

from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_status import (
    EVENTS_PATH, REMEDIES, cause_from_event, is_disabled_notice, judge_check, judge_eems)

# Published texts, as the sources print them (see _data/eems_events.yml).
JUNE_2026 = ("An unexpected exception occurred. Diagnostic information: Exception encountered while fetching "
             "mitigations : This XML is not deemed safe to consume since Response xml's leaf certificate is from "
             "unknown issuer or has EKU mismatch")
JUNE_2026_AS_QUOTED = "...Response xml's leaf certificate is from unknown issuer or has EKU mismatch"
SIGNING = ("FetchMitigation,S:LogLevel=Error;'S:Message=Exception encountered while fetching mitigations : This XML "
           "is not deemed safe to consume since  Response xml''s signing cert is invalid or not from microsoft'; "
           "S:Source=Microsoft.Exchange.Mitigation.Service.Mitigations.MitigationEngine")
BLOG_2025 = "An unexpected exception occurred.\r\nDiagnostic information: Exception encountered while fetching mitigations."
PROXY = ("Exception encountered while fetching mitigations : System.AggregateException: One or more errors occurred. "
         "---> System.Net.Http.HttpRequestException: An error occurred while sending the request. "
         "---> System.Net.WebException: The underlying connection was closed: \r\n      Could not establish trust "
         "relationship for the SSL/TLS secure channel. \r\n---> System.Security.Authentication.AuthenticationException: "
         "\r\n      The remote certificate is invalid according to the validation procedure.")


@pytest.mark.parametrize("message, cause", [
    (JUNE_2026, "build_before_june_2026"),
    (JUNE_2026_AS_QUOTED, "build_before_june_2026"),
    # Wrapped by the event viewer, upper-cased by a mail gateway, a typographic apostrophe.
    (JUNE_2026.replace(" leaf certificate ", "\r\n   leaf  certificate\t"), "build_before_june_2026"),
    (JUNE_2026.upper().replace("'", "\u2019"), "build_before_june_2026"),
    (SIGNING, "signing_certificate_untrusted"),
    (SIGNING.replace("''", "'"), "signing_certificate_untrusted"),
    (PROXY, "tls_inspecting_proxy"),
    (BLOG_2025, "fetch_failed"),
    ("FetchMitigation,S:LogLevel=Warning;S:Message=Connection attempted against untrusted endpoint",
     "build_before_march_2023"),
    ("System.Net.WebException: Unable to connect to the remote server", "endpoint_unreachable"),
    ("Something nobody has seen before", "unknown_error"),
    ("", "unknown_error"),
])
def test_published_texts_name_their_cause(message, cause):
    assert cause_from_event(message) == cause


def test_bare_fetch_failure_on_a_build_before_march_2023_is_that_cutoff():
    assert cause_from_event(BLOG_2025, {"eems_fetch_ok": False}) == "build_before_march_2023"
    assert cause_from_event(BLOG_2025, {"eems_fetch_ok": True}) == "fetch_failed"


def test_every_sample_in_the_data_file_matches_its_own_cause():
    with open(EVENTS_PATH, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    for entry in data["causes"]:
        assert entry["cause"] in REMEDIES, entry["cause"]
        for sample in entry["samples"]:
            assert cause_from_event(sample["text"]) == entry["cause"], sample["text"]
            assert sample.get("source") or sample.get("confirmed") is False, "a sample without a source must say so"
    for sample in data["disabled_notice"]["samples"]:
        assert is_disabled_notice({"id": 1005, "message": sample["text"]})
        assert sample["confirmed"] is False  # no published text: it must stay marked so
    # An error text never reads as the notice, and the notice is only a 1005.
    assert not is_disabled_notice({"id": 1008, "message": data["disabled_notice"]["samples"][0]["text"]})


def _facts(message):
    return {"setup": {"exsetup_version": "15.02.1748.039"},
            "services": [{"name": "MSExchangeMitigation", "state": "Running", "start_mode": "Automatic"}],
            "mitigation_events": [{"id": 1008, "time": "2026-11-26T08:00:00Z", "message": message}],
            "exchange": {"organization_mitigations_enabled": True, "server_mitigations_enabled": True}}


def test_june_2026_event_gives_the_update_remedy():
    verdict = judge_eems(_facts(JUNE_2026), {"eems_fetch_ok": True})
    assert (verdict["status"], verdict["cause"]) == ("not_working", "build_before_june_2026")
    assert "June 2026" in verdict["remedy"]


def test_unrecognised_error_is_unknown_with_the_raw_text_and_a_remedy():
    raw = "An unexpected exception occurred. Diagnostic information: System.IO.IOException: disk full " + "x" * 5000
    verdict = judge_eems(_facts(raw), {"eems_fetch_ok": True, "eems_2026_ok": True})
    assert verdict["cause"] == "unknown_error"
    assert verdict["event_text"].startswith("An unexpected exception occurred. Diagnostic information: System.IO")
    assert len(verdict["event_text"]) == 4000
    assert "event_text" in verdict["remedy"]


def test_forced_check_recognises_the_real_june_2026_text():
    verdict = judge_check([{"id": 1008, "time": "t", "message": JUNE_2026}], checked_from="t0")
    assert verdict["cause"] == "build_before_june_2026"
    assert verdict["event_text"] == JUNE_2026
