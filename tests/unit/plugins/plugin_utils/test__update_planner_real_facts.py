"""Planner facts that hold on real servers (issue 11 item 7, issue 13 choices).

Each test names the published fact it checks; each failed on the code before
this change (SE only from CU15, exact-key OS lookup, the old .NET table,
plans marked reachable whose first step could not run, eems = smallest).
"""
from __future__ import annotations

import copy
import datetime

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import Catalog, load_catalog
from ansible_collections.onprem.exchange.plugins.plugin_utils._update_planner import (
    PlanInputError,
    check_target,
    plan_update,
)

TODAY = datetime.date(2026, 11, 26)
NET472, NET48 = 461808, 528040


def facts(build, os_name, dotnet=NET48, **extra):
    data = {"build": build, "dotnet_release": dotnet, "pending_reboot": False, "setup_watermark": None,
            "free_disk_gb": 120.0, "os": os_name, "roles": ["Mailbox"]}
    data.update(extra)
    return data


def run(build, os_name, target="latest", esu=False, media=None, catalog=None, **extra):
    policy = {"target": target, "esu_enrolled": esu}
    if media is not None:
        policy["available_media"] = media
    return plan_update(facts(build, os_name, **extra), policy, today=TODAY, catalog=catalog)


def installs(result):
    return [(s["action"], s["update"]) for s in result["steps"] if s["action"] != "reboot"]


def ids(result):
    return {f["id"] for f in result["findings"]}


# -- Exchange SE upgrades in place from 2019 CU14 or CU15 ----------------------------
# Microsoft Learn "Upgrade to Exchange Server SE": in-place upgrade from 2019 CU14 or CU15.

def test_2019_cu14_upgrades_to_se_without_a_cu15_first():
    result = run("15.2.1544.36", "Windows Server 2019")          # 2019 CU14 Oct25SU
    assert installs(result)[0] == ("upgrade_to_se", "RTM")
    assert "CU15" not in [s["update"] for s in result["steps"]]
    assert result["target"]["product"] == "Exchange SE" and result["reachable"] is True
    assert "Exchange 2019 -> Exchange SE" in result["steps"][0]["reason"]


def test_2019_below_cu14_still_goes_through_the_newest_gate_cu():
    result = run("15.2.1118.26", "Windows Server 2019")          # CU12 Mar23SU
    assert installs(result)[:2] == [("install_cu", "CU15"), ("upgrade_to_se", "RTM")]


# -- The OS arrives as a WMI caption -------------------------------------------------

@pytest.mark.parametrize("caption, version, expected", [
    ("Microsoft Windows Server 2019 Datacenter", None, "Windows Server 2019"),
    ("Windows Server 2016 Standard", None, "Windows Server 2016"),
    ("Microsoft Windows Server 2012 R2 Standard", None, "Windows Server 2012 R2"),
    ("Windows Server 2022 Datacenter", None, "Windows Server 2022"),
    ("Microsoft Windows Server 2025 Datacenter Evaluation", None, "Windows Server 2025"),
    ("Windows Server 2019", None, "Windows Server 2019"),
    (None, "10.0.14393", "Windows Server 2016"),
    ("Microsoft Windows Server Datacenter", "10.0.17763", "Windows Server 2019"),
    (None, "10.0.20348.2849", "Windows Server 2022"),
    (None, "10.0.26100", "Windows Server 2025"),
    (None, "6.3.9600", "Windows Server 2012 R2"),
    ("Microsoft Windows 11 Pro", "10.0.22631", None),
    (None, None, None),
])
def test_os_caption_and_version_are_normalised(caption, version, expected):
    assert load_catalog().normalise_os(caption, version) == expected


@pytest.mark.parametrize("caption, version, dotnet", [
    ("Microsoft Windows Server 2019 Datacenter", "10.0.17763", "4.8"),
    ("Windows Server 2019 Standard", None, "4.8"),
    (None, "10.0.17763", "4.8"),
    ("Microsoft Windows Server 2022 Datacenter", "10.0.20348", "4.8.1"),
])
def test_dotnet_chosen_for_the_real_os(caption, version, dotnet):
    # 2019 CU12 on .NET 4.7.2 going to CU14 (ESU) needs .NET first; Server 2019
    # cannot have 4.8.1 (dotnet/docs versions-and-dependencies).
    result = plan_update(facts("15.2.1118.26", caption, dotnet=NET472, os_version=version),
                         {"target": "15.2.1544.41", "esu_enrolled": True}, today=TODAY)
    assert installs(result)[0] == ("install_dotnet", ".NET Framework %s" % dotnet)
    assert result["reachable"] is True


def test_an_unrecognised_os_is_said_and_the_safest_dotnet_is_chosen():
    result = plan_update(facts("15.2.1118.26", "Windows Server Vnext", dotnet=NET472),
                         {"target": "15.2.1544.41", "esu_enrolled": True}, today=TODAY)
    assert "os_unrecognised" in ids(result)
    assert installs(result)[0] == ("install_dotnet", ".NET Framework 4.8")


# -- The .NET table (Learn supportability matrix) --------------------------------------

@pytest.mark.parametrize("product, cu, supported", [
    ("Exchange 2013", "CU21", ["4.7.1", "4.7.2"]),
    ("Exchange 2013", "CU22", ["4.7.1", "4.7.2"]),
    ("Exchange 2013", "CU23", ["4.7.2", "4.8"]),
    ("Exchange 2016", "CU10", ["4.7.1"]),
    ("Exchange 2016", "CU11", ["4.7.1", "4.7.2"]),
    ("Exchange 2016", "CU12", ["4.7.1", "4.7.2"]),
    ("Exchange 2016", "CU13", ["4.7.2", "4.8"]),
    ("Exchange 2016", "CU23", ["4.8"]),
    ("Exchange 2019", "CU1", ["4.7.2"]),
    ("Exchange 2019", "CU3", ["4.7.2", "4.8"]),
    ("Exchange 2019", "CU10", ["4.8"]),
])
def test_dotnet_table_matches_the_supportability_matrix(product, cu, supported):
    assert load_catalog().dotnet_requirement(product, cu)["supported"] == supported


@pytest.mark.parametrize("os_name", ["Windows Server 2016", "Windows Server 2019"])
def test_dotnet_481_is_never_installable_on_2016_or_2019(os_name):
    catalog = load_catalog()
    for product, cu in (("Exchange 2019", "CU14"), ("Exchange 2019", "CU15"), ("Exchange SE", "RTM")):
        need = catalog.dotnet_requirement(product, cu, os_name)
        assert "4.8.1" not in need["installable"] and need["recommended"] == "4.8"


def test_2013_cu21_on_472_goes_to_cu23_without_a_dotnet_change():
    result = run("15.0.1395.12", "Microsoft Windows Server 2012 R2 Standard", dotnet=NET472)
    assert installs(result) == [("install_cu", "CU23"), ("install_su", "Mar23SU")]


def test_2016_cu10_on_471_installs_48_before_cu23_the_documented_way():
    # CU10 supports only 4.7.1 and CU23 only 4.8; no offered CU bridges them.
    result = run("15.1.1531.3", "Windows Server 2016", dotnet=461308)
    assert installs(result)[:2] == [("install_dotnet", ".NET Framework 4.8"), ("install_cu", "CU23")]
    assert "dotnet_then_cu_directly" in ids(result)
    assert result["reachable"] is True


def test_2016_cu12_bridges_through_cu14_only_when_the_repository_holds_it():
    without = run("15.1.1713.5", "Windows Server 2016", dotnet=NET472)
    assert installs(without)[:2] == [("install_dotnet", ".NET Framework 4.8"), ("install_cu", "CU23")]
    warning = [f for f in without["findings"] if f["id"] == "dotnet_then_cu_directly"][0]
    assert "ExchangeServer2016-x64-CU14.iso" in warning["message"]
    with_media = run("15.1.1713.5", "Windows Server 2016", dotnet=NET472, media=["exchangeserver2016-x64-cu14.iso"])
    assert installs(with_media)[:3] == [
        ("install_cu", "CU14"), ("install_dotnet", ".NET Framework 4.8"), ("install_cu", "CU23")]
    assert "dotnet_then_cu_directly" not in ids(with_media)


# -- Never reachable when a step cannot run --------------------------------------------

def test_a_cu_the_os_does_not_support_is_not_planned():
    # Exchange 2016 CU23 runs on Server 2012, 2012 R2 and 2016 only.
    result = run("15.1.2375.7", "Microsoft Windows Server 2019 Datacenter")
    assert result["reachable"] is False
    assert installs(result) == []
    finding = [f for f in result["findings"] if f["id"] == "os_not_supported"][0]
    assert "Exchange 2016 CU23" in finding["message"] and "Windows Server 2019" in finding["message"]
    assert "stopped before Exchange 2016 CU23" in result["target"]["description"]


def test_a_dotnet_the_os_cannot_have_stops_the_plan():
    data = copy.deepcopy(load_catalog().data)
    for rule in data["dotnet"]["requirements"]:
        if rule["product"] == "Exchange SE":
            rule.update(supported=["4.8.1"], recommended="4.8.1")
    result = run("15.2.1748.46", "Windows Server 2019", catalog=Catalog(data))
    assert result["reachable"] is False
    assert "dotnet_not_installable" in ids(result)
    assert not [s for s in result["steps"] if s["action"] == "install_dotnet"]


# -- CU media Microsoft no longer offers --------------------------------------------

def test_a_target_on_withdrawn_media_names_the_missing_file():
    result = run("15.1.1713.5", "Windows Server 2016", target="15.1.2375.7")   # 2016 CU12 -> CU22
    assert result["reachable"] is False and installs(result) == []
    missing = [f for f in result["findings"] if f["id"] == "media_missing"][0]
    assert "ExchangeServer2016-x64-CU22.iso" in missing["message"]
    held = run("15.1.1713.5", "Windows Server 2016", target="15.1.2375.7", media=["ExchangeServer2016-x64-CU22.iso"])
    assert held["reachable"] is True and ("install_cu", "CU22") in installs(held)


def test_every_reachable_plan_uses_offered_or_held_media_only():
    catalog = load_catalog()
    offered = catalog.data["installers"]["cu_offered"]
    for entry in catalog.entries:
        if entry.product == "Exchange 2013" or not entry.is_release:
            continue
        os_name = {"Exchange 2016": "Windows Server 2016"}.get(entry.product, "Windows Server 2019")
        result = run(str(entry.build), os_name)
        for step in result["steps"]:
            if step["action"] in ("install_cu", "upgrade_to_se"):
                found = catalog.find(step["to_build"])
                assert found.cu in offered[found.product], (entry.build, step)


# -- target: eems means the newest update that restores EEMS ---------------------------

def test_eems_on_2016_cu22_without_esu_is_the_newest_public_2016_update():
    result = run("15.1.2375.7", "Windows Server 2016", target="eems")
    assert result["target"]["update"] == "Oct25SU" and result["target"]["fallback"] is True
    assert run("15.1.2375.7", "Windows Server 2016", target="eems_minimal")["target"]["update"] == "Mar23SU"


def test_eems_with_esu_stays_on_the_own_line_at_its_newest():
    result = run("15.2.1118.26", "Windows Server 2019", target="eems", esu=True)
    assert (result["target"]["product"], result["target"]["cu"], result["target"]["build"]) == (
        "Exchange 2019", "CU15", "15.2.1748.53")
    assert result["meets_eems"] == {"march_2023": True, "june_2026": True}


def test_eems_without_esu_on_2019_reaches_the_newest_se_update():
    result = run("15.2.1118.26", "Windows Server 2019", target="eems")
    assert result["target"]["build"] == "15.2.2562.53" and result["reachable"] is True


def test_eems_changes_nothing_when_eems_already_works():
    result = run("15.2.2562.43", "Windows Server 2019", target="eems")
    assert result["steps"] == [] and result["reachable"] is True


# -- target values -----------------------------------------------------------------

@pytest.mark.parametrize("value", ["bogus", "Latest ", "", "15.2", None, "eems-minimal"])
def test_check_target_refuses_unknown_values_naming_the_allowed_ones(value):
    with pytest.raises(PlanInputError) as err:
        check_target(value)
    assert "latest, eems, eems_minimal" in str(err.value)


@pytest.mark.parametrize("value", ["latest", "eems", "eems_minimal", "15.2.1748.53", "15.02.1748.053"])
def test_check_target_accepts_policies_and_builds(value):
    assert check_target(value) == value


# -- Names admins use ----------------------------------------------------------------

@pytest.mark.parametrize("build, name", [
    ("15.2.1544.13", "Exchange 2019 CU14 Nov24SU"),
    ("15.2.1544.14", "Exchange 2019 CU14 Nov24SUv2"),
    ("15.02.1544.004", "Exchange 2019 CU14"),
    ("15.2.2562.17", "Exchange SE RTM"),
    ("15.2.2562.53", "Exchange SE RTM Sep26SUv2"),
    ("15.1.2507.61", "Exchange 2016 CU23 Oct25SU"),
    ("15.0.1497.48", "Exchange 2013 CU23 Mar23SU"),
    ("15.2.1544.99", "Exchange 2019 CU14 + unknown update (15.2.1544.99)"),
    ("15.2.2562.99", "Exchange SE RTM + unknown update (15.2.2562.99)"),
    ("15.2.2700.5", "Exchange SE unknown CU (15.2.2700.5)"),
])
def test_display_name_is_how_admins_say_it(build, name):
    assert load_catalog().display_name(build) == name


def test_a_product_change_is_shown_plainly():
    catalog = load_catalog()
    assert catalog.describe_change("15.2.1544.13", "15.2.2562.53") == (
        "Exchange 2019 CU14 Nov24SU -> Exchange SE RTM Sep26SUv2 (product change: Exchange 2019 -> Exchange SE)")
    assert catalog.describe_change("15.2.1544.13", "15.2.1544.41") == (
        "Exchange 2019 CU14 Nov24SU -> Exchange 2019 CU14 Jun26SU")
    result = run("15.2.1544.13", "Windows Server 2019")
    assert result["target"]["display_name"] == "Exchange SE RTM Sep26SUv2"
    assert result["target"]["product_change"] is True
    assert result["target"]["description"] == (
        "Exchange SE RTM Sep26SUv2 (15.2.2562.53), a product change: Exchange 2019 -> Exchange SE")
    assert result["current"]["display_name"] == "Exchange 2019 CU14 Nov24SU"


@pytest.mark.parametrize("target", ["latest", "eems", "eems_minimal"])
@pytest.mark.parametrize("esu", [False, True])
@pytest.mark.parametrize("os_by_product", [
    {"Exchange 2013": "Windows Server 2012 R2", "Exchange 2016": "Windows Server 2016",
     "Exchange 2019": "Windows Server 2019", "Exchange SE": "Windows Server 2019"},
    {"Exchange 2013": "Windows Server 2012", "Exchange 2016": "Windows Server 2012 R2",
     "Exchange 2019": "Windows Server 2022", "Exchange SE": "Windows Server 2025"},
], ids=["oldest-os", "newest-os"])
def test_no_plan_installs_what_its_os_cannot_run(target, esu, os_by_product):
    catalog = load_catalog()
    for entry in catalog.entries:
        os_name = os_by_product[entry.product]
        if catalog.os_supported(entry.product, entry.cu, os_name) is False:
            continue   # such a server cannot exist
        for dotnet in (NET472, NET48):
            result = run(str(entry.build), os_name, target=target, esu=esu, dotnet=dotnet)
            where = (str(entry.build), os_name, target, esu, dotnet)
            for step in result["steps"]:
                if step["action"] == "install_dotnet":
                    version = step["update"].replace(".NET Framework ", "")
                    assert version in catalog.dotnet_on_os(os_name), where
                    assert step["installer"], where
                if step["action"] in ("install_cu", "upgrade_to_se"):
                    found = catalog.find(step["to_build"])
                    assert catalog.os_supported(found.product, found.cu, os_name) is not False, where
