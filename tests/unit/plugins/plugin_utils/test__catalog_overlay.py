"""The catalog between releases: extra catalog files merged over the shipped one (issue 13)."""
from __future__ import annotations

import csv
import datetime
import io
import pathlib
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.action.catalog_import import ActionModule as ImportAction
from ansible_collections.onprem.exchange.plugins.plugin_utils._catalog_import import (
    CatalogImportError,
    run_overlay,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import (
    CatalogError,
    catalog_files_from,
    load_catalog,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._update_planner import plan_update

TODAY = datetime.date(2026, 11, 26)
NEXT_SE_SU = """\
builds:
- build: "15.2.2562.57"
  product: "Exchange SE"
  cu: "RTM"
  update: "Nov26SU"
  kind: "SU"
  name: "Exchange Server SE RTM Nov26SU"
  release_date: "2026-11-10"
  kb: "KB5999001"
"""
HEADER = ["product", "update_name", "kind", "cu_level", "build", "release_date", "kb", "source"]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_an_extra_build_is_known_and_planned(tmp_path):
    extra = write(tmp_path, "extra.yml", NEXT_SE_SU)
    shipped = load_catalog()
    assert shipped.classify("15.2.2562.57", TODAY).position == "newer_than_catalog"
    catalog = load_catalog(extra=extra)
    known = catalog.classify("15.2.2562.57", TODAY)
    assert known.known is True and known.display_name == "Exchange SE RTM Nov26SU"
    assert known.kb == "KB5999001" and known.esu_only is False
    plan = plan_update({"build": "15.2.2562.53", "os": "Windows Server 2022"}, {"target": "latest"},
                       today=TODAY, catalog=catalog)
    assert [s["update"] for s in plan["steps"] if s["action"] != "reboot"] == ["Nov26SU"]
    assert plan["steps"][0]["installer"] == "ExchangeSubscriptionEdition-KB5999001-x64-en.msp"


def test_a_build_newer_than_the_extra_file_stays_honestly_unknown(tmp_path):
    catalog = load_catalog(extra=write(tmp_path, "extra.yml", NEXT_SE_SU))
    newer = catalog.classify("15.2.2562.60", TODAY)
    assert newer.known is False and newer.position == "newer_than_catalog"
    assert "15.2.2562.57" in newer.description
    plan = plan_update({"build": "15.2.2562.60"}, {"target": "latest"}, today=TODAY, catalog=catalog)
    assert "build_not_in_catalog" in {f["id"] for f in plan["findings"]} and plan["steps"] == []


def test_a_2019_update_after_the_last_public_one_is_esu_only_by_default(tmp_path):
    extra = write(tmp_path, "extra.yml", NEXT_SE_SU.replace("15.2.2562.57", "15.2.1748.55")
                  .replace("Exchange SE", "Exchange 2019").replace('"RTM"', '"CU15"')
                  .replace("Server SE RTM", "Server 2019 CU15"))
    entry = load_catalog(extra=extra).find("15.2.1748.55")
    assert entry.esu_only is True


def test_an_extra_row_corrects_a_shipped_row(tmp_path):
    shipped = load_catalog().find("15.2.2562.53")
    text = NEXT_SE_SU.replace("15.2.2562.57", "15.2.2562.53").replace("Nov26SU", shipped.update) \
        .replace("KB5999001", "KB5999999").replace("2026-11-10", shipped.release_date.isoformat())
    catalog = load_catalog(extra=write(tmp_path, "extra.yml", text))
    assert catalog.find("15.2.2562.53").kb == "KB5999999"
    assert len(catalog.entries) == len(load_catalog().entries)


@pytest.mark.parametrize("text, words", [
    ("builds: [}", ["not valid YAML"]),
    ("- 15.2.2562.57\n", ["must be a mapping"]),
    ("products: {}\nbuilds: []\n", ["unknown key(s) products"]),
    (NEXT_SE_SU.replace('  kind: "SU"\n', ""), ["builds entry 1", "15.2.2562.57", "kind"]),
    (NEXT_SE_SU.replace('"15.2.2562.57"', '"15.2.25x2.57"'), ["builds entry 1", "15.2.25x2.57"]),
    (NEXT_SE_SU.replace('"15.2.2562.57"', '"15.2.1748.57"'), ["builds entry 1", "belongs to Exchange 2019"]),
    (NEXT_SE_SU.replace('"Exchange SE"', '"Exchange 2026"'), ["builds entry 1", "Exchange 2026"]),
    (NEXT_SE_SU + NEXT_SE_SU.replace("builds:\n", "").replace("Nov26SU", "Nov26SUv2"),
     ["builds entry 2", "already given by", "entry 1"]),
    (NEXT_SE_SU.replace('"2026-11-10"', '"next week"'), ["builds entry 1", "next week"]),
    (NEXT_SE_SU + '  availability: "maybe"\n', ["builds entry 1", "availability"]),
])
def test_a_bad_extra_file_names_the_file_and_the_entry(tmp_path, text, words):
    path = write(tmp_path, "bad-extra.yml", text)
    with pytest.raises(CatalogError) as caught:
        load_catalog(extra=path)
    message = str(caught.value)
    assert "bad-extra.yml" in message, message
    for word in words:
        assert word in message, message


def test_a_missing_extra_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(CatalogError, match="nowhere.yml"):
        load_catalog(extra=str(tmp_path / "nowhere.yml"))


def test_catalog_files_come_from_the_inventory_variable():
    assert catalog_files_from({"exchange_catalog_files": "/srv/x.yml"}) == ["/srv/x.yml"]
    assert catalog_files_from({"exchange_catalog_files": ["/a.yml", "/b.yml"]}) == ["/a.yml", "/b.yml"]
    assert catalog_files_from({}) == []
    with pytest.raises(CatalogError):
        catalog_files_from({"exchange_catalog_files": {"a": 1}})


# -- the importer writes an extra file, not the shipped catalog ---------------------------

def write_csv(tmp_path, *rows):
    path = tmp_path / "builds.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return str(path)


NEW_ROW = ["Exchange SE", "Exchange Server SE RTM Nov26SU", "SU", "RTM", "15.2.2562.57", "2026-11-10",
           "KB5999001", "test row"]
KNOWN_ROW = ["Exchange SE", "Exchange Server SE RTM Sep26SUv2", "SU", "RTM", "15.2.2562.53", "2026-10-02",
             "KB5129955", "x"]


def test_import_into_an_extra_file_holds_only_what_is_new_and_is_idempotent(tmp_path):
    source = write_csv(tmp_path, NEW_ROW, KNOWN_ROW)
    overlay = str(tmp_path / "extra.yml")
    first = run_overlay(source, overlay, out=io.StringIO())
    assert (first["added"], first["unchanged"], first["total"], first["written"]) == (1, 1, 1, True)
    text = open(overlay, encoding="utf-8").read()
    assert "15.2.2562.57" in text
    assert load_catalog(extra=overlay).find("15.2.2562.57").update == "Nov26SU"
    second = run_overlay(source, overlay, out=io.StringIO())
    assert (second["added"], second["changed"], second["written"]) == (0, 0, False)
    assert open(overlay, encoding="utf-8").read() == text


def test_a_bad_csv_row_writes_nothing(tmp_path):
    source = write_csv(tmp_path, NEW_ROW, ["Exchange SE", "x", "SU", "RTM", "15.2.1748.57", "2026-11-10", "", ""])
    overlay = tmp_path / "extra.yml"
    with pytest.raises(CatalogImportError, match="line 3"):
        run_overlay(source, str(overlay), out=io.StringIO())
    assert not overlay.exists()


def _import_action(args, check_mode=False):
    task = MagicMock(Task)
    task.args = dict(args)
    task.check_mode = check_mode
    task.diff = False
    task.async_val = 0
    return ImportAction(task=task, connection=MagicMock(), play_context=MagicMock(), loader=None, templar=None,
                        shared_loader_obj=None)


def test_the_catalog_import_module_writes_and_check_mode_only_predicts(tmp_path):
    source = write_csv(tmp_path, NEW_ROW)
    overlay = tmp_path / "extra.yml"
    predicted = _import_action({"csv": source, "dest": str(overlay)}, check_mode=True).run(task_vars={})
    assert predicted["changed"] is True and predicted["added"] == 1 and not overlay.exists()
    done = _import_action({"csv": source, "dest": str(overlay)}).run(task_vars={})
    assert done["changed"] is True and overlay.exists()
    again = _import_action({"csv": source, "dest": str(overlay)}).run(task_vars={})
    assert again["changed"] is False


def test_the_catalog_import_module_fails_naming_the_csv_line(tmp_path):
    source = write_csv(tmp_path, ["Exchange SE", "x", "XU", "RTM", "15.2.2562.58", "2026-11-10", "", ""])
    with pytest.raises(AnsibleActionFail, match="line 2"):
        _import_action({"csv": source, "dest": str(tmp_path / "extra.yml")}).run(task_vars={})


def test_a_write_that_fails_keeps_the_old_file_and_leaves_nothing_beside_it(tmp_path, monkeypatch):
    overlay = tmp_path / "extra.yml"
    overlay.write_text(NEXT_SE_SU, encoding="utf-8")
    source = write_csv(tmp_path, NEW_ROW[:4] + ["15.2.2562.60"] + NEW_ROW[5:])

    def rename_refused(_source, _dest):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr("os.replace", rename_refused)
    with pytest.raises(OSError, match="Permission denied"):
        run_overlay(source, str(overlay), out=io.StringIO())
    assert overlay.read_text(encoding="utf-8") == NEXT_SE_SU
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["extra.yml", pathlib.Path(source).name])
