"""The Office Config Service stand-in and the cut-off rules it applies.

The simulated Mitigation Service on each server asks this service over real
HTTP, sending its build; the answer depends on that build exactly as the
real service's certificate changes make it depend.
"""
from __future__ import annotations

import datetime as _dt
import os

import yaml

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "ocs_cutoffs.yml")


def _parts(build):
    return tuple(int(p) for p in build.split("."))


class CutoffRules:
    def __init__(self, path=_DATA):
        with open(path, encoding="utf-8") as handle:
            self.raw = yaml.safe_load(handle)
        self.new_definitions_from = _dt.date.fromisoformat(self.raw["new_definitions_from"])
        self.definitions = self.raw["definitions"]

    @staticmethod
    def _meets(table, build):
        parts = _parts(build)
        key = "%d.%d.%d" % parts[:3]
        if key in table:
            return parts >= _parts(table[key])
        same_product = [_parts(k + ".0")[:3] for k in table if _parts(k + ".0")[:2] == parts[:2]]
        if not same_product:
            return False
        return parts[:3] > max(same_product)

    def fetch_ok(self, build):
        """Meets the March 2023 cut-off: can talk to OCS at all.  2013 has no EEMS."""
        return not build.startswith("15.0.") and self._meets(self.raw["march_2023"], build)

    def new_definitions_ok(self, build):
        """Meets the June 2026 cut-off: can use definitions from July 2026 on."""
        return self.fetch_ok(build) and self._meets(self.raw["june_2026"], build)

    def answer(self, build):
        """(HTTP status, JSON body) the stand-in returns to a server on ``build``."""
        if not self.fetch_ok(build):
            return 495, {"error": "untrusted_endpoint",
                         "message": "The client could not validate the service certificate (retired certificate type)."}
        usable = self.new_definitions_ok(build)
        definitions = []
        for definition in self.definitions:
            published = _dt.date.fromisoformat(definition["published"])
            entry = dict(definition)
            entry["usable"] = usable or published < self.new_definitions_from
            if not entry["usable"]:
                entry["reason"] = "published after the June 2026 cut-off: not accepted below the June 2026 SU"
            definitions.append(entry)
        return 200, {"definitions": definitions}
