# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interim mitigations: definitions, recognition by behaviour, rule-level plans.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports and no clock. The definitions are data
(``_data/mitigations.yml``); this module judges a server's URL Rewrite
configuration against them and computes the smallest list of changes.

The configuration (what ``Get-RewriteConfiguration`` returns) is::

    {"site": "Default Web Site",
     "applications": ["/owa", "/ecp", ...],
     "locations": {"": {"inbound": [...], "outbound": [...], "preconditions": [...]},
                   "/owa": {...}}}

A location's collections hold entries in the order IIS merges them: first
those of its ``<location path="Default Web Site/...">`` in applicationHost.config
(``"source": "apphost"``), then its own web.config (``"source": "web.config"``,
the default); a child path's entries follow its parent's. The site's
location ("") starts with applicationHost.config's server-level section,
outside any <location>, which every site inherits (``"source": "apphost-root"``). That is the order
CSS-Exchange's Health Checker established by testing (Get-URLRewriteRule.ps1:
a path's web.config, then applicationHost.config for the same location,
then one level up, and the global rules last, walking upwards). A rule
(``{"entry": "rule", "name", "enabled", "pattern_syntax", "stop_processing",
"match", "logical_grouping", "conditions", "action", "precondition"}``), a
precondition (``{"entry": "precondition", "name", "logical_grouping",
"pattern_syntax", "conditions"}``), ``{"entry": "remove", "name"}`` or
``{"entry": "clear"}``. What is in force at a path is the site's entries,
then each application's down to the path, with remove and clear applied in
order, as IIS merges configuration.

A change (what ``Set-RewriteRules`` applies, in order) is one of::

    {"op": "add_rule", "path", "collection": "inbound"|"outbound", "rule"}
    {"op": "remove_rule", "path", "collection", "name"}
    {"op": "delete_entry", "path", "collection", "name"}     # a <remove name=...>
    {"op": "add_precondition", "path", "precondition"}
    {"op": "remove_precondition", "path", "name"}

A removal carries ``"config": "apphost"`` (or ``"apphost-root"``) when the entry lives in
applicationHost.config (for example a stale rule under
``<location path="Default Web Site/Autodiscover">``, as in CSS-Exchange
issue 2003); the host edits that file there, after backing it up. Rules are
only ever added to web.config files. A rule is added first in its web.config
collection (after leading remove/clear entries), so a rule that stops
processing cannot shadow it.
"""
from __future__ import annotations

import copy
import functools
import os
from xml.sax.saxutils import quoteattr

import yaml

from ._exchange_build import ExchangeBuild, ExchangeBuildError

DEFAULT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_data", "mitigations.yml")

COLLECTIONS = ("inbound", "outbound", "preconditions")
EEMS_PREFIX = "EEMS "

# Reason codes for a rule that belongs to a mitigation but does not provide
# it, with the severity a person should give them.
SEVERITY = {
    "match_url_star": "critical",
    "removed_below_site": "critical",
    "input_superseded": "warning",
    "pattern_superseded": "warning",
    "disabled": "warning",
    "wildcard_syntax": "warning",
    "conditions_differ": "warning",
    "action_differs": "warning",
    "match_differs": "warning",
    "value_differs": "warning",
    "precondition_differs": "warning",
    "duplicate": "info",
}


class MitigationError(ValueError):
    """Bad definitions, an unknown mitigation, or a configuration the plan cannot work on."""


# --- definitions ------------------------------------------------------------

def _norm_conditions(conditions):
    return [{"input": str(c["input"]), "pattern": str(c["pattern"]),
             "ignore_case": bool(c.get("ignore_case", True)), "negate": bool(c.get("negate", False))}
            for c in conditions or []]


def _check_rule_spec(where, spec):
    for key in ("key", "name", "direction", "match", "action"):
        if key not in spec:
            raise MitigationError("%s: rule needs %r" % (where, key))
    if spec["direction"] not in ("inbound", "outbound"):
        raise MitigationError("%s: direction must be inbound or outbound" % where)
    if spec["direction"] == "outbound" and "precondition" not in spec:
        raise MitigationError("%s: an outbound rule needs its precondition" % where)
    spec.setdefault("path", "")
    spec.setdefault("protects_paths", [])
    spec.setdefault("pattern_syntax", "ECMAScript")
    spec.setdefault("stop_processing", False)
    spec.setdefault("logical_grouping", "MatchAll")
    spec["conditions"] = _norm_conditions(spec.get("conditions"))
    spec["action"].setdefault("value", "")
    spec.setdefault("accepted_actions", [spec["action"]["type"]])
    spec.setdefault("superseded_inputs", {})
    spec.setdefault("superseded_patterns", {})
    if "precondition" in spec:
        pre = spec["precondition"]
        pre.setdefault("equivalent_names", [])
        pre.setdefault("logical_grouping", "MatchAll")
        pre.setdefault("pattern_syntax", "ECMAScript")
        pre["conditions"] = _norm_conditions(pre.get("conditions"))


def parse_definitions(data, source="<mitigations>"):
    """Validate parsed mitigations data and fill in defaults."""
    if not isinstance(data, dict) or not isinstance(data.get("mitigations"), list):
        raise MitigationError("%s: expected a mapping with a 'mitigations' list" % source)
    data = copy.deepcopy(data)
    seen = set()
    for index, definition in enumerate(data["mitigations"]):
        where = "%s: mitigations[%d]" % (source, index)
        for key in ("name", "cve", "title", "rules"):
            if not definition.get(key):
                raise MitigationError("%s needs %r" % (where, key))
        for ident in (definition["name"].lower(), definition["cve"].upper()):
            if ident in seen:
                raise MitigationError("%s: %s is defined twice" % (where, ident))
            seen.add(ident)
        definition.setdefault("also_covers", [])
        definition.setdefault("side_effects", [])
        definition.setdefault("fixed_builds", {})
        definition.setdefault("after_fix", "remove")
        if definition["after_fix"] not in ("remove", "keep"):
            raise MitigationError("%s: after_fix must be remove or keep" % where)
        equivalents = definition.setdefault("equivalents", {})
        for tool in ("eems", "eomt", "manual"):
            equivalents[tool] = list(equivalents.get(tool) or [])
        for rule_index, spec in enumerate(definition["rules"]):
            _check_rule_spec("%s.rules[%d]" % (where, rule_index), spec)
    data.setdefault("site", "Default Web Site")
    data.setdefault("url_rewrite", {})
    data["url_rewrite"].setdefault("min_version", "7.2.1993")
    data["url_rewrite"].setdefault("min_file_version", "7.1.1993")
    return data


@functools.lru_cache(maxsize=4)
def _load_cached(path, mtime_ns):
    del mtime_ns  # only part of the cache key, so an edited file is read again
    with open(path, encoding="utf-8") as handle:
        return parse_definitions(yaml.safe_load(handle), source=os.path.basename(path))


def load_definitions(path=None):
    """The mitigation data (a fresh copy each call; callers may change it)."""
    path = path or DEFAULT_PATH
    return copy.deepcopy(_load_cached(path, os.stat(path).st_mtime_ns))


def select(data, name):
    """Definitions for ``name``: a mitigation name, a CVE it covers, or ``all``."""
    wanted = (name or "").strip()
    if wanted.lower() == "all":
        return list(data["mitigations"])
    for definition in data["mitigations"]:
        if wanted.lower() == definition["name"].lower() or wanted.upper() in \
                [definition["cve"].upper()] + [c.upper() for c in definition["also_covers"]]:
            return [definition]
    known = ", ".join("%s (%s)" % (d["name"], d["cve"]) for d in data["mitigations"])
    raise MitigationError("unknown mitigation %r; known: %s, or all" % (name, known))


def configuration_from_host(raw):
    """The configuration shape used here from Get-RewriteConfiguration's data."""
    locations = {}
    for location in raw.get("locations") or []:
        locations[location.get("path") or ""] = {c: list(location.get(c) or []) for c in COLLECTIONS}
    return {"site": raw.get("site") or "Default Web Site", "applications": list(raw.get("applications") or []),
            "locations": locations}


# --- code fix ---------------------------------------------------------------

def code_fix_status(definition, build, catalog=None):
    """True when ``build`` carries the code fix, False when not, None when
    nobody can tell. ``fixed_builds`` in the data wins; otherwise the build
    catalog (``catalog.cve_status``) decides."""
    parsed = ExchangeBuild.parse(build)
    fixed_builds = definition.get("fixed_builds") or {}
    if fixed_builds:
        line = "%d.%d" % (parsed.major, parsed.minor)
        minimum = fixed_builds.get(line)
        return None if minimum is None else parsed >= ExchangeBuild.parse(minimum)
    if catalog is None:
        return None
    fixed, still_open = catalog.cve_status(parsed)[:2]
    if definition["cve"] in fixed:
        return True
    if definition["cve"] in still_open:
        return False
    return None


def resolve_state(state, fix_status, keep_after_fix=False):
    """``auto`` means present while the code fix is missing (or unknown).
    Once the fix is in, ``auto`` means absent, or ``keep`` when the
    mitigation's guidance is to keep it in place after the fix
    (``keep_after_fix``): what is there stays (and is repaired), nothing is
    added."""
    if state != "auto":
        return state
    if fix_status is not True:
        return "present"
    return "keep" if keep_after_fix else "absent"


def keeps_after_fix(definition, remove_after_fix=False):
    """Whether ``auto`` keeps this mitigation once the code fix is installed."""
    return bool(definition.get("after_fix") == "keep") and not remove_after_fix


# --- reading a configuration --------------------------------------------------

def _key(path):
    return (path or "").rstrip("/").lower()


def _locations(config):
    return config.get("locations") or {}


def _location_name(config, path):
    """The configuration's own spelling of ``path`` (IIS paths ignore case)."""
    for name in _locations(config):
        if _key(name) == _key(path):
            return name
    return path


def _entries(config, path, collection):
    location = _locations(config).get(_location_name(config, path)) or {}
    return location.get(collection) or []


def _chain(config, path):
    """Locations whose configuration applies at ``path``, site first."""
    target = _key(path)
    found = [name for name in _locations(config)
             if _key(name) == "" or target == _key(name) or target.startswith(_key(name) + "/")]
    return sorted(found, key=lambda name: _key(name).count("/") + (1 if _key(name) else 0))


def effective(config, path, collection):
    """``[(entry, defining location)]`` in force at ``path``."""
    result = []
    for location in _chain(config, path):
        for entry in _entries(config, location, collection):
            kind = entry.get("entry", "rule")
            if kind == "clear":
                result = []
            elif kind == "remove":
                result = [item for item in result if item[0].get("name", "").lower() != entry.get("name", "").lower()]
            else:
                result.append((entry, location))
    return result


def _applications(config):
    return list(config.get("applications") or [])


def _has_application(config, path):
    return _key(path) == "" or any(_key(a) == _key(path) for a in _applications(config))


def owner_of(data, name):
    """Which tool made a rule, judged by its name: eems, eomt, onprem.exchange or manual."""
    if name.startswith(EEMS_PREFIX):
        return "eems"
    for definition in data["mitigations"]:
        if name in definition["equivalents"]["eomt"]:
            return "eomt"
        if any(name == spec["name"] for spec in definition["rules"]):
            return "onprem.exchange"
    return "manual"


def eems_id(name):
    """``EEMS M1.1 PowerShell - inbound`` -> ``M1.1``."""
    parts = name.split()
    return parts[1] if name.startswith(EEMS_PREFIX) and len(parts) > 1 else None


def _known_names(definition, spec):
    names = {spec["name"].lower()} | {n.lower() for n in spec.get("equivalent_names") or []}
    if len(definition["rules"]) == 1:
        # With several rules, a tool's names must not tie one rule to another.
        names.update(n.lower() for n in definition["equivalents"]["eomt"] + definition["equivalents"]["manual"])
    return names


def _eems_owned_by(definition, name):
    ident = eems_id(name)
    if not ident:
        return False
    return any(ident == base or ident.startswith(base + ".") for base in definition["equivalents"]["eems"])


def related(definition, spec, entry):
    """Does ``entry`` belong to this mitigation rule (any version of it, by
    behaviour first, name second)?"""
    if entry.get("entry", "rule") != "rule":
        return False
    name = entry.get("name", "")
    patterns = {c["pattern"].lower() for c in spec["conditions"]}
    patterns.update(p.lower() for p in spec["superseded_patterns"])
    if spec["direction"] == "inbound":
        if any((c.get("pattern") or "").lower() in patterns for c in entry.get("conditions") or []):
            return True
    else:
        match = entry.get("match") or {}
        if (match.get("server_variable") or "").lower() == spec["match"]["server_variable"].lower() \
                and spec["action"]["value"].split(";")[-1].strip() in ((entry.get("action") or {}).get("value") or ""):
            return True
    if name.lower() in _known_names(definition, spec):
        return True
    # An EEMS rule for this mitigation's ID whose content has drifted.
    return _eems_owned_by(definition, name) and len(definition["rules"]) == 1


def _condition_key(condition):
    return ((condition.get("input") or "").lower(), condition.get("pattern") or "",
            bool(condition.get("negate", False)))


def _precondition_problems(config, path, spec, rule):
    wanted = spec["precondition"]
    name = rule.get("precondition") or ""
    if not name:
        return ["precondition_differs"]
    found = [p for p, _where in effective(config, path, "preconditions") if p.get("name", "").lower() == name.lower()]
    if not found:
        return ["precondition_differs"]
    pre = found[-1]
    have = {_condition_key(c) for c in pre.get("conditions") or []}
    need = {_condition_key(c) for c in wanted["conditions"]}
    if not need <= have or (pre.get("logical_grouping") or "MatchAll") != "MatchAll":
        return ["precondition_differs"]
    return []


def problems(config, path, spec, entry):
    """Reason codes why ``entry`` (related to ``spec``) does not provide the
    mitigation at ``path``; empty when it is equivalent."""
    reasons = []
    if not entry.get("enabled", True):
        reasons.append("disabled")
    syntax = (entry.get("pattern_syntax") or "ECMAScript")
    if syntax.lower() != "ecmascript":
        reasons.append("wildcard_syntax")
    match = entry.get("match") or {}
    action = entry.get("action") or {}
    if action.get("type") not in spec["accepted_actions"]:
        reasons.append("action_differs")
    if spec["direction"] == "inbound":
        url = match.get("url", "")
        if url == "*" and syntax.lower() != "wildcard":
            reasons.append("match_url_star")
        elif url != spec["match"]["url"] or match.get("negate"):
            reasons.append("match_differs")
        inputs = {(c.get("input") or "") for c in entry.get("conditions") or []}
        if inputs & set(spec["superseded_inputs"]):
            reasons.append("input_superseded")
        patterns = {(c.get("pattern") or "") for c in entry.get("conditions") or []}
        if {p.lower() for p in patterns} & {p.lower() for p in spec["superseded_patterns"]}:
            reasons.append("pattern_superseded")
        have = sorted(_condition_key(c) for c in entry.get("conditions") or [])
        need = sorted(_condition_key(c) for c in spec["conditions"])
        ignore_case_ok = all(c.get("ignore_case", True) for c in entry.get("conditions") or [])
        grouping_ok = len(have) <= 1 or (entry.get("logical_grouping") or "MatchAll") == "MatchAll"
        if (have != need or not ignore_case_ok or not grouping_ok) \
                and "input_superseded" not in reasons and "pattern_superseded" not in reasons:
            reasons.append("conditions_differ")
    else:
        if (match.get("server_variable") or "").lower() != spec["match"]["server_variable"].lower() \
                or match.get("pattern") != spec["match"]["pattern"] or match.get("negate"):
            reasons.append("match_differs")
        if action.get("value") != spec["action"]["value"]:
            reasons.append("value_differs")
        reasons += _precondition_problems(config, path, spec, entry)
    return reasons


_REASON_TEXT = {
    "disabled": "is disabled, so it protects nothing",
    "wildcard_syntax": "uses wildcard or exact-match syntax, so the regular expression never matches",
    "match_url_star": 'matches url="*", an invalid regular expression: every request below it fails with HTTP 500',
    "match_differs": "matches a different URL or server variable than the mitigation",
    "action_differs": "does not abort the request",
    "value_differs": "writes a different header value",
    "precondition_differs": "has no precondition limiting it to the OWA HTML shell, or a different one",
    "conditions_differ": "tests different conditions",
    "duplicate": "duplicates another rule that already provides the mitigation",
}


def _reason_text(spec, entry, reason):
    if reason == "input_superseded":
        bad = [c["input"] for c in entry.get("conditions") or [] if c.get("input") in spec["superseded_inputs"]]
        return "reads %s: %s" % (bad[0], spec["superseded_inputs"][bad[0]])
    if reason == "pattern_superseded":
        lowered = {p.lower(): p for p in spec["superseded_patterns"]}
        bad = [c["pattern"] for c in entry.get("conditions") or [] if (c.get("pattern") or "").lower() in lowered]
        return "uses the superseded pattern %s: %s" % (bad[0], spec["superseded_patterns"][lowered[bad[0].lower()]])
    return _REASON_TEXT[reason]


# --- assessment ----------------------------------------------------------------

def _rule_label(location, name):
    return "%r at %s" % (name, location or "/")


def _protects(config, spec, path):
    return [entry for entry, loc in effective(config, path, spec["direction"])
            if not problems(config, path, spec, entry)]


def _all_rules(config, collection):
    for location in list(_locations(config)):
        for entry in _entries(config, location, collection):
            if entry.get("entry", "rule") == "rule":
                yield location, entry


def assess(data, definition, config):
    """What protects the server against this mitigation's flaw, and what is wrong.

    Returns ``{"present": bool, "rules": [...], "findings": [...]}``: per rule
    of the definition, the equivalent rules in force (with their owner) and
    the paths it must protect but does not; findings for every related rule
    that is dangerous, stale, disabled or duplicated.
    """
    rules, findings = [], []
    for spec in definition["rules"]:
        path = spec["path"]
        in_force = _protects(config, spec, path)
        providers = [{"name": e["name"], "owner": owner_of(data, e["name"])} for e in in_force]
        unprotected = []
        for child in spec["protects_paths"]:
            if _has_application(config, child) and in_force and not _protects(config, spec, child):
                unprotected.append(child)
                findings.append(_finding(definition, "removed_below_site", None, child,
                                         "the rule %s is removed or cleared below the site, so %s is unprotected"
                                         % (_rule_label(path, in_force[0]["name"]), child)))
        for location, entry in _all_rules(config, spec["direction"]):
            if not related(definition, spec, entry):
                continue
            reasons = problems(config, location, spec, entry)
            for reason in reasons:
                findings.append(_finding(definition, reason, entry["name"], location,
                                         "rule %s %s" % (_rule_label(location, entry["name"]),
                                                         _reason_text(spec, entry, reason))))
        for extra in in_force[1:]:
            findings.append(_finding(definition, "duplicate", extra["name"], path,
                                     "rule %s %s" % (_rule_label(path, extra["name"]), _REASON_TEXT["duplicate"])))
        rules.append({"key": spec["key"], "present": bool(in_force) and not unprotected,
                      "providers": providers, "unprotected_paths": unprotected})
    return {"present": all(r["present"] for r in rules), "rules": rules, "findings": findings}


def _finding(definition, code, rule, path, message):
    return {"id": code, "severity": SEVERITY.get(code, "warning"), "cve": definition["cve"],
            "rule": rule, "path": path or "/", "owner": None, "message": message}


def dangerous_rules(config):
    """Every rule anywhere that matches url="*" with regular-expression syntax:
    whatever it is for, it breaks its path with HTTP 500."""
    found = []
    for collection in ("inbound",):
        for location, entry in _all_rules(config, collection):
            if (entry.get("match") or {}).get("url") == "*" and \
                    (entry.get("pattern_syntax") or "ECMAScript").lower() != "wildcard":
                found.append({"id": "match_url_star", "severity": "critical", "cve": None, "rule": entry["name"],
                              "path": location or "/", "owner": None,
                              "message": "rule %s %s" % (_rule_label(location, entry["name"]),
                                                         _REASON_TEXT["match_url_star"])})
    return found


# --- applying changes (the same semantics the host script has) -----------------

def canonical_rule(spec):
    """The exact rule this collection writes for ``spec``."""
    match = {"ignore_case": True, "negate": False}
    match.update(spec["match"])
    rule = {"entry": "rule", "name": spec["name"], "enabled": True, "pattern_syntax": spec["pattern_syntax"],
            "stop_processing": bool(spec["stop_processing"]), "match": match,
            "logical_grouping": spec["logical_grouping"], "conditions": copy.deepcopy(spec["conditions"]),
            "action": {"type": spec["action"]["type"], "value": spec["action"].get("value", "")},
            "precondition": ""}
    if spec["direction"] == "outbound":
        rule["precondition"] = spec["precondition"]["name"]
    return rule


def canonical_precondition(spec):
    pre = spec["precondition"]
    return {"entry": "precondition", "name": pre["name"], "logical_grouping": pre["logical_grouping"],
            "pattern_syntax": pre["pattern_syntax"], "conditions": copy.deepcopy(pre["conditions"])}


def _collection_list(config, path, collection, create=False):
    locations = config.setdefault("locations", {})
    name = _location_name(config, path)
    if name not in locations:
        if not create:
            raise MitigationError("no rewrite configuration at %s" % (path or "/"))
        locations[name] = {c: [] for c in COLLECTIONS}
    return locations[name].setdefault(collection, [])


APPHOST = "apphost"
APPHOST_ROOT = "apphost-root"
APPHOST_SOURCES = (APPHOST_ROOT, APPHOST)


def source_of(entry):
    """Where an entry lives: ``apphost-root`` (applicationHost.config outside
    any <location>: every site), ``apphost`` (its <location> for the path) or
    ``web.config``."""
    return entry.get("source") if entry.get("source") in APPHOST_SOURCES else "web.config"


def _index_of(entries, kind, name, source=None):
    for index, entry in enumerate(entries):
        if entry.get("entry", "rule") == kind and (name is None or entry.get("name", "").lower() == name.lower()) \
                and (source is None or source_of(entry) == source):
            return index
    return None


def _where(change, entry=None):
    """``{"config": "apphost"}`` (or ``apphost-root``) for a change to an
    applicationHost.config entry; nothing for web.config."""
    source = source_of(entry) if entry is not None else change.get("config")
    return {"config": source} if source in APPHOST_SOURCES else {}


def apply_change(config, change):
    """Apply one change to ``config`` in place; raises MitigationError as the
    host would refuse it."""
    op = change["op"]
    path = change.get("path", "")
    if op in ("add_rule", "add_precondition"):
        collection = "preconditions" if op == "add_precondition" else change["collection"]
        entry = change["precondition" if op == "add_precondition" else "rule"]
        kind = entry.get("entry", "rule")
        if change.get("config") in APPHOST_SOURCES:
            raise MitigationError("rules are added to web.config files only, not applicationHost.config")
        entries = _collection_list(config, path, collection, create=True)
        if _index_of(entries, kind, entry["name"], "web.config") is not None:
            raise MitigationError("%s %r already exists at %s" % (kind, entry["name"], path or "/"))
        # After everything applicationHost.config holds for this path (IIS
        # reads it first), then after web.config's leading remove/clear.
        position = 0
        while position < len(entries) and source_of(entries[position]) in APPHOST_SOURCES:
            position += 1
        while position < len(entries) and entries[position].get("entry") in ("remove", "clear"):
            position += 1
        added = copy.deepcopy(entry)
        added.pop("source", None)
        entries.insert(position, added)
        return
    if op in ("remove_rule", "remove_precondition", "delete_entry"):
        collection = "preconditions" if op == "remove_precondition" else change["collection"]
        kind = {"remove_rule": "rule", "remove_precondition": "precondition", "delete_entry": "remove"}[op]
        entries = _collection_list(config, path, collection)
        source = change.get("config") if change.get("config") in APPHOST_SOURCES else "web.config"
        index = _index_of(entries, kind, change["name"], source)
        if index is None:
            raise MitigationError("no %s %r at %s in %s" % (kind, change["name"], path or "/", source))
        del entries[index]
        return
    raise MitigationError("unknown change %r" % (op,))


def apply_changes(config, changes):
    result = copy.deepcopy(config)
    for change in changes:
        apply_change(result, change)
    return result


# --- planning -------------------------------------------------------------------

def _removal(data, location, collection, entry, blocks):
    ident = eems_id(entry["name"]) if owner_of(data, entry["name"]) == "eems" else None
    if ident and ident not in blocks:
        blocks.append(ident)
    return dict({"op": "remove_rule", "path": location, "collection": collection, "name": entry["name"],
                 "owner": owner_of(data, entry["name"])}, **_where(None, entry))


def _keep_order(data, item):
    # Keep the Mitigation Service's own rule when there are several: removing
    # it would first need blocking the mitigation.
    rank = {"eems": 0, "eomt": 1, "onprem.exchange": 2, "manual": 3}
    return rank[owner_of(data, item[0]["name"])]


def _plan_present(data, definition, config, repair, changes, blocks):
    for spec in definition["rules"]:
        collection, path = spec["direction"], spec["path"]
        if not _has_application(config, path):
            raise MitigationError("%s needs the application %s under %s, which this server does not have"
                                  % (definition["cve"], path, data["site"]))

        def step(change):
            apply_change(config, change)
            changes.append(change)

        providers = [(e, loc) for e, loc in effective(config, path, collection)
                     if related(definition, spec, e) and not problems(config, path, spec, e)]
        if not providers:
            entries = _entries(config, path, collection)
            own = _index_of(entries, "rule", spec["name"])
            if own is not None:  # our own rule, edited by hand: put it right
                step(dict({"op": "remove_rule", "path": path, "collection": collection, "name": spec["name"],
                           "owner": "onprem.exchange"}, **_where(None, entries[own])))
            if collection == "outbound":
                pre_name = spec["precondition"]["name"]
                pres = _entries(config, path, "preconditions")
                pre = _index_of(pres, "precondition", pre_name)
                if pre is not None:
                    step(dict({"op": "remove_precondition", "path": path, "name": pre_name}, **_where(None, pres[pre])))
                step({"op": "add_precondition", "path": path, "precondition": canonical_precondition(spec)})
            step({"op": "add_rule", "path": path, "collection": collection, "rule": canonical_rule(spec)})
            providers = [(e, loc) for e, loc in effective(config, path, collection)
                         if related(definition, spec, e) and not problems(config, path, spec, e)]
        kept = sorted(providers, key=lambda item: _keep_order(data, item))[0]
        for child in spec["protects_paths"]:
            if not _has_application(config, child):
                continue
            for _attempt in range(8):
                if _protects(config, spec, child):
                    break
                step(_unblock(config, spec, path, child, kept[0]["name"]))
        if repair:
            # Stale, dangerous and disabled variants anywhere; duplicates of
            # the kept rule where it is in force. A copy re-added below a
            # <clear/> is needed there and stays.
            duplicates = [(e, loc) for e, loc in providers if e is not kept[0]]
            for location, entry in list(_all_rules(config, collection)):
                if entry is kept[0] or not related(definition, spec, entry):
                    continue
                if problems(config, location, spec, entry) or \
                        any(entry is e and _key(location) == _key(loc) for e, loc in duplicates):
                    step(_removal(data, location, collection, entry, blocks))


def _unblock(config, spec, path, child, name):
    """The change that lets the site rule reach ``child`` again: delete the
    <remove> that drops it, or re-add the rule after a <clear/>."""
    for location in _chain(config, child):
        if _key(location) == _key(path) or not _key(location).startswith(_key(path)):
            continue
        for entry in _entries(config, location, spec["direction"]):
            if entry.get("entry") == "remove" and entry.get("name", "").lower() == name.lower():
                return dict({"op": "delete_entry", "path": location, "collection": spec["direction"],
                             "name": entry["name"]}, **_where(None, entry))
            if entry.get("entry") == "clear":
                return {"op": "add_rule", "path": location, "collection": spec["direction"],
                        "rule": canonical_rule(spec)}
    raise MitigationError("cannot tell why %s is not protected at %s" % (spec["name"], child))


def _plan_absent(data, definition, config, changes, blocks):
    for spec in definition["rules"]:
        collection = spec["direction"]
        for location, entry in list(_all_rules(config, collection)):
            if related(definition, spec, entry):
                change = _removal(data, location, collection, entry, blocks)
                apply_change(config, change)
                changes.append(change)
        if collection == "outbound":
            names = {spec["precondition"]["name"].lower()} | {n.lower() for n in spec["precondition"]["equivalent_names"]}
            still_used = {(e.get("precondition") or "").lower() for _where, e in _all_rules(config, "outbound")}
            for location in list(_locations(config)):
                for entry in list(_entries(config, location, "preconditions")):
                    name = entry.get("name", "")
                    if entry.get("entry") == "precondition" and name.lower() in names and name.lower() not in still_used:
                        change = dict({"op": "remove_precondition", "path": location, "name": name},
                                      **_where(None, entry))
                        apply_change(config, change)
                        changes.append(change)


def in_place(definition, config):
    """Whether any rule of this mitigation (in any form, working or not) is
    in the configuration."""
    return any(related(definition, spec, entry)
               for spec in definition["rules"] for _where, entry in _all_rules(config, spec["direction"]))


def plan(data, definitions, config, state, repair=False):
    """The changes that bring ``config`` to ``state`` (present, absent or keep) for
    each definition, in order, and the EEMS mitigation IDs to block first.

    Returns ``{"changes", "eems_block", "after"}``; ``after`` is the
    configuration the changes produce, from the same code that decided them.
    """
    if state not in ("present", "absent", "keep"):
        raise MitigationError("state must be present, absent or keep here, not %r" % (state,))
    after = copy.deepcopy(config)
    after.setdefault("locations", {})
    changes, blocks = [], []
    for definition in definitions:
        if state == "keep":
            # Keep what is in place, in working order; add nothing new.
            if in_place(definition, after):
                _plan_present(data, definition, after, repair, changes, blocks)
        elif state == "present":
            _plan_present(data, definition, after, repair, changes, blocks)
        else:
            _plan_absent(data, definition, after, changes, blocks)
    return {"changes": changes, "eems_block": blocks, "after": after}


# --- diff -----------------------------------------------------------------------

def _attrs(pairs):
    return "".join(" %s=%s" % (k, quoteattr(str(v))) for k, v in pairs if v not in (None, ""))


def _render_conditions(conditions, grouping, indent):
    if not conditions:
        return []
    lines = ["%s<conditions%s>" % (indent, _attrs([("logicalGrouping", grouping if grouping != "MatchAll" else None)]))]
    for c in conditions:
        lines.append("%s  <add%s />" % (indent, _attrs([
            ("input", c.get("input")), ("pattern", c.get("pattern")),
            ("ignoreCase", None if c.get("ignore_case", True) else "false"),
            ("negate", "true" if c.get("negate") else None)])))
    lines.append("%s</conditions>" % indent)
    return lines


def _render_entry(entry, indent):
    kind = entry.get("entry", "rule")
    if kind == "clear":
        return ["%s<clear />" % indent]
    if kind == "remove":
        return ["%s<remove%s />" % (indent, _attrs([("name", entry.get("name"))]))]
    if kind == "precondition":
        lines = ["%s<preCondition%s>" % (indent, _attrs([
            ("name", entry.get("name")),
            ("logicalGrouping", entry.get("logical_grouping") if entry.get("logical_grouping") != "MatchAll" else None),
            ("patternSyntax", entry.get("pattern_syntax")),
        ]))]
        for c in entry.get("conditions") or []:
            lines.append("%s  <add%s />" % (indent, _attrs([("input", c.get("input")), ("pattern", c.get("pattern"))])))
        return lines + ["%s</preCondition>" % indent]
    match = entry.get("match") or {}
    action = entry.get("action") or {}
    lines = ["%s<rule%s>" % (indent, _attrs([
        ("name", entry.get("name")), ("enabled", None if entry.get("enabled", True) else "false"),
        ("preCondition", entry.get("precondition")), ("patternSyntax", entry.get("pattern_syntax")),
        ("stopProcessing", "true" if entry.get("stop_processing") else None)]))]
    lines.append("%s  <match%s />" % (indent, _attrs([
        ("serverVariable", match.get("server_variable")), ("url", match.get("url")), ("pattern", match.get("pattern")),
        ("negate", "true" if match.get("negate") else None)])))
    lines += _render_conditions(entry.get("conditions") or [], entry.get("logical_grouping") or "MatchAll",
                                indent + "  ")
    lines.append("%s  <action%s />" % (indent, _attrs([("type", action.get("type")), ("value", action.get("value"))])))
    return lines + ["%s</rule>" % indent]


def render_location(location, source=None):
    """The <rewrite> section of one location as web.config-style text; with
    ``source``, only the entries that file holds."""
    location = location or {}
    if source is not None:
        location = {c: [e for e in location.get(c) or [] if source_of(e) == source] for c in COLLECTIONS}
    lines = ["<rewrite>"]
    if location.get("inbound"):
        lines.append("  <rules>")
        for entry in location["inbound"]:
            lines += _render_entry(entry, "    ")
        lines.append("  </rules>")
    if location.get("outbound") or location.get("preconditions"):
        lines.append("  <outboundRules>")
        if location.get("preconditions"):
            lines.append("    <preConditions>")
            for entry in location["preconditions"]:
                lines += _render_entry(entry, "      ")
            lines.append("    </preConditions>")
        for entry in location.get("outbound") or []:
            lines += _render_entry(entry, "    ")
        lines.append("  </outboundRules>")
    lines.append("</rewrite>")
    return "\n".join(lines) + "\n"


def render_diff(site, before, after, changes):
    """Ansible diff entries (before/after text) for each file section a change
    touches: a location's web.config, or its <location> in applicationHost.config."""
    touched = []
    for change in changes:
        source = change.get("config") if change.get("config") in APPHOST_SOURCES else "web.config"
        key = (_key(change.get("path", "")), source)
        if key not in [(_key(p), s) for p, s in touched]:
            touched.append((change.get("path", ""), source))
    diffs = []
    for path, source in touched:
        if source == APPHOST_ROOT:
            header = "applicationHost.config (server level, every site)"
        elif source == APPHOST:
            header = 'applicationHost.config <location path="%s%s">' % (site, path or "")
        else:
            header = "IIS:\\Sites\\%s%s" % (site, (path or "").replace("/", "\\"))
        diffs.append({
            "before_header": header, "after_header": header,
            "before": render_location(_locations(before).get(_location_name(before, path)), source),
            "after": render_location(_locations(after).get(_location_name(after, path)), source),
        })
    return diffs


def describe_change(site, change):
    """One line a person reads for a change."""
    where = "%s%s" % (site, change.get("path") or "")
    if change.get("config") == APPHOST:
        where += " (in applicationHost.config)"
    elif change.get("config") == APPHOST_ROOT:
        where = "server level (in applicationHost.config, for every site)"
    op = change["op"]
    if op == "add_rule":
        return "add %s rule %r at %s" % (change["collection"], change["rule"]["name"], where)
    if op == "remove_rule":
        return "remove %s rule %r at %s (made by %s)" % (change["collection"], change["name"], where,
                                                         change.get("owner") or "unknown")
    if op == "delete_entry":
        return "delete <remove name=%r> at %s so the site rule applies there again" % (change["name"], where)
    if op == "add_precondition":
        return "add precondition %r at %s" % (change["precondition"]["name"], where)
    return "remove precondition %r at %s" % (change["name"], where)


def url_rewrite_ready(state, requirements):
    """Whether the URL Rewrite module a host reports (``Get-UrlRewriteState``:
    installed, product_version, file_version) is recent enough, and the text
    a person reads about it.

    The product version (the Uninstall entry's DisplayVersion, 7.2.1993 for
    URL Rewrite 2.1) is compared with ``min_version``; only when the host has
    no such entry is rewrite.dll's file version (7.1.1993.2351 for 2.1)
    compared with ``min_file_version``. Mixing the two (the DLL against
    7.2.1993) would refuse every real 2.1 installation.
    """
    state = state or {}
    minimum, minimum_file = requirements["min_version"], requirements["min_file_version"]
    if not state.get("installed"):
        return False, "not installed"
    product, file_version = state.get("product_version"), state.get("file_version")
    if product:
        if version_at_least(product, minimum):
            return True, "version %s" % product
        return False, "at product version %s (rewrite.dll %s), below %s" % (product, file_version or "unknown",
                                                                            minimum)
    if version_at_least(file_version, minimum_file):
        return True, "rewrite.dll version %s" % file_version
    return False, ("at rewrite.dll version %s with no installed-product entry, below rewrite.dll %s (product %s)"
                   % (file_version or "unknown", minimum_file, minimum))


def version_at_least(version, minimum):
    """Compare dotted versions as whole numbers (7.2.1993 >= 7.2.1952)."""
    def parts(text):
        return tuple(int(p) for p in str(text).split(".") if p.isdigit())
    try:
        return bool(version) and parts(version) >= parts(minimum)
    except ValueError:
        return False


__all__ = ["MitigationError", "ExchangeBuildError", "load_definitions", "parse_definitions", "select",
           "code_fix_status", "resolve_state", "keeps_after_fix", "in_place", "effective", "assess",
           "dangerous_rules", "plan",
           "apply_changes", "render_diff", "render_location", "describe_change", "canonical_rule",
           "owner_of", "source_of", "eems_id", "version_at_least", "url_rewrite_ready", "configuration_from_host"]
