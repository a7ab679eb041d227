"""IIS URL Rewrite configuration of a simulated Exchange server.

``server["iis"]`` holds the rewrite sections of Default Web Site and each
Exchange application under it, as the web.config files hold them:
entries in file order, including ``<remove name=...>`` and ``<clear/>``,
disabled rules, outbound rules and their preconditions. ``apphost`` holds,
per path, the rewrite section of applicationHost.config's
``<location path="Default Web Site/...">`` (IIS reads it before that path's
web.config; CSS-Exchange issue 2003 is a stale ProxyNotShell rule with
``match url="*"`` living there under Default Web Site/Autodiscover, which
IIS Manager's web.config view does not show). ``backups`` are the copies
the host scripts keep on the server (timestamped, newest last).

This is the lab's own model of what the host scripts do; it shares no code
with the collection, so the two halves of the contract are checked against
each other. A location's "file bytes" are its canonical JSON, which is what
``sha256`` covers and what a byte-for-byte restore compares.

Fleet files describe rules flat (``rewrite_rules``: one dict per entry, with
``path`` and ``direction``); ``normalise_server`` turns them into this shape.
"""
from __future__ import annotations

import copy
import hashlib
import json

from .operations import HostOpError

SITE = "Default Web Site"
SITE_FILE = "C:\\inetpub\\wwwroot\\web.config"
APPHOST_FILE = "C:\\Windows\\System32\\inetsrv\\config\\applicationHost.config"
# applicationHost.config's server-level rewrite section, outside any
# <location>: every site inherits it first. Kept in ``apphost`` under this key.
APPHOST_ROOT = "<root>"
FRONTEND = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy"
APPLICATIONS = ["/API", "/Autodiscover", "/ecp", "/EWS", "/mapi", "/Microsoft-Server-ActiveSync", "/OAB", "/owa",
                "/PowerShell", "/Rpc"]
COLLECTIONS = ("inbound", "outbound", "preconditions")
MAX_BACKUPS = 20

LOCKED_TEXT = ("The process cannot access the file '{file}' because it is being used by another process.")

# What the Mitigation Service writes for the mitigations it owns (by base ID).
EEMS_TEMPLATES = {
    "M1": {"path": "", "collection": "inbound", "rule": {
        "entry": "rule", "name": "EEMS {id} PowerShell - inbound", "enabled": True, "pattern_syntax": "ECMAScript",
        "stop_processing": True, "match": {"url": ".*", "ignore_case": True, "negate": False},
        "logical_grouping": "MatchAll",
        "conditions": [{"input": "{UrlDecode:{REQUEST_URI}}", "pattern": "(?=.*autodiscover)(?=.*powershell)",
                        "ignore_case": True, "negate": False}],
        "action": {"type": "AbortRequest", "value": ""}, "precondition": ""}},
}


# What a real server reports for each URL Rewrite release: the product's
# Uninstall entry (DisplayName, DisplayVersion = the MSI ProductVersion) and
# rewrite.dll's own file version, which is numbered apart.
# - 2.1: product 7.2.1993 (the MSI ProductVersion EOMT requires, CSS-Exchange
#   Security/src/EOMT.ps1); rewrite.dll 7.1.1993.2351
#   (reference/eems_mitigations.md section 2.3; the IIS_UrlRewriteModule
#   server variable of a real IIS 10 with rewrite_amd64_en-US.msi).
# - 2.0: product 7.2.1952 (salt-winrepo-ng urlrewrite.sls, keyed by
#   DisplayVersion, full_name "IIS URL Rewrite Module 2"); rewrite.dll
#   7.1.1952.0 (IIS_UrlRewriteModule in a public server-variable dump).
# A fleet's ``url_rewrite_version`` is the product version (what the admin
# installed); ``url_rewrite_file_version`` overrides the DLL's for other
# releases, and ``url_rewrite_uninstall_entry: false`` models a module
# present without an Uninstall entry.
URL_REWRITE_RELEASES = {
    "7.2.1993": {"product_name": "IIS URL Rewrite Module 2", "file_version": "7.1.1993.2351"},
    "7.2.1952": {"product_name": "IIS URL Rewrite Module 2", "file_version": "7.1.1952.0"},
}


def url_rewrite_state(server):
    """What Get-UrlRewriteState reports on this server."""
    version = server.get("url_rewrite_version")
    if not version:
        return {"installed": False, "file_version": None, "product_name": None, "product_version": None}
    release = URL_REWRITE_RELEASES.get(str(version), {})
    file_version = server.get("url_rewrite_file_version") or release.get("file_version")
    entry = server.get("url_rewrite_uninstall_entry", True)
    return {"installed": True, "file_version": file_version,
            "product_name": release.get("product_name", "IIS URL Rewrite Module 2") if entry else None,
            "product_version": str(version) if entry else None}


def _rule_from_flat(item):
    kind = item.get("entry", "rule")
    if kind == "clear":
        return {"entry": "clear"}
    if kind == "remove":
        return {"entry": "remove", "name": item["name"]}
    conditions = item.get("conditions")
    if conditions is None:
        conditions = [{"input": item["input"], "pattern": item["pattern"]}] if item.get("input") else []
    conditions = [{"input": c["input"], "pattern": c["pattern"], "ignore_case": c.get("ignore_case", True),
                   "negate": c.get("negate", False)} for c in conditions]
    if kind == "precondition":
        return {"entry": "precondition", "name": item["name"],
                "logical_grouping": item.get("logical_grouping", "MatchAll"),
                "pattern_syntax": item.get("pattern_syntax", "ECMAScript"), "conditions": conditions}
    direction = item.get("direction", "inbound")
    if direction == "outbound":
        match = {"server_variable": item.get("server_variable", ""), "pattern": item.get("match_pattern", "(.*)"),
                 "ignore_case": True, "negate": False}
    else:
        match = {"url": item.get("match_url", ".*"), "ignore_case": True, "negate": False}
    return {"entry": "rule", "name": item["name"], "enabled": bool(item.get("enabled", True)),
            "pattern_syntax": item.get("pattern_syntax", "ECMAScript"),
            "stop_processing": bool(item.get("stop_processing", direction == "inbound")),
            "match": match, "logical_grouping": item.get("logical_grouping", "MatchAll"), "conditions": conditions,
            "action": {"type": item.get("action", "AbortRequest"), "value": item.get("action_value", "")},
            "precondition": item.get("precondition", "")}


def _empty_location():
    return {c: [] for c in COLLECTIONS}


def normalise_server(server):
    """Give ``server`` its ``iis`` state, built from flat ``rewrite_rules`` once
    (an item with ``config: apphost`` lives in applicationHost.config)."""
    if isinstance(server.get("iis"), dict):
        iis = server["iis"]
    else:
        iis = {"applications": list(APPLICATIONS), "locations": {"": _empty_location()}, "apphost": {},
               "backups": []}
        for item in server.get("rewrite_rules") or []:
            path = item.get("path", "") or ""
            home = iis["apphost"] if item.get("config") in ("apphost", "apphost-root") else iis["locations"]
            if item.get("config") == "apphost-root":
                path = APPHOST_ROOT
            location = home.setdefault(path, _empty_location())
            kind = item.get("entry", "rule")
            collection = "preconditions" if kind == "precondition" else item.get("direction", "inbound")
            location[collection].append(_rule_from_flat(item))
        server["iis"] = iis
    iis.setdefault("applications", list(APPLICATIONS))
    iis.setdefault("locations", {"": _empty_location()})
    iis.setdefault("apphost", {})
    iis.setdefault("backups", [])
    server.pop("rewrite_rules", None)
    return iis


def file_of(path):
    if not path:
        return SITE_FILE
    return "%s\\%s\\web.config" % (FRONTEND, path.strip("/").replace("/", "\\"))


def file_bytes(location):
    return json.dumps(location, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sha256(location):
    return hashlib.sha256(file_bytes(location)).hexdigest()


def _find_location(locations, path):
    return next((v for k, v in locations.items() if k.lower() == (path or "").lower()), None)


def read(server):
    """What Get-RewriteConfiguration reports: per path, the applicationHost.config
    <location> entries first, then the web.config's, each with its source."""
    iis = normalise_server(server)
    locations = []
    for path in [""] + list(iis["applications"]):
        location = _find_location(iis["locations"], path)
        apphost = _find_location(iis["apphost"], path)
        entry = {"path": path, "file": file_of(path),
                 "sha256": sha256(location) if location is not None else None}
        root = iis["apphost"].get(APPHOST_ROOT) if not path else None
        for collection in COLLECTIONS:
            entry[collection] = ([dict(e, source="apphost-root") for e in (root or {}).get(collection, [])] +
                                 [dict(e, source="apphost") for e in (apphost or {}).get(collection, [])] +
                                 [dict(e, source="web.config") for e in (location or {}).get(collection, [])])
        locations.append(entry)
    # Paths only applicationHost.config knows (a virtual directory that is
    # not an application, such as Microsoft-Server-ActiveSync/Proxy).
    known = {path.lower() for path in [""] + list(iis["applications"]) + [APPHOST_ROOT]}
    for path, apphost in iis["apphost"].items():
        if path.lower() in known or not any(apphost.get(c) for c in COLLECTIONS):
            continue
        entry = {"path": path, "file": None, "sha256": None}
        for collection in COLLECTIONS:
            entry[collection] = [dict(e, source="apphost") for e in apphost.get(collection, [])]
        locations.append(entry)
    return {"site": SITE, "applications": list(iis["applications"]), "locations": locations,
            "apphost": {"file": APPHOST_FILE, "sha256": apphost_sha256(iis)},
            "backups": [{"id": b["id"], "time": b["time"], "reason": b["reason"],
                         "files": len(b["locations"]) + (1 if "apphost" in b else 0),
                         "matches_current": _matches(iis, b),
                         "blocked_by": APPHOST_FILE if _apphost_changed_since(iis, b) else None}
                        for b in iis["backups"]]}


def apphost_sha256(iis):
    return hashlib.sha256(file_bytes(iis["apphost"])).hexdigest()


def _matches(iis, record):
    paths = set(iis["locations"]) | set(record["locations"])
    same = all(path in iis["locations"] and path in record["locations"] and
               file_bytes(iis["locations"][path]) == file_bytes(record["locations"][path]) for path in paths)
    # applicationHost.config is in a backup only when a change was made there.
    return same and ("apphost" not in record or file_bytes(iis["apphost"]) == file_bytes(record["apphost"]))


def flat_rules(server):
    """Every rule as one flat row (what Get-ExchangeFacts lists)."""
    iis = normalise_server(server)
    rows = []
    # Get-WebConfiguration shows applicationHost.config <location> rules at their path too.
    for path, location in list(iis["apphost"].items()) + list(iis["locations"].items()):
        path = "" if path == APPHOST_ROOT else path
        for direction in ("inbound", "outbound"):
            for entry in location.get(direction) or []:
                if entry.get("entry", "rule") != "rule":
                    continue
                condition = (entry.get("conditions") or [{}])[0]
                rows.append({"name": entry["name"], "site": SITE, "path": path, "direction": direction,
                             "enabled": bool(entry.get("enabled", True)),
                             "match_url": (entry.get("match") or {}).get("url", ""),
                             "input": condition.get("input", ""), "pattern": condition.get("pattern", ""),
                             "action": (entry.get("action") or {}).get("type", "")})
    return rows


# --- writes ---------------------------------------------------------------------

def backup(server, now, reason, apphost=False):
    """Copy the web.config files (and applicationHost.config when a change
    is to be made there) into a new backup."""
    iis = normalise_server(server)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    ident = "%s-%03d" % (stamp, len(iis["backups"]) + 1)
    record = {"id": ident, "time": now.isoformat(), "reason": str(reason or ""),
              "locations": copy.deepcopy(iis["locations"]),
              "path": "C:\\Windows\\System32\\inetsrv\\config\\onprem.exchange\\rewrite-backups\\" + ident}
    if apphost:
        record["apphost"] = copy.deepcopy(iis["apphost"])
    iis["backups"].append(record)
    del iis["backups"][:-MAX_BACKUPS]
    return record


def _apphost_changed_since(iis, record):
    """applicationHost.config is in the backup and something other than the
    backup's own change has changed it since."""
    return "apphost" in record and file_bytes(iis["apphost"]) not in (
        file_bytes(record["apphost"]), file_bytes(record.get("apphost_after", {"never": True})))


def restore(server, record, guard=False):
    """Put every file back as the backup holds it; returns the files rewritten.
    With ``guard`` (Restore-RewriteConfiguration), applicationHost.config is
    put back only if nothing but the backup's own change has touched it since;
    otherwise nothing is restored."""
    iis = normalise_server(server)
    if guard and _apphost_changed_since(iis, record):
        raise HostOpError("%s has changed since backup %s was made and changed it; restoring it would undo those "
                          "other changes too. Nothing was restored. Compare it with its copy in %s and put the "
                          "rewrite entries back by hand." % (APPHOST_FILE, record["id"], record["path"]),
                          "System.InvalidOperationException")
    rewritten = []
    for path in sorted(set(iis["locations"]) | set(record["locations"])):
        old = record["locations"].get(path)
        current = iis["locations"].get(path)
        if old is None:
            # The file had no rewrite section when the backup was made.
            del iis["locations"][path]
            rewritten.append(file_of(path))
            continue
        if current is None or file_bytes(current) != file_bytes(old):
            rewritten.append(file_of(path))
        iis["locations"][path] = copy.deepcopy(old)
    if "apphost" in record and file_bytes(iis["apphost"]) != file_bytes(record["apphost"]):
        iis["apphost"] = copy.deepcopy(record["apphost"])
        rewritten.append(APPHOST_FILE)
    return rewritten


def find_backup(server, ident):
    iis = normalise_server(server)
    if not iis["backups"]:
        raise HostOpError("No rewrite configuration backup exists on this server.",
                          "System.IO.FileNotFoundException")
    if ident in (None, "", "latest"):
        return iis["backups"][-1]
    for record in iis["backups"]:
        if record["id"] == ident:
            return record
    raise HostOpError("Backup %s does not exist. Backups on this server: %s"
                      % (ident, ", ".join(b["id"] for b in iis["backups"])), "System.IO.FileNotFoundException")


def _location(iis, path, create):
    for name in iis["locations"]:
        if name.lower() == (path or "").lower():
            return iis["locations"][name]
    if not create:
        raise HostOpError("No rewrite section at %s%s." % (SITE, path), "System.ArgumentException")
    if path and path.lower() not in [a.lower() for a in iis["applications"]]:
        raise HostOpError("%s has no application %s." % (SITE, path), "System.ArgumentException")
    iis["locations"][path] = _empty_location()
    return iis["locations"][path]


def _find(entries, kind, name):
    for index, entry in enumerate(entries):
        if entry.get("entry", "rule") == kind and entry.get("name", "").lower() == (name or "").lower():
            return index
    return None


def _apphost_location(iis, path):
    location = _find_location(iis["apphost"], path)
    if location is None:
        raise HostOpError("applicationHost.config has no <location path=\"%s%s\"> with a rewrite section."
                          % (SITE, path), "System.ArgumentException")
    return location


def apply_one(server, change):
    """One change, as Set-RewriteRules makes it (and refuses it)."""
    iis = normalise_server(server)
    op = change.get("op")
    path = change.get("path", "") or ""
    in_apphost = change.get("config") in ("apphost", "apphost-root")
    if change.get("config") == "apphost-root":
        path = APPHOST_ROOT
    if in_apphost and op in ("add_rule", "add_precondition"):
        raise HostOpError("Rules are added to web.config files only, not to applicationHost.config.",
                          "System.ArgumentException")
    if op in ("add_rule", "add_precondition"):
        collection = "preconditions" if op == "add_precondition" else change["collection"]
        entry = change["precondition"] if op == "add_precondition" else change["rule"]
        entries = _location(iis, path, True)[collection]
        if _find(entries, entry.get("entry", "rule"), entry["name"]) is not None:
            raise HostOpError("Cannot add duplicate collection entry of type '%s' with unique key attribute 'name' "
                              "set to '%s'" % (entry.get("entry", "rule"), entry["name"]),
                              "System.Runtime.InteropServices.COMException")
        position = 0
        while position < len(entries) and entries[position].get("entry") in ("remove", "clear"):
            position += 1
        entries.insert(position, copy.deepcopy(entry))
        return file_of(path)
    if op in ("remove_rule", "remove_precondition", "delete_entry"):
        collection = "preconditions" if op == "remove_precondition" else change["collection"]
        kind = {"remove_rule": "rule", "remove_precondition": "precondition", "delete_entry": "remove"}[op]
        where = _apphost_location(iis, path) if in_apphost else _location(iis, path, False)
        entries = where[collection]
        index = _find(entries, kind, change["name"])
        if index is None:
            raise HostOpError("No %s named '%s' in %s." % (kind, change["name"],
                                                         APPHOST_FILE if in_apphost else file_of(path)),
                              "System.ArgumentException")
        del entries[index]
        return APPHOST_FILE if in_apphost else file_of(path)
    raise HostOpError("Unknown change '%s'." % (op,), "System.ArgumentException")


def eems_reapply(server):
    """After a successful Mitigation Service check: an applied, unblocked
    EEMS rewrite mitigation whose rule was deleted is written again."""
    if not server.get("url_rewrite_version"):
        return []
    iis = normalise_server(server)
    blocked = set(server["eems"]["blocked"])
    added = []
    for ident in server["eems"]["applied"]:
        base = ident.split(".")[0]
        template = EEMS_TEMPLATES.get(base)
        if template is None or ident in blocked or base in blocked:
            continue
        rule = copy.deepcopy(template["rule"])
        rule["name"] = rule["name"].format(id=ident)
        entries = _location(iis, template["path"], True)[template["collection"]]
        if _find(entries, "rule", rule["name"]) is None:
            entries.insert(0, rule)
            added.append(rule["name"])
    return added
