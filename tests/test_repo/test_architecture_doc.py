"""docs/architecture.md stays true: its host-operation table matches the tree.

The table is generated (scripts/host_operations_table.py --write) from the
host scripts, their `# Uses:` lines, the action plugins that call them, the
lab models and the answer contracts. A new script without a row, a row for a
deleted script, a changed caller, model or contract, or an operation without
a contract fails here by name.
"""
from __future__ import annotations

import importlib.util
import os
import re

import yaml

from labtools import REPO_ROOT

_PATH = os.path.join(REPO_ROOT, "scripts", "host_operations_table.py")
_spec = importlib.util.spec_from_file_location("host_operations_table", _PATH)
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)


def _doc():
    with open(table.DOC, encoding="utf-8") as handle:
        return handle.read()


def test_the_table_matches_the_tree():
    assert table.problems(_doc()) == []


def test_every_host_script_is_in_the_table():
    _head, rows, _tail = table.documented(_doc())
    scripts = sorted(n[:-4] for n in os.listdir(table.SCRIPT_DIR) if n.endswith(".ps1"))
    assert "Get-ExchangeFacts" in rows and len(scripts) > 10
    assert sorted(rows) == [s for s in scripts if s != "Invoke-HostOperation"]


def test_a_missing_row_a_wrong_caller_and_a_missing_contract_are_found(tmp_path, monkeypatch):
    text = _doc()
    without = "\n".join(line for line in text.split("\n") if not line.startswith("| `Get-StagedFile.ps1`"))
    assert "Get-StagedFile.ps1 is missing from the table" in table.problems(without)
    wrong_caller = re.sub(r"(\| `Get-HostIdentity\.ps1` \|[^|]*\|[^|]*\| )`host_info`", r"\1`eems`", text)
    assert wrong_caller != text
    assert any(p.startswith("Get-HostIdentity: row is") for p in table.problems(wrong_caller))
    # An operation whose contract is gone (or was never written).
    with open(table.CONTRACTS, encoding="utf-8") as handle:
        contracts = yaml.safe_load(handle)
    del contracts["operations"]["Start-InstallerTask"]
    trimmed = tmp_path / "host_contracts.yml"
    trimmed.write_text(yaml.safe_dump(contracts), encoding="utf-8")
    monkeypatch.setattr(table, "CONTRACTS", str(trimmed))
    assert any(p.startswith("Start-InstallerTask: no answer contract") for p in table.problems(text))


def test_a_preflight_style_list_of_operations_makes_its_importer_a_caller_and_a_job_table_does_not():
    # preflight imports READ_OPERATIONS from _readiness; _readiness also names
    # write operations in a job table, which preflight never sends.
    assert "preflight" in table.callers("Get-MaintenanceState")
    assert "preflight" not in table.callers("Enter-MaintenanceStep")
    # _host_action (every HostActionBase action imports it) lists the
    # operations safe to retry: plumbing, not a sender.
    assert table.callers("Enter-MaintenanceStep") == ["maintenance_mode"]
    assert table.callers("Restart-HostComputer") == ["update_install"]


def test_callers_follow_plugin_utils_helpers():
    # Restart-HostComputer is sent by _reboot.py, which update_install imports.
    assert "update_install" in table.callers("Restart-HostComputer")
    assert table.callers("Get-HostIdentity")[0] == "host_info"


def test_readme_and_contributing_point_to_the_map():
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as handle:
        assert "docs/architecture.md" in handle.read()
    with open(os.path.join(REPO_ROOT, "CONTRIBUTING.md"), encoding="utf-8") as handle:
        assert "docs/architecture.md" in handle.read()
