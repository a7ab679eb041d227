"""_staging: what to stage, under which name, and whether a staged file is trusted."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._staging import (
    GIB, StagingInputError, default_min_free_gb, judge_file, manifest_index, staged_name, staging_plan,
    wanted_from_list, wanted_from_plan)

SHA_A = "a" * 64
SHA_B = "b" * 64
CU_OF = {"15.2.1748.10": "CU15", "15.2.1544.37": "CU14", "15.2.2562.53": "RTM"}.get


def _step(order, action, installer, to_build=None, update=None):
    return {"order": order, "action": action, "installer": installer, "to_build": to_build, "update": update}


@pytest.mark.parametrize("name, cu, expected", [
    ("Exchange2019-KB5094139-x64-en.msp", "CU14", "CU14-Exchange2019-KB5094139-x64-en.msp"),
    ("Exchange2019-KB5094139-x64-en.msp", None, "Exchange2019-KB5094139-x64-en.msp"),
    ("CU14-Exchange2019-KB5094139-x64-en.msp", "CU14", "CU14-Exchange2019-KB5094139-x64-en.msp"),
    ("ExchangeSubscriptionEdition-KB5129955-x64-en.msp", "RTM", "RTM-ExchangeSubscriptionEdition-KB5129955-x64-en.msp"),
])
def test_staged_name_carries_the_cu_of_an_su(name, cu, expected):
    assert staged_name(name, cu) == expected


@pytest.mark.parametrize("bad", ["..\\evil.msp", "a/b.msp", "C:evil.msp", "", ".hidden", "x\x00.msp", "a*b.iso"])
def test_names_that_could_leave_the_staging_folder_are_refused(bad):
    with pytest.raises(StagingInputError):
        staged_name(bad)


def test_plan_stages_every_installer_step_in_order_and_sus_carry_their_cu():
    plan = {"steps": [
        _step(1, "reboot", None),
        _step(2, "install_cu", "ExchangeServer2019-x64-CU15.ISO", "15.2.1748.10", "CU15"),
        _step(3, "reboot", None),
        _step(4, "upgrade_to_se", "ExchangeServerSE-x64.iso", "15.2.2562.17", "RTM"),
        _step(5, "install_su", "ExchangeSubscriptionEdition-KB5129955-x64-en.msp", "15.2.2562.53", "Sep26SUv2"),
    ]}
    wanted = wanted_from_plan(plan, CU_OF)
    assert [(w["staged_name"], w["step"]) for w in wanted] == [
        ("ExchangeServer2019-x64-CU15.ISO", 2), ("ExchangeServerSE-x64.iso", 4),
        ("RTM-ExchangeSubscriptionEdition-KB5129955-x64-en.msp", 5)]


def test_the_same_kb_file_for_two_cus_is_staged_twice():
    plan = {"steps": [_step(1, "install_su", "Exchange2019-KB1-x64-en.msp", "15.2.1544.37"),
                      _step(2, "install_su", "Exchange2019-KB1-x64-en.msp", "15.2.1748.10")]}
    assert [w["staged_name"] for w in wanted_from_plan(plan, CU_OF)] == [
        "CU14-Exchange2019-KB1-x64-en.msp", "CU15-Exchange2019-KB1-x64-en.msp"]


@pytest.mark.parametrize("plan, message", [
    ({"steps": [_step(1, "install_su", None, "15.2.1748.10", "Oct25SU")]}, "step 1 (install_su Oct25SU) names no installer"),
    ({"steps": [_step(1, "install_su", "x.msp", "15.2.9999.1")]}, "the CU of build 15.2.9999.1 is unknown"),
    ({"nope": 1}, "must be the 'plan' returned by onprem.exchange.build_facts"),
])
def test_a_plan_that_cannot_be_staged_says_why(plan, message):
    with pytest.raises(StagingInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        wanted_from_plan(plan, CU_OF)


def test_installer_list_accepts_names_and_name_with_cu():
    wanted = wanted_from_list(["a.iso", {"name": "b.msp", "cu": "CU15"}, "A.ISO"])
    assert [w["staged_name"] for w in wanted] == ["a.iso", "CU15-b.msp"]


@pytest.mark.parametrize("manifest, message", [
    ({}, "no 'files' list"),
    ({"files": [{"name": "a.iso", "size": -1, "sha256": SHA_A}]}, "expected a byte count"),
    ({"files": [{"name": "a.iso", "size": 1, "sha256": "zz"}]}, "expected 64 hex digits"),
    ({"files": [{"name": "..\\a.iso", "size": 1, "sha256": SHA_A}]}, "not a plain file name"),
])
def test_a_broken_manifest_is_refused(manifest, message):
    with pytest.raises(StagingInputError, match=message):
        manifest_index(manifest)


EXPECTED = {"name": "a.iso", "size": 100, "sha256": SHA_A}
GOOD = {"exists": True, "size": 100, "sha256": SHA_A, "signature_status": "Valid", "signer": "Microsoft Corporation"}


@pytest.mark.parametrize("observed, verified, reason", [
    (GOOD, True, None),
    (dict(GOOD, signer="microsoft corporation"), True, None),
    (None, False, "not staged"),
    (dict(GOOD, exists=False), False, "not staged"),
    (dict(GOOD, size=99), False, "size 99 bytes, the manifest says 100"),
    (dict(GOOD, sha256=SHA_B), False, "SHA256 %s does not match the manifest's %s" % (SHA_B, SHA_A)),
    (dict(GOOD, sha256=None), False, "SHA256 not computed does not match"),
    (dict(GOOD, signature_status="NotSigned"), False, "Authenticode signature is NotSigned, not Valid"),
    (dict(GOOD, signature_status="HashMismatch"), False, "Authenticode signature is HashMismatch"),
    (dict(GOOD, signer="Contoso Ltd"), False, "signed by 'Contoso Ltd', not by 'Microsoft Corporation'"),
])
def test_judge_file(observed, verified, reason):
    got_verified, got_reason = judge_file(EXPECTED, observed)
    assert got_verified is verified
    assert (got_reason or "").startswith(reason or "")


def test_staging_plan_downloads_only_what_is_missing_or_wrong_and_checks_disk():
    manifest = {"a.iso": EXPECTED, "b.msp": {"name": "b.msp", "size": 2 * GIB, "sha256": SHA_B}}
    wanted = wanted_from_list(["a.iso", "b.msp", "c.msp"])
    decision = staging_plan(wanted, manifest, {"a.iso": dict(GOOD, path="C:\\x\\a.iso")}, 40.0, 30.0)
    assert [i["action"] for i in decision["items"]] == ["present", "download"]
    assert decision["missing"] == ["c.msp"]
    assert decision["disk"] == {"free_gb": 40.0, "needed_gb": 32.0, "min_free_gb": 30.0, "download_gb": 2.0,
                                "ok": True}
    assert staging_plan(wanted, manifest, {}, 31.0, 30.0)["disk"]["ok"] is False
    # Nothing to download: a full disk does not matter.
    assert staging_plan(wanted[:1], manifest, {"a.iso": GOOD}, 0.0, 30.0)["disk"]["ok"] is True


@pytest.mark.parametrize("names, expected", [(["a.iso", "b.msp"], 30.0), (["b.msp"], 10.0), (["c.ISO"], 30.0)])
def test_default_free_disk_depends_on_a_disk_image(names, expected):
    assert default_min_free_gb(wanted_from_list(names)) == expected
