"""scripts/update_catalog.py: importing a CSV into the catalog, idempotently."""
from __future__ import annotations

import csv
import datetime
import importlib.util
import io
import os
import shutil

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import (
    DEFAULT_CATALOG_PATH,
    GENERATED_MARKER,
    load_catalog,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CSV_PATH = os.path.join(REPO, "tests", "unit", "data", "exchange_builds.csv")
_spec = importlib.util.spec_from_file_location("update_catalog", os.path.join(REPO, "scripts", "update_catalog.py"))
update_catalog = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(update_catalog)

HEADER = ["product", "update_name", "kind", "cu_level", "build", "release_date", "kb", "source"]
NEXT_SE_SU = ["Exchange SE", "Exchange Server SE RTM Nov26SU", "SU", "RTM", "15.2.2562.57", "2026-11-10",
              "KB5999001", "test row"]
NEXT_2019_SU = ["Exchange 2019", "Exchange Server 2019 CU15 Nov26SU", "SU", "CU15", "15.2.1748.55", "2026-11-10",
                "KB5999002", "test row"]


@pytest.fixture
def catalog_copy(tmp_path):
    path = tmp_path / "exchange_catalog.yml"
    shutil.copyfile(DEFAULT_CATALOG_PATH, path)
    return str(path)


def write_csv(path, *rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return str(path)


def run(csv_path, catalog, dry_run=False):
    out = io.StringIO()
    counts = update_catalog.run(csv_path, catalog, dry_run=dry_run, out=out)
    return counts, out.getvalue()


def hand_written(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return text[: text.index(GENERATED_MARKER)]


def test_committed_catalog_matches_the_reference_table(catalog_copy):
    before = open(catalog_copy, encoding="utf-8").read()
    counts, output = run(CSV_PATH, catalog_copy)
    assert counts == {"added": 0, "changed": 0, "unchanged": 210, "kept": 0, "total": 210}
    assert "0 added, 0 changed, 210 unchanged" in output
    assert open(catalog_copy, encoding="utf-8").read() == before


def test_next_months_su_is_a_data_change(tmp_path, catalog_copy):
    before_hand_written = hand_written(catalog_copy)
    csv_path = write_csv(tmp_path / "nov.csv", NEXT_SE_SU, NEXT_2019_SU)
    counts, output = run(csv_path, catalog_copy)
    assert (counts["added"], counts["changed"], counts["kept"], counts["total"]) == (2, 0, 210, 212)
    assert "added:   15.2.2562.57 Exchange Server SE RTM Nov26SU" in output
    assert "15.2.1748.55 Exchange Server 2019 CU15 Nov26SU (2026-11-10, KB5999002, ESU only)" in output
    assert hand_written(catalog_copy) == before_hand_written
    catalog = load_catalog(catalog_copy)
    result = catalog.classify("15.02.2562.057", datetime.date(2026, 11, 26))
    assert (result.known, result.update, result.esu_only) == (True, "Nov26SU", False)
    assert catalog.find("15.2.1748.55").esu_only is True
    # Second run: nothing changes.
    counts, output = run(csv_path, catalog_copy)
    assert (counts["added"], counts["changed"], counts["unchanged"]) == (0, 0, 2)


def test_a_corrected_row_is_reported_as_changed(tmp_path, catalog_copy):
    corrected = ["Exchange SE", "Exchange Server SE RTM Sep26SUv2", "SU", "RTM", "15.2.2562.53", "2026-10-02",
                 "KB5129999", "corrected"]
    counts, output = run(write_csv(tmp_path / "fix.csv", corrected), catalog_copy)
    assert counts["changed"] == 1
    assert 'kb: "KB5129955" -> "KB5129999"' in output
    assert load_catalog(catalog_copy).find("15.2.2562.53").kb == "KB5129999"


def test_dry_run_writes_nothing(tmp_path, catalog_copy):
    before = open(catalog_copy, encoding="utf-8").read()
    counts, output = run(write_csv(tmp_path / "nov.csv", NEXT_SE_SU), catalog_copy, dry_run=True)
    assert counts["added"] == 1 and "dry run" in output
    assert open(catalog_copy, encoding="utf-8").read() == before


@pytest.mark.parametrize("row, message", [
    (["Exchange 2019", "Exchange Server 2019 CU15 Nov26SU", "SU", "CU15", "15.2.2562.57", "2026-11-10", "KB1234567", ""],
     "belongs to Exchange SE"),
    (["Exchange 2019", "Exchange Server 2019 CU15 Nov26SU", "SU", "CU15", "15.2.1748", "2026-11-10", "KB1234567", ""],
     "'15.2.1748'"),
    (["Exchange 2019", "Exchange Server 2019 CU15 Nov26SU", "XU", "CU15", "15.2.1748.55", "2026-11-10", "", ""],
     "kind 'XU'"),
    (["Exchange 2019", "Exchange Server 2019 CU15 Nov26SU", "SU", "CU15", "15.2.1748.55", "10/11/2026", "", ""],
     "not a date"),
    (["Exchange 2010", "Exchange Server 2010 SP3", "SU", "SP3", "14.3.513.0", "2026-11-10", "", ""],
     "unknown product"),
])
def test_bad_rows_are_refused_and_the_catalog_is_untouched(tmp_path, catalog_copy, capsys, row, message):
    before = open(catalog_copy, encoding="utf-8").read()
    status = update_catalog.main([write_csv(tmp_path / "bad.csv", row), "--catalog", catalog_copy])
    assert status == 1
    err = capsys.readouterr().err
    assert message in err and "line 2" in err
    assert open(catalog_copy, encoding="utf-8").read() == before


def test_catalog_without_marker_is_refused(tmp_path, catalog_copy, capsys):
    text = open(catalog_copy, encoding="utf-8").read().replace(GENERATED_MARKER, "# removed")
    open(catalog_copy, "w", encoding="utf-8").write(text)
    assert update_catalog.main([CSV_PATH, "--catalog", catalog_copy]) == 1
    assert "GENERATED BUILDS" in capsys.readouterr().err


def test_source_conflicts_become_accepted_alternate_builds():
    entry = load_catalog().find("15.1.1415.10")
    assert [str(b) for b in entry.alternate_builds] == ["15.1.1415.8"]
    assert "CONFLICT" in entry.source
