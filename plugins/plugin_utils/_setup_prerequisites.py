# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Setup's software prerequisites: the Visual C++ 2012/2013 runtimes and UCMA 4.0.

For internal collection use only; the interface may change in any release.

Plain Python, no Ansible imports.  The facts (which package each product and
role needs, the minimum versions, how each is found, and the sources) live
in ``_data/setup_prerequisites.yml``; the host reads what is installed
(Get-ExchangeFacts' ``setup_prerequisites``).  ``gaps`` says what is missing
or older than the minimum on one server; ``setup_runs`` says whether a plan
runs Exchange Setup (a CU or the SE upgrade), because only Setup runs the
readiness check that refuses to start without them: a Security Update is an
.msp patch (unconfirmed on a real server; a missing package is then a
warning, not a blocker).  _readiness (preflight) and _host_facts (audit)
turn the gaps into findings.
"""
from __future__ import annotations

import fnmatch
import os

import yaml

from ._edge import is_edge_transport

DEFAULT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_data", "setup_prerequisites.yml")

# Plan actions that start Exchange Setup (and with it its readiness check).
SETUP_ACTIONS = ("install_cu", "upgrade_to_se")

_DATA = {}


def load(path=DEFAULT_PATH):
    """The shipped facts (read once)."""
    if path not in _DATA:
        with open(path, encoding="utf-8") as handle:
            _DATA[path] = yaml.safe_load(handle)
    return _DATA[path]


def _version_tuple(text):
    parts = []
    for part in str(text or "").strip().split(".")[:3]:
        if not part.isdigit():
            return None
        parts.append(int(part))
    return tuple(parts) if parts else None


def _from_number(number):
    """The Uninstall entry's Version DWORD (major << 24 | minor << 16 | build)."""
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        return None
    return (number >> 24, (number >> 16) & 0xFF, number & 0xFFFF)


def _text(version):
    return ".".join(str(part) for part in version)


def _newest_runtime(entries, pattern):
    """The newest version among Uninstall entries whose name matches, or
    (True, None) when one matches but names no readable version."""
    found, newest = False, None
    for entry in entries:
        name = entry.get("display_name") or ""
        if not fnmatch.fnmatchcase(name.lower(), pattern.lower()):
            continue
        found = True
        version = _from_number(entry.get("version_number")) or _version_tuple(entry.get("display_version"))
        if version is not None and (newest is None or version > newest):
            newest = version
    return found, newest


def required_packages(product, edge, data=None):
    """The package keys ``product`` needs on this role kind; an unknown
    product gets the union of every product's list (the safe side)."""
    data = data or load()
    kind = "edge" if edge else "mailbox"
    rules = data["requirements"]
    if product in rules:
        return list(rules[product][kind])
    keys = []
    for rule in rules.values():
        keys += [key for key in rule[kind] if key not in keys]
    return keys


def gaps(raw, product=None, data=None):
    """What ``raw`` (Get-ExchangeFacts' answer) lacks for ``product``.

    Returns None when the answer has no ``setup_prerequisites`` (an older
    script: unknown, never a finding), else a list of
    ``{package, name, where, state (missing|too_old), installed, minimum}``.
    """
    state = (raw or {}).get("setup_prerequisites")
    if not isinstance(state, dict):
        return None
    data = data or load()
    runtimes = state.get("vc_redistributables") or []
    found = []
    for key in required_packages(product, is_edge_transport(raw), data):
        package = data["packages"][key]
        minimum = _version_tuple(package.get("min_version"))
        if key == "ucma4":
            ucma = state.get("ucma") or {}
            present, installed = bool(ucma.get("installed")), _version_tuple(ucma.get("version"))
        else:
            present, installed = _newest_runtime(runtimes, package["display_name_like"])
        gap = {"package": key, "name": package["name"], "where": package["where"],
               "installed": _text(installed) if installed else None,
               "minimum": package.get("min_version"), "setup_rule": package.get("setup_rule")}
        if not present:
            found.append(dict(gap, state="missing"))
        elif minimum and installed and installed < minimum:
            found.append(dict(gap, state="too_old"))
    return found


def setup_runs(plan):
    """True when ``plan`` (the planner's output) runs Exchange Setup, False
    when it does not (SUs only, or nothing), None without a plan."""
    if not isinstance(plan, dict):
        return None
    return any(step.get("action") in SETUP_ACTIONS for step in plan.get("steps") or [])


def planned_product(plan):
    """The product Setup installs under ``plan`` (its target's), else the current one."""
    plan = plan if isinstance(plan, dict) else {}
    return (plan.get("target") or {}).get("product") or (plan.get("current") or {}).get("product")


def assess(raw, plan):
    """What ``raw`` (Get-ExchangeFacts' answer) lacks for ``plan`` (the
    planner's output, or None), split for a finding each: ``(missing, old,
    runs)``, the gaps missing and too old, and :func:`setup_runs`."""
    found = gaps(raw, planned_product(plan)) or []
    return ([g for g in found if g["state"] == "missing"], [g for g in found if g["state"] == "too_old"],
            setup_runs(plan))


def missing_text(missing):
    """The first sentence of a finding about missing packages."""
    return "; ".join(describe(g) for g in missing)


def old_text(old):
    """A finding's message about packages older than Health Checker expects (never a blocker)."""
    return ("%s (the minimum CSS-Exchange Health Checker expects; Setup's own check asks only that it is "
            "installed)." % "; ".join(describe(g) for g in old))


def describe(gap):
    """One line about a gap, for a finding's message."""
    if gap["state"] == "missing":
        return "%s is not installed" % gap["name"]
    return "%s is %s, older than %s" % (gap["name"], gap["installed"], gap["minimum"])


def fix(gaps_found):
    """What to install, and from where, for a list of gaps."""
    return "; ".join("Install %s%s from %s" % (
        g["name"], " (%s or later)" % g["minimum"] if g["minimum"] else "", g["where"]) for g in gaps_found) + "."
