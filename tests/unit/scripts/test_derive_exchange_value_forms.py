"""scripts/derive_exchange_value_forms.py reads CliXml exports correctly, and
the committed table agrees with its own exports."""
from __future__ import annotations

import importlib.util
import os
import xml.etree.ElementTree as ET

import yaml

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
_PATH = os.path.join(ROOT, "scripts", "derive_exchange_value_forms.py")
_spec = importlib.util.spec_from_file_location("derive_exchange_value_forms", _PATH)
derive = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(derive)
TABLE = os.path.join(ROOT, "tests", "lab", "data", "exchange_value_forms.yml")

# Shaped like HealthChecker's exports: a typed object with its text and
# parts, a Nil, an enum, a list whose item type is a reference.
SAMPLE = """<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">
  <Obj RefId="0"><TN RefId="0"><T>X.Server</T></TN><Props>
    <Obj N="AdminDisplayVersion" RefId="1"><TN RefId="1"><T>Microsoft.Exchange.Data.ServerVersion</T></TN>
      <ToString>Version 15.2 (Build 986.5)</ToString>
      <Props><I32 N="Major">15</I32><I32 N="Minor">2</I32></Props></Obj>
    <Nil N="MitigationsBlocked" />
    <Obj N="State" RefId="2"><TN RefId="2"><T>Microsoft.Exchange.Data.ServiceState</T><T>System.Enum</T></TN>
      <ToString>Active</ToString><I32>1</I32></Obj>
    <Obj N="LocalStates" RefId="3"><TN RefId="3"><T>List</T></TN><LST>
      <Obj RefId="4"><TNRef RefId="1" /><ToString>Requestor:Functional; State:Active</ToString>
        <Props><S N="Requester">Functional</S></Props></Obj></LST></Obj>
    <B N="DataCollectionEnabled">false</B>
  </Props></Obj></Objs>"""


def _props():
    root = ET.fromstring(SAMPLE)
    obj = next(iter(root))
    types = {}
    return {p.get("N"): derive.describe(p, types) for p in obj.find(derive.NS + "Props")}


def test_each_clixml_form_is_described():
    props = _props()
    assert props["AdminDisplayVersion"] == {"form": "object", "type": "Microsoft.Exchange.Data.ServerVersion",
                                            "text": "Version 15.2 (Build 986.5)", "properties": ["Major", "Minor"]}
    assert props["MitigationsBlocked"] == {"form": "nil"}
    assert props["State"] == {"form": "enum", "type": "Microsoft.Exchange.Data.ServiceState", "text": "Active"}
    assert props["LocalStates"]["form"] == "list" and props["LocalStates"]["count"] == 1
    assert props["LocalStates"]["item"]["text"] == "Requestor:Functional; State:Active"
    assert props["DataCollectionEnabled"] == {"form": "bool", "value": False}


def test_committed_table_names_its_source():
    with open(TABLE, encoding="utf-8") as handle:
        table = yaml.safe_load(handle)
    source = table["source"]
    assert source["repository"] == "https://github.com/microsoft/CSS-Exchange"
    for line in ("2013", "2016", "2019"):
        export = source["exports"][line]
        assert len(export["commit"]) == 40 and export["folder"].startswith("Diagnostics/HealthChecker/Tests/")


def test_the_lab_facts_agree_with_the_exports():
    """The EEMS-properties threshold the lab uses matches every export: the
    property is there exactly on the builds the threshold admits."""
    with open(TABLE, encoding="utf-8") as handle:
        table = yaml.safe_load(handle)
    first = table["lab"]["eems_properties_from"]["builds"]
    by_cu = table["lab"]["organization_object_version"]["by_cu"]
    for line in ("2013", "2016", "2019"):
        version = table["cmdlets"]["ExSetup.exe VersionInfo"]["properties"]["FileVersion"][line]["value"]
        major, minor, build, _rev = (int(p) for p in version.split("."))
        admits = build >= first.get("%d.%d" % (major, minor), float("inf"))
        for cmdlet, prop in (("Get-ExchangeServer", "MitigationsEnabled"), ("Get-ExchangeServer", "DataCollectionEnabled"),
                             ("Get-OrganizationConfig", "MitigationsEnabled")):
            present = table["cmdlets"][cmdlet]["properties"][prop][line]["form"] != "absent"
            assert present == admits, (line, cmdlet, prop)
        # The organisation's objectVersion in the export is the value the lab uses for that CU.
        org = table["cmdlets"]["Get-OrganizationConfig"]["properties"]["ObjectVersion"][line]["value"]
        assert by_cu["%d.%d.%d" % (major, minor, build)] == org, line
