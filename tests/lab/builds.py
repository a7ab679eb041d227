"""The lab's own build table (facts copied from the team's reference CSV),
used to make a simulated server look right: the CU's release build for the
MSI registry values, and the KB of an installed SU."""
from __future__ import annotations

import csv
import functools
import os

_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "exchange_builds.csv")


def _key(build):
    return tuple(int(p) for p in build.split("."))


@functools.lru_cache(maxsize=1)
def _rows():
    with open(_CSV, encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle)]


def cu_release_build(build):
    """The RTM/CU build of the CU line ``build`` belongs to (same first three
    parts, lowest revision listed), or ``build`` itself when unknown."""
    line = _key(build)[:3]
    candidates = [r["build"] for r in _rows() if _key(r["build"])[:3] == line and r["kind"] in ("CU", "RTM")]
    return min(candidates, key=_key) if candidates else build


def update_for(build):
    """The catalog row of exactly ``build``, or None."""
    for row in _rows():
        if row["build"] == build:
            return row
    return None


def long_form(build):
    """ExSetup's file-version form: 15.02.1748.053."""
    major, minor, cu, rev = build.split(".")
    return "%s.%02d.%04d.%03d" % (major, int(minor), int(cu), int(rev))
