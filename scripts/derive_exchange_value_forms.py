#!/usr/bin/env python3
"""Derive tests/lab/data/exchange_value_forms.yml from CSS-Exchange's
HealthChecker test data: real Export-Clixml exports of Exchange cmdlet output
from Exchange 2013, 2016 and 2019 lab servers.

For every property the host scripts read, the table records, per product
line, the form the value has there: absent, nil, a primitive (with its
value), or an object (with its type, its ToString() text, and the names of
its properties; for lists, the form of the first item).  The lab answers in
these forms and a test holds it to them (tests/test_lab/test_value_forms.py).

Usage (with a local clone or mirror of microsoft/CSS-Exchange):

    python scripts/derive_exchange_value_forms.py --git-dir /path/CSS-Exchange/.git \
        [--commit <sha>] [--commit-2013 <sha>] > tests/lab/data/exchange_value_forms.yml

The Exchange 2013 exports were removed from the repository in commit
de315afe ("Removed Pester for Exchange 2013"), so they are read from that
commit's parent.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import xml.etree.ElementTree as ET

import yaml

NS = "{http://schemas.microsoft.com/powershell/2004/04}"
DATA_DIR = "Diagnostics/HealthChecker/Tests/DataCollection/%s/Exchange"
LINES = {"2013": "E15", "2016": "E16", "2019": "E19"}
# The commit that removed the 2013 data; its parent still holds it.
E15_REMOVED_IN = "de315afe91b272cfc431363122572b6f093cc768"

# cmdlet -> (export file, properties our host scripts read)
WANTED = {
    "Get-ExchangeServer": ("GetExchangeServer.xml", [
        "Name", "Fqdn", "AdminDisplayVersion", "ServerRole", "Edition", "Site", "IsHubTransportServer",
        "IsEdgeServer", "InternetWebProxy", "MitigationsEnabled", "MitigationsBlocked", "MitigationsApplied",
        "DataCollectionEnabled"]),
    "Get-OrganizationConfig": ("GetOrganizationConfig.xml", ["Name", "ObjectVersion", "MitigationsEnabled"]),
    "Get-MailboxServer": ("GetMailboxServer.xml", [
        "Name", "DatabaseAvailabilityGroup", "DatabaseCopyAutoActivationPolicy",
        "DatabaseCopyActivationDisabledAndMoveNow"]),
    "Get-ServerComponentState": ("GetServerComponentState.xml", ["Component", "State", "LocalStates", "RemoteStates"]),
    "ExSetup.exe VersionInfo": ("ExSetup.xml", ["FileVersion"]),
}
_PRIMITIVES = {"S": "string", "B": "bool", "I32": "int", "I64": "int", "By": "int", "U32": "int",
               "DT": "datetime", "G": "guid", "Version": "version", "Nil": "nil"}


# Facts the lab also needs that are not in the exports themselves; each
# carries its source.  They are written out with the table.
LAB_FACTS = {
    "eems_properties_from": {
        "builds": {"15.1": 2375, "15.2": 986},
        "meaning": "MitigationsEnabled, MitigationsBlocked, MitigationsApplied and DataCollectionEnabled exist on "
                   "Get-ExchangeServer (and MitigationsEnabled on Get-OrganizationConfig) from Exchange 2016 CU22 "
                   "(15.1.2375) and Exchange 2019 CU11 (15.2.986) on, the September 2021 CUs; never on 2013",
        "sources": [
            "Microsoft Learn, 'Exchange Emergency Mitigation (EM) service' (introduced with the September 2021 CUs)",
            "CSS-Exchange docs/Diagnostics/HealthChecker/EEMSCheck.md and Diagnostics/HealthChecker/Analyzer/"
            "Security/Invoke-AnalyzerSecurityMitigationService.ps1 (checked only on E16 CU22+, E19 CU11+, SE)",
            "the exports above: present on 15.1.2375.7 and 15.2.986.5, absent on 15.0.1497.2",
        ],
    },
    "organization_object_version": {
        "by_cu": {"15.0.1497": 16133, "15.1.2375": 16222, "15.1.2507": 16223, "15.2.986": 16759,
                  "15.2.1118": 16760, "15.2.1258": 16761, "15.2.1544": 16762, "15.2.1748": 16763,
                  "15.2.2562": 16763},
        "meaning": "objectVersion of the Exchange organisation container after /PrepareAD of that CU "
                   "(Get-OrganizationConfig ObjectVersion)",
        "sources": [
            "CSS-Exchange Shared/Get-ExchangeBuildVersionInformation.ps1 (orgValue per CU)",
            "Microsoft Learn, 'Prepare Active Directory and domains for Exchange Server', Exchange Server Active "
            "Directory versions table: https://learn.microsoft.com/exchange/plan-and-deploy/prepare-ad-and-domains "
            "(linked from the same CSS-Exchange file)",
            "the exports above: ObjectVersion 16133 (2013 CU23), 16222 (2016 CU22), 16759 (2019 CU11)",
        ],
    },
    "remote_session_forms": {
        "meaning": "Over a remote EMS session nested values may also arrive as their text only; scripts accept "
                   "the object, the property bag and the text",
        "sources": [
            "CSS-Exchange Shared/Get-ExchangeBuildVersionInformation.ps1: AdminDisplayVersion.ToString() parsed as "
            "'Version 15.2 (Build 986.5)'",
            "CSS-Exchange Diagnostics/ExchangeLogCollector/ExchangeServerInfo/Get-DAGInformation.ps1: a DAG's "
            "Servers items read with ToString()",
        ],
    },
}


def _git_show(git_dir, commit, path):
    return subprocess.run(["git", "--git-dir", git_dir, "show", "%s:%s" % (commit, path)],
                          check=True, capture_output=True).stdout


def _parse(raw):
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = raw.decode("utf-16")
    else:
        text = raw.decode("utf-8-sig")
    return ET.fromstring(text)


def _primitive(tag, text):
    kind = _PRIMITIVES.get(tag, tag)
    if kind == "nil":
        return {"form": "nil"}
    value = text
    if kind == "bool":
        value = text == "true"
    elif kind == "int":
        value = int(text)
    return {"form": kind, "value": value}


def describe(element, types):
    """The form of one CliXml value element."""
    tag = element.tag.replace(NS, "")
    if tag != "Obj":
        return _primitive(tag, element.text)
    names = element.find(NS + "TN")
    if names is not None:
        types[names.get("RefId")] = [t.text for t in names.findall(NS + "T")]
        type_names = types[names.get("RefId")]
    else:
        ref = element.find(NS + "TNRef")
        type_names = types.get(ref.get("RefId"), ["?"]) if ref is not None else ["?"]
    text = element.find(NS + "ToString")
    props = element.find(NS + "Props")
    items = element.find(NS + "LST")
    result = {"form": "object", "type": type_names[0]}
    if items is not None:
        result["form"] = "list"
        entries = list(items)
        result["count"] = len(entries)
        if entries:
            result["item"] = describe(entries[0], types)
        return result
    if text is not None:
        result["text"] = text.text
    if props is not None:
        result["properties"] = [p.get("N") for p in props]
    elif "System.Enum" in type_names:
        result["form"] = "enum"
    return result


def derive(git_dir, commit, commit_2013):
    table = {}
    files = {}
    for line, folder in LINES.items():
        at = commit_2013 if line == "2013" else commit
        for cmdlet, (name, properties) in WANTED.items():
            path = "%s/%s" % (DATA_DIR % folder, name)
            files.setdefault(line, {"commit": at, "folder": DATA_DIR % folder})
            root = _parse(_git_show(git_dir, at, path))
            obj = next(o for o in root if o.tag == NS + "Obj")
            types = {}
            # Register every type name in document order so TNRef resolves.
            for node in root.iter(NS + "TN"):
                types[node.get("RefId")] = [t.text for t in node.findall(NS + "T")]
            by_name = {}
            for section in ("Props", "MS"):
                holder = obj.find(NS + section)
                if holder is not None:
                    for prop in holder:
                        by_name[prop.get("N")] = prop
            entry = table.setdefault(cmdlet, {"file": name, "properties": {}})
            for prop in properties:
                form = describe(by_name[prop], types) if prop in by_name else {"form": "absent"}
                entry["properties"].setdefault(prop, {})[line] = form
    return {"source": {
        "repository": "https://github.com/microsoft/CSS-Exchange",
        "what": "HealthChecker test data: Export-Clixml of cmdlet output from real Exchange lab servers "
                "(first object of each file)",
        "exports": files,
        "edge": "none of these exports comes from an Edge Transport server",
        "exchange_2013_note": "the E15 exports were removed in commit %s; they are read from its parent"
                              % E15_REMOVED_IN,
        "generated_by": "scripts/derive_exchange_value_forms.py",
    }, "cmdlets": table, "lab": LAB_FACTS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--git-dir", required=True, help="the .git directory of a CSS-Exchange clone or mirror")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--commit-2013", default=E15_REMOVED_IN + "^")
    args = parser.parse_args(argv)

    def resolve(ref):
        return subprocess.run(["git", "--git-dir", args.git_dir, "rev-parse", ref], check=True,
                              capture_output=True, text=True).stdout.strip()

    table = derive(args.git_dir, resolve(args.commit), resolve(args.commit_2013))
    sys.stdout.write("# Generated by scripts/derive_exchange_value_forms.py from CSS-Exchange's HealthChecker\n"
                     "# test data and the cited facts in its LAB_FACTS; do not edit by hand.\n")
    yaml.safe_dump(table, sys.stdout, sort_keys=False, allow_unicode=True, width=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
