"""The answer contracts: the notation, the checker and its messages."""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _contracts, _host_call

SCRIPT_DIR = _host_call.SCRIPT_DIR


def _contracts_of(operations, types=None):
    return _contracts.Contracts({"operations": operations, "types": types or {}})


def test_every_host_operation_has_a_contract_and_every_contract_an_operation():
    scripts = {name[:-4] for name in os.listdir(SCRIPT_DIR) if name.endswith(".ps1")} - {_host_call.BOOTSTRAP_NAME}
    assert set(_contracts.default_contracts().operations) == scripts


SPEC = {
    "name": "text",
    "count": "int",
    "size": "number?",
    "flag": "bool",
    "state": "enum(Up|Down)",
    "tags": ["text"],
    "owner": {"_nullable": True, "name": "text"},
    "rows": {"_nullable": True, "_list": {"status": "text"}},
    "components": {"_map": "text"},
    "extra": {"_optional": ["note"], "note": "text"},
    "service": "service",
}
TYPES = {"service": {"name": "text", "state": "enum(Running|Stopped)"}}
GOOD = {"name": "a", "count": 1, "size": None, "flag": False, "state": "Up", "tags": ["x"], "owner": None,
        "rows": [{"status": "Mounted"}], "components": {"HubTransport": "Active"}, "extra": {},
        "service": {"name": "W3SVC", "state": "Running"}, "unlisted": {"anything": [1, 2]}}


def test_a_conforming_answer_passes_and_fields_not_listed_are_allowed():
    assert _contracts_of({"Op": SPEC}, TYPES).check("Op", GOOD) is None


@pytest.mark.parametrize("change, message", [
    ({"name": 7}, "name = 7, expected text"),
    ({"count": True}, "count = true, expected a whole number"),
    ({"count": 1.5}, "count = 1.5, expected a whole number"),
    ({"size": "big"}, "size = 'big', expected a number or null"),
    ({"flag": "yes"}, "flag = 'yes', expected true or false"),
    ({"state": "Paused"}, "state = 'Paused', expected one of Up, Down"),
    ({"tags": "x"}, "tags = 'x', expected a list"),
    ({"tags": ["x", None]}, "tags[1] = null, expected text"),
    ({"owner": {"name": None}}, "owner.name = null, expected text"),
    ({"rows": [{"status": "ok"}, {"status": 3}]}, "rows[1].status = 3, expected text"),
    ({"components": {"HubTransport": 1}}, "components.HubTransport = 1, expected text"),
    ({"extra": {"note": []}}, "extra.note = a list, expected text"),
    ({"service": {"name": "W3SVC", "state": "running"}}, "service.state = 'running', expected one of Running, Stopped"),
    ({"service": None}, "service = null, expected an object"),
], ids=lambda v: str(v)[:40])
def test_each_way_off_the_contract_is_named_by_field_path(change, message):
    violation = _contracts_of({"Op": SPEC}, TYPES).check("Op", dict(GOOD, **change))
    assert str(violation) == "host operation Op answered " + message


def test_a_missing_field_is_named_and_a_whole_missing_data_object_too():
    answer = dict(GOOD)
    del answer["flag"]
    contracts = _contracts_of({"Op": SPEC}, TYPES)
    assert str(contracts.check("Op", answer)) == "host operation Op answered flag = (missing), expected true or false"
    assert str(contracts.check("Op", None)) == "host operation Op answered data = null, expected an object"
    assert contracts.check("Other", {}).message == "host operation Other has no answer contract in this collection"


def test_a_long_value_is_shortened_in_the_message():
    violation = _contracts_of({"Op": {"n": "int"}}).check("Op", {"n": "x" * 500})
    assert len(str(violation)) < 160 and str(violation).endswith("..., expected a whole number")


@pytest.mark.parametrize("document", [
    {"operations": {"Op": {"a": "txt"}}},
    {"operations": {"Op": {"a": ["text", "int"]}}},
    {"operations": {"Op": {"a": "text", "_optional": ["b"]}}},
    {"operations": {"Op": {"a": 5}}},
    {"types": {}},
], ids=range(5))
def test_a_broken_contract_file_is_refused_on_load(document):
    with pytest.raises(_contracts.ContractError):
        _contracts.Contracts(document)


def test_the_controller_fails_an_off_contract_answer_with_operation_and_field():
    facts = {"now": "x", "computer_name": "EX01", "setup": {"exsetup_version": None}, "setup_watermark": None,
             "services": [{"name": "MSExchangeMitigation", "start_mode": "Automatic", "state": 4}],
             "mitigation_events": [], "ems": {"available": True, "mode": "remote", "error": None}, "exchange": None}
    stdout = json.dumps({"ok": True, "changed": False, "data": facts}).encode()
    with pytest.raises(_host_call.HostCallError) as caught:
        _host_call.parse_result("Get-EemsState", 0, stdout, b"")
    assert caught.value.kind == "malformed"
    assert str(caught.value) == ("host operation Get-EemsState answered services[0].state = 4, expected one of "
                                 "Stopped, StartPending, StopPending, Running, ContinuePending, PausePending, Paused")
    assert caught.value.detail == {"field": "services[0].state"}


def test_an_answer_without_data_is_refused_instead_of_read_as_empty():
    stdout = json.dumps({"ok": True, "changed": False, "data": None}).encode()
    with pytest.raises(_host_call.HostCallError, match=r"Get-HostIdentity answered data = null, expected an object"):
        _host_call.parse_result("Get-HostIdentity", 0, stdout, b"")


def test_every_recorded_host_answer_conforms():
    """The recorded Get-ExchangeFacts answers the unit tests replay are held
    to the same contract as a live host (so they cannot drift from it)."""
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))), "unit",
                          "data", "build_facts")
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    assert names
    for name in names:
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            recorded = json.load(handle)
        assert _contracts.check_answer("Get-ExchangeFacts", recorded["stdout"]["data"]) is None, name


def test_setup_prerequisites_are_optional_but_checked_when_present():
    """An answer from before the Setup prerequisite read passes; a new one is held to its fields."""
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))), "unit",
                          "data", "build_facts")
    name = sorted(n for n in os.listdir(folder) if n.endswith(".json"))[0]
    with open(os.path.join(folder, name), encoding="utf-8") as handle:
        data = json.load(handle)["stdout"]["data"]
    data.pop("setup_prerequisites", None)
    assert _contracts.check_answer("Get-ExchangeFacts", data) is None
    data["setup_prerequisites"] = {
        "vc_redistributables": [{"display_name": "Microsoft Visual C++ 2013 x64 Minimum Runtime - 12.0.40664",
                                 "display_version": "12.0.40664", "version_number": 201367256}],
        "ucma": {"installed": False, "version": None, "source": None}}
    assert _contracts.check_answer("Get-ExchangeFacts", data) is None
    data["setup_prerequisites"]["ucma"]["source"] = "guess"
    problem = _contracts.check_answer("Get-ExchangeFacts", data)
    assert problem is not None and "setup_prerequisites.ucma.source" in str(problem)
