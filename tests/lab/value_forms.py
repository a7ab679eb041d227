"""What real Exchange servers return, per product line, for the values the
host scripts read: data/exchange_value_forms.yml, derived from CSS-Exchange's
HealthChecker exports of real servers (scripts/derive_exchange_value_forms.py).

The lab's operation models answer in these forms, not in the forms our
scripts would like: properties a build lacks come back as null.
"""
from __future__ import annotations

import functools
import os

import yaml

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "exchange_value_forms.yml")
PRODUCT_LINES = {"15.0": "2013", "15.1": "2016", "15.2": "2019"}


@functools.lru_cache(maxsize=None)
def table():
    with open(DATA, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _parts(build):
    return [int(p) for p in str(build).split(".")]


def product_line(build):
    """'2013', '2016' or '2019' (SE shares 15.2 with 2019)."""
    major, minor = _parts(build)[:2]
    return PRODUCT_LINES.get("%d.%d" % (major, minor))


def has_eems_properties(build):
    """Whether Get-ExchangeServer on this build has MitigationsEnabled & co."""
    major, minor, cu = _parts(build)[:3]
    first = table()["lab"]["eems_properties_from"]["builds"].get("%d.%d" % (major, minor))
    return first is not None and cu >= first


def organization_object_version(builds):
    """The organisation container's objectVersion once every build in
    ``builds`` has prepared AD: the highest value of their CU lines (None
    when none is known)."""
    by_cu = table()["lab"]["organization_object_version"]["by_cu"]
    values = [by_cu.get(".".join(str(p) for p in _parts(b)[:3])) for b in builds]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def form(cmdlet, prop, line):
    """The recorded form of ``prop`` of ``cmdlet`` on product line ``line``."""
    return table()["cmdlets"][cmdlet]["properties"][prop][line]
