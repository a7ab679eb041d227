"""Build strings as admins meet them: parsing, normalising, ordering, errors."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import (
    ExchangeBuild,
    ExchangeBuildError,
    parse_build,
)


@pytest.mark.parametrize("text, expected, form", [
    ("15.2.1748.10", "15.2.1748.10", "dotted"),
    ("15.02.1748.010", "15.2.1748.10", "exsetup"),
    ("15.02.1748.037", "15.2.1748.37", "exsetup"),
    ("Version 15.2 (Build 1748.10)", "15.2.1748.10", "admin_display_version"),
    ("version 15.1 (build 2507.6)", "15.1.2507.6", "admin_display_version"),
    ("  15.0.1497.48\n", "15.0.1497.48", "dotted"),
    ("15.00.1497.048", "15.0.1497.48", "exsetup"),
])
def test_every_admin_form_normalises(text, expected, form):
    build = parse_build(text)
    assert str(build) == expected
    assert build.source_form == form


def test_exsetup_long_form_round_trips():
    build = parse_build("15.2.1748.10")
    assert build.long_form() == "15.02.1748.010"
    assert parse_build(build.long_form()) == build


def test_forms_of_one_build_are_equal_and_hash_alike():
    forms = {parse_build("15.2.1748.10"), parse_build("15.02.1748.010"), parse_build("Version 15.2 (Build 1748.10)")}
    assert len(forms) == 1


@pytest.mark.parametrize("older, newer", [
    # Part-by-part comparison gets this wrong (the revision 12 < 40).
    ("15.2.1118.40", "15.2.1258.12"),
    ("15.2.1748.9", "15.2.1748.10"),
    ("15.02.1748.039", "15.2.1748.42"),
    ("15.2.1748.53", "15.2.2562.17"),
    ("15.1.2507.75", "15.2.221.12"),
])
def test_ordering_compares_whole_versions(older, newer):
    assert parse_build(older) < parse_build(newer)
    assert parse_build(newer) > parse_build(older)
    assert max(parse_build(older), parse_build(newer)) == parse_build(newer)


@pytest.mark.parametrize("bad", [
    "", "   ", "15.2.1748", "15.2.1748.10.1", "abc", "15.2.x.10", "15,2,1748,10",
    "Version 15.2 Build 1748.10", "2026-11-26", "15.2.1748.10a", "v15.2.1748.10", "1.2.3.4.5",
    "15.2.1748.1234567",
])
def test_malformed_strings_raise_an_error_that_quotes_them(bad):
    with pytest.raises(ExchangeBuildError) as caught:
        parse_build(bad)
    assert "'%s'" % bad in str(caught.value)
    assert "15.2.1748.10" in str(caught.value)  # the message shows a valid example


@pytest.mark.parametrize("bad", [None, 15.2, 1748, ["15.2.1748.10"]])
def test_non_strings_are_rejected_with_their_repr(bad):
    with pytest.raises(ValueError) as caught:
        parse_build(bad)
    assert repr(bad) in str(caught.value)


def test_error_is_a_value_error():
    assert issubclass(ExchangeBuildError, ValueError)


def test_builds_are_immutable():
    build = parse_build("15.2.1748.10")
    with pytest.raises(AttributeError):
        build.revision = 11
    assert str(build) == "15.2.1748.10"


def test_admin_display_version_is_flagged_as_hiding_updates():
    assert parse_build("Version 15.2 (Build 1748.10)").shows_updates is False
    assert parse_build("15.02.1748.010").shows_updates is True


def test_parse_accepts_an_existing_build():
    build = ExchangeBuild(15, 2, 2562, 53)
    assert ExchangeBuild.parse(build) is build
    assert build.cu_key == (15, 2, 2562)
