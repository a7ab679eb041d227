"""The exchange_build and exchange_plan filters as playbooks call them."""
from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.exchange.plugins.filter.exchange import (
    FilterModule,
    exchange_build,
    exchange_plan,
)

FILTER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))), "plugins", "filter")
TODAY = "2026-11-26"


def test_filters_are_registered_under_their_names():
    assert set(FilterModule().filters()) == {"exchange_build", "exchange_plan", "exchange_target"}


@pytest.mark.parametrize("text", ["15.2.1748.39", "15.02.1748.039"])
def test_exchange_build_minimum_keys(text):
    result = exchange_build(text, today=TODAY)
    assert result["build"] == "15.2.1748.39"
    assert (result["product"], result["cu"], result["update"], result["kind"]) == ("Exchange 2019", "CU15", "Oct25SU", "SU")
    assert result["known"] is True
    assert (result["eems_fetch_ok"], result["eems_2026_ok"]) == (True, False)
    assert result["lifecycle"] == "end_of_life"
    assert result["release_date"] == "2025-10-14"


@pytest.mark.parametrize("text, product, cu, update, kind", [
    ("15.2.2562.17", "Exchange SE", "RTM", "RTM", "RTM"),
    ("Version 15.1 (Build 2507.6)", "Exchange 2016", "CU23", "CU23", "CU"),
    ("15.2.2562.53", "Exchange SE", "RTM", "Sep26SUv2", "SU"),
    ("15.0.1497.48", "Exchange 2013", "CU23", "Mar23SU", "SU"),
    ("15.2.1748.50", "Exchange 2019", "CU15", None, "unknown"),
])
def test_exchange_build_labels(text, product, cu, update, kind):
    result = exchange_build(text, today=TODAY)
    assert (result["product"], result["cu"], result["update"], result["kind"]) == (product, cu, update, kind)


def test_exchange_build_on_2013_has_no_eems_verdict():
    result = exchange_build("15.0.1497.48", today=TODAY)
    assert result["eems_fetch_ok"] is None and result["eems_2026_ok"] is None


def test_today_changes_lifecycle_and_defaults_to_the_real_date():
    assert exchange_build("15.2.1748.39", today="2026-05-01")["lifecycle"] == "esu"
    assert exchange_build("15.2.1748.39")["today"]  # filter boundary supplies a date


@pytest.mark.parametrize("bad", ["15.2.1748", "Version 15.2", "15.3.1750.15", "", "hello world"])
def test_malformed_build_fails_quoting_the_input(bad):
    with pytest.raises(AnsibleFilterError) as caught:
        exchange_build(bad, today=TODAY)
    assert "'%s'" % bad in str(caught.value)


def test_bad_today_fails_clearly():
    with pytest.raises(AnsibleFilterError, match="today"):
        exchange_build("15.2.1748.39", today="yesterday")


def test_exchange_plan_from_a_bare_build_and_keywords():
    result = exchange_plan("15.2.1748.43", target="eems_minimal", esu_enrolled=True, today=TODAY)
    assert [s["update"] for s in result["steps"] if s["action"] == "install_su"] == ["Jun26SU"]
    assert result["reachable"] is True


def test_exchange_plan_policy_dict_and_keyword_override():
    facts = {"build": "15.2.1748.43", "dotnet_release": 528040, "roles": ["Mailbox"]}
    result = exchange_plan(facts, {"target": "latest", "esu_enrolled": True}, target="eems_minimal", today=TODAY)
    assert result["target"]["policy"] == "eems_minimal"
    assert result["target"]["build"] == "15.2.1748.46"


def test_exchange_plan_unreachable_target_is_not_a_failure():
    result = exchange_plan("15.1.2507.61", "15.2.2562.43", today=TODAY)
    assert result["reachable"] is False
    assert "no_upgrade_path" in [f["id"] for f in result["findings"]]


@pytest.mark.parametrize("facts, kwargs, quoted", [
    ("15.2.17x8.43", {}, "'15.2.17x8.43'"),
    ("15.2.1748.43", {"target": "15.2"}, "'15.2'"),
    ("15.2.1748.43", {"colour": "blue"}, "'colour'"),
    ({"dotnet_release": 528040}, {}, "build"),
])
def test_exchange_plan_bad_input_fails_with_the_value(facts, kwargs, quoted):
    with pytest.raises(AnsibleFilterError) as caught:
        exchange_plan(facts, today=TODAY, **kwargs)
    assert quoted in str(caught.value)


@pytest.mark.parametrize("name", ["exchange_build", "exchange_plan", "exchange_target"])
def test_sidecar_docs(name):
    with open(os.path.join(FILTER_DIR, name + ".yml"), encoding="utf-8") as handle:
        docs = yaml.safe_load(handle)
    assert set(docs) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert docs["DOCUMENTATION"]["name"] == name
    assert docs["DOCUMENTATION"]["positional"] == "_input"
    assert "onprem.exchange.%s" % name in docs["EXAMPLES"]


def test_exchange_build_docs_describe_every_returned_key():
    with open(os.path.join(FILTER_DIR, "exchange_build.yml"), encoding="utf-8") as handle:
        documented = set(yaml.safe_load(handle)["RETURN"]["_value"]["contains"])
    returned = set(exchange_build("15.2.1748.50", today=TODAY)) - {"input"}
    assert documented == returned


def test_exchange_plan_docs_describe_every_returned_key():
    with open(os.path.join(FILTER_DIR, "exchange_plan.yml"), encoding="utf-8") as handle:
        ret = yaml.safe_load(handle)["RETURN"]["_value"]["contains"]
    result = exchange_plan("15.2.1118.26", target="eems", today=TODAY)
    assert set(ret) == set(result)
    assert set(ret["steps"]["contains"]) == set(result["steps"][0])


def test_exchange_target_filter_names_option_and_allowed_values():
    from ansible_collections.onprem.exchange.plugins.filter.exchange import exchange_target
    assert exchange_target(" eems_minimal ") == "eems_minimal"
    with pytest.raises(AnsibleFilterError) as caught:
        exchange_target("bogus", "exchange_patch_target")
    assert "exchange_patch_target" in str(caught.value) and "latest, eems, eems_minimal" in str(caught.value)
