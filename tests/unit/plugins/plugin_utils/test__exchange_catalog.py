"""Classification of every reference build, plus unknown, private and odd ones."""
from __future__ import annotations

import csv
import datetime
import json
import os

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import ExchangeBuildError
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import (
    classify_build,
    load_catalog,
)

TODAY = datetime.date(2026, 11, 26)
CSV_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "data", "exchange_builds.csv")
with open(CSV_PATH, newline="", encoding="utf-8") as _handle:
    ROWS = list(csv.DictReader(_handle))
ROW_IDS = ["%s %s" % (r["build"], r["update_name"]) for r in ROWS]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _short_update(row):
    if row["kind"] in ("CU", "RTM"):
        return row["cu_level"]
    return row["update_name"].split()[-1]


def test_reference_table_is_complete():
    # The counts the reference notes give; a lost or duplicated row fails here.
    assert len(ROWS) == 210
    by_product = {}
    for row in ROWS:
        by_product[row["product"]] = by_product.get(row["product"], 0) + 1
    assert by_product == {"Exchange 2013": 25, "Exchange 2016": 76, "Exchange 2019": 97, "Exchange SE": 12}


def test_catalog_holds_every_reference_row(catalog):
    assert len(catalog.entries) == len(ROWS)
    assert sorted(str(e.build) for e in catalog.entries) == sorted(r["build"] for r in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_every_reference_row_classifies_exactly(catalog, row):
    result = catalog.classify(row["build"], TODAY).to_dict()
    assert result["known"] is True
    assert result["position"] == "exact"
    assert result["product"] == row["product"]
    assert result["cu"] == row["cu_level"]
    assert result["update"] == _short_update(row)
    assert result["kind"] == row["kind"]
    assert result["release_date"] == row["release_date"]
    assert result["kb"] == (row["kb"] or None)
    assert result["description"] == row["update_name"]
    # The zero-padded ExSetup spelling of the same build means the same thing.
    padded = catalog.classify(result["build_long"], TODAY).to_dict()
    assert (padded["build"], padded["update"]) == (row["build"], result["update"])
    json.dumps(result)


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_every_reference_row_gets_the_right_cutoffs_baseline_and_cves(catalog, row):
    """Date rules hold for this table: each cut-off/fix is met exactly by builds released on or after it."""
    result = catalog.classify(row["build"], TODAY).to_dict()
    released = datetime.date.fromisoformat(row["release_date"])
    if row["product"] == "Exchange 2013":
        assert result["eems_fetch_ok"] is None and result["eems_2026_ok"] is None
        assert "CVE-2026-42897" in result["unfixed_cves"]
    else:
        assert result["eems_fetch_ok"] is (released >= datetime.date(2023, 3, 14))
        assert result["eems_2026_ok"] is (released >= datetime.date(2026, 6, 9))
        assert ("CVE-2026-42897" in result["fixed_cves"]) is (released >= datetime.date(2026, 6, 9))
    if row["product"] in ("Exchange 2016", "Exchange 2019"):
        assert result["hybrid_baseline_ok"] is (released >= datetime.date(2025, 10, 14))
    assert ("CVE-2021-26855" in result["fixed_cves"]) is (released >= datetime.date(2021, 3, 2))
    for cve in ("CVE-2022-41040", "CVE-2022-41082"):
        assert (cve in result["fixed_cves"]) is (released >= datetime.date(2022, 11, 8))
    assert result["undetermined_cves"] == []


@pytest.mark.parametrize("build, fetch_ok, ok_2026", [
    ("15.2.1118.25", False, False),   # 2019 CU12 Feb23SU, one below the cut-off
    ("15.2.1118.26", True, False),    # 2019 CU12 Mar23SU
    ("15.2.986.42", True, False),     # 2019 CU11 Mar23SU
    ("15.2.1258.12", True, False),    # 2019 CU13 RTM, released after March 2023
    ("15.1.2375.37", False, False),   # 2016 CU22 never got Mar23SU
    ("15.1.2507.23", True, False),    # 2016 CU23 Mar23SU
    ("15.1.2507.66", True, False),    # 2016 CU23 Feb26SU
    ("15.1.2507.69", True, True),     # 2016 CU23 Jun26SU
    ("15.2.1544.41", True, True),
    ("15.2.1748.43", True, False),
    ("15.2.1748.46", True, True),
    ("15.2.2562.41", True, False),    # SE May26HU
    ("15.2.2562.43", True, True),     # SE Jun26SU
    ("15.0.1497.48", None, None),     # 2013 has no EEMS
])
def test_eems_cutoffs(catalog, build, fetch_ok, ok_2026):
    result = catalog.classify(build, TODAY)
    assert (result.eems_fetch_ok, result.eems_2026_ok) == (fetch_ok, ok_2026)


@pytest.mark.parametrize("build, on_date, lifecycle", [
    ("15.2.1748.39", "2025-10-01", "supported"),
    ("15.2.1748.39", "2025-12-01", "esu"),        # ESU period 1
    ("15.2.1748.39", "2026-05-01", "esu"),        # ESU period 2
    ("15.2.1748.39", "2026-10-31", "esu"),
    ("15.2.1748.39", "2026-11-01", "end_of_life"),
    ("15.2.1118.26", "2026-05-01", "end_of_life"),  # CU12 was never ESU-eligible
    ("15.1.2507.61", "2026-05-01", "esu"),
    ("15.1.2375.7", "2026-05-01", "end_of_life"),
    ("15.0.1497.48", "2023-04-11", "supported"),
    ("15.0.1497.48", "2023-04-12", "end_of_life"),
    ("15.2.2562.53", "2026-11-26", "supported"),
    ("15.2.2562.53", "2036-01-01", "end_of_life"),
])
def test_lifecycle_follows_the_date_passed_in(catalog, build, on_date, lifecycle):
    assert catalog.classify(build, on_date).lifecycle == lifecycle


def test_esu_only_updates_are_the_2016_2019_sus_after_october_2025(catalog):
    esu = [e for e in catalog.entries if e.esu_only]
    assert len(esu) == 21
    assert {e.product for e in esu} == {"Exchange 2016", "Exchange 2019"}
    assert all(e.release_date > datetime.date(2025, 10, 14) for e in esu)
    assert not any(e.esu_only for e in catalog.entries if e.product == "Exchange SE")
    assert catalog.classify("15.2.1748.39", TODAY).esu_only is False  # Oct25SU, the last public one


def test_private_build_between_two_updates(catalog):
    result = catalog.classify("15.2.1748.50", TODAY).to_dict()
    assert result["known"] is False
    assert result["kind"] == "unknown"
    assert result["update"] is None
    assert result["cu"] == "CU15"
    assert result["position"] == "between"
    assert result["description"] == (
        "unknown build between Exchange Server 2019 CU15 Aug26SU (15.2.1748.49) "
        "and Exchange Server 2019 CU15 Sep26SU (15.2.1748.51)")
    assert result["previous_known"]["update"] == "Aug26SU"
    assert result["next_known"]["update"] == "Sep26SU"
    # Above Jun26SU on the same CU: both cut-offs hold even though the build is unknown.
    assert (result["eems_fetch_ok"], result["eems_2026_ok"]) == (True, True)


def test_build_newer_than_the_catalog(catalog):
    result = catalog.classify("15.2.2562.60", TODAY)
    assert result.known is False
    assert result.position == "newer_than_catalog"
    assert result.description.startswith("newer than the catalog")
    assert "15.2.2562.53" in result.description
    assert result.product == "Exchange SE" and result.cu == "RTM"


def test_unknown_se_cu_is_newer_but_not_invented(catalog):
    result = catalog.classify("15.2.2700.5", TODAY)
    assert (result.product, result.cu, result.update, result.known) == ("Exchange SE", None, None, False)
    assert result.position == "newer_than_catalog"


def test_unknown_cu_between_cus_does_not_guess_the_march_2023_cutoff(catalog):
    result = catalog.classify("15.2.1200.5", TODAY)
    assert result.position == "between"
    assert result.cu is None
    assert result.eems_fetch_ok is None          # could be either side of March 2023
    assert result.eems_2026_ok is False           # older than CU13, which never got Jun26SU
    assert "CVE-2022-41040" in result.undetermined_cves


def test_build_older_than_the_catalog(catalog):
    result = catalog.classify("15.1.396.30", TODAY)
    assert result.position == "older_than_catalog"
    assert result.product == "Exchange 2016"
    assert result.eems_fetch_ok is False


@pytest.mark.parametrize("reported, catalog_build", [
    ("15.1.1415.8", "15.1.1415.10"),
    ("15.1.1415.10", "15.1.1415.10"),
    ("15.1.1466.13", "15.1.1466.16"),
    ("15.1.1466.16", "15.1.1466.16"),
])
def test_builds_sources_disagree_on_are_both_accepted(catalog, reported, catalog_build):
    result = catalog.classify(reported, TODAY)
    assert result.known is True
    assert result.update == "Mar21SU"
    assert "CVE-2021-26855" in result.fixed_cves
    if reported != catalog_build:
        assert result.position == "alternate"
        assert any(reported in note and catalog_build in note for note in result.notes)
    else:
        assert result.position == "exact"


@pytest.mark.parametrize("build, product", [
    ("15.0.1497.2", "Exchange 2013"),
    ("15.1.2507.6", "Exchange 2016"),
    ("15.2.2561.99", "Exchange 2019"),
    ("15.2.2562.0", "Exchange SE"),
    ("15.2.2562.17", "Exchange SE"),
])
def test_se_starts_at_build_2562(catalog, build, product):
    assert catalog.classify(build, TODAY).product == product


@pytest.mark.parametrize("bad", ["15.3.1750.15", "14.3.513.0", "16.0.1.1", "not-a-build", ""])
def test_non_exchange_or_malformed_builds_raise_quoting_the_input(catalog, bad):
    with pytest.raises(ExchangeBuildError) as caught:
        catalog.classify(bad, TODAY)
    assert "'%s'" % bad in str(caught.value)


def test_admin_display_version_classifies_the_cu_and_warns(catalog):
    result = catalog.classify("Version 15.2 (Build 1748.10)", TODAY)
    assert (result.build, result.update, result.kind) == ("15.2.1748.10", "CU15", "CU")
    assert any("AdminDisplayVersion" in note for note in result.notes)


def test_classification_needs_a_date(catalog):
    with pytest.raises(TypeError):
        catalog.classify("15.2.1748.10")  # pylint: disable=no-value-for-parameter
    assert classify_build("15.2.1748.10", "2026-11-26").today == "2026-11-26"
    assert classify_build("15.2.1748.10", datetime.datetime(2026, 11, 26, 8, 0)).today == "2026-11-26"


def test_cu_support_and_eems_presence(catalog):
    assert catalog.classify("15.2.1748.10", TODAY).cu_supported is True
    assert catalog.classify("15.2.1118.26", TODAY).cu_supported is False
    assert catalog.classify("15.2.2562.17", TODAY).cu_supported is True   # the newest SE CU
    assert catalog.classify("15.2.922.7", TODAY).eems_present is False     # 2019 CU10, before EEMS
    assert catalog.classify("15.2.986.5", TODAY).eems_present is True      # 2019 CU11
    assert catalog.classify("15.0.1497.48", TODAY).eems_present is False


@pytest.mark.parametrize("build, baseline", [
    ("15.2.1748.39", True), ("15.2.1748.37", False), ("15.1.2507.61", True), ("15.1.2507.59", False),
    ("15.2.2562.17", True), ("15.0.1497.48", None),
])
def test_hybrid_baseline(catalog, build, baseline):
    assert catalog.classify(build, TODAY).hybrid_baseline_ok is baseline


def test_installer_names(catalog):
    oct25_2016 = catalog.find("15.1.2507.61")
    assert catalog.update_installer(oct25_2016) == "Exchange2016-KB5066369-x64-en.msp"
    assert catalog.update_installer(oct25_2016, "exe") == "Exchange2016-KB5066369-x64-en.exe"
    # Before May 2022 only .msp packages existed.
    assert catalog.update_installer(catalog.find("15.2.922.27"), "exe") == "Exchange2019-KB5012698-x64-en.msp"
    assert catalog.update_installer(catalog.find("15.2.2562.53"), "exe") == "ExchangeSubscriptionEdition-KB5129955-x64-en.exe"
    assert catalog.cu_installer("Exchange 2019", "CU15") == "ExchangeServer2019-x64-CU15.ISO"
    assert catalog.cu_installer("Exchange 2016", "CU23") == "ExchangeServer2016-x64-CU23.iso"
    assert catalog.cu_installer("Exchange SE", "RTM") == "ExchangeServerSE-x64.iso"


@pytest.mark.parametrize("product, cu, os_name, recommended, minimum", [
    ("Exchange 2019", "CU15", "Windows Server 2019", "4.8", 528040),
    ("Exchange 2019", "CU15", "Windows Server 2022", "4.8.1", 528040),
    ("Exchange SE", "RTM", None, "4.8.1", 528040),
    ("Exchange 2016", "CU23", "Windows Server 2016", "4.8", 528040),
    ("Exchange 2016", "CU12", None, "4.7.2", 461308),
])
def test_dotnet_requirements(catalog, product, cu, os_name, recommended, minimum):
    need = catalog.dotnet_requirement(product, cu, os_name)
    assert (need["recommended"], need["min_release"]) == (recommended, minimum)


def test_upgrade_paths(catalog):
    assert catalog.in_place_upgrade("Exchange 2019", "CU15", "Exchange SE") is not None
    assert catalog.in_place_upgrade("Exchange 2019", "CU14", "Exchange SE") is not None
    assert catalog.in_place_upgrade("Exchange 2016", "CU23", "Exchange SE") is None
    assert catalog.not_in_place("Exchange 2016")
