"""Helpers for the fault, hostile-input and secrets suites: fleets, runs, reports, invariants.

A plain module (not conftest) so the three suites import it by a unique name.
"""
from __future__ import annotations

import copy
import json
import os
import re

from labtools import recap, run_playbook
from lab import iis, maintenance

TARGET = "15.2.1748.53"       # 2019 CU15 Sep26SUv2 (ESU)
SU_ONLY = "15.2.1748.46"      # 2019 CU15 Jun26SU: one SU to go
CU14 = "15.2.1544.39"         # 2019 CU14: CU15 then the SU
UNFIXED = "15.2.1118.7"       # 2019 CU12 RTM: every interim mitigation applies
SE_CURRENT = "15.2.2562.53"   # Exchange SE: EEMS works
CU15_ISO = "ExchangeServer2019-x64-CU15.ISO"
SU_MSP = "Exchange2019-KB5129956-x64-en.msp"
REWRITE_MSI = "rewrite_amd64_en-US.msi"

# Fast lab settings the patch window accepts; reboot/services bounded so a
# hung case fails in seconds, not hours.
PATCH_VARS = {"exchange_patch_target": TARGET, "exchange_patch_esu_enrolled": True,
              "exchange_patch_poll_interval": 0.3, "exchange_patch_gate_timeout": 4,
              "exchange_patch_gate_poll_interval": 0.5, "exchange_patch_reboot_timeout": 60,
              "exchange_patch_services_timeout": 4}
EEMS_VARS = {"exchange_eems_verify_timeout": 20, "exchange_eems_verify_interval": 0.5}


def fleet(**overrides):
    """A three-member DAG (FM1, FM2 one SU behind, FM3 current), a standalone
    server one SU behind (FS1), an unpatched server for mitigations (FX1) and
    an SE server for EEMS (FE1). ``overrides`` maps a server name to keys."""
    servers = [
        {"name": "FM1", "build": SU_ONLY, "dag": "FDAG"},
        {"name": "FM2", "build": SU_ONLY, "dag": "FDAG"},
        {"name": "FM3", "build": TARGET, "dag": "FDAG"},
        {"name": "FS1", "build": "15.2.1748.39"},
        {"name": "FX1", "build": UNFIXED},
        {"name": "FE1", "build": SE_CURRENT},
    ]
    for server in servers:
        server["reboot_seconds"] = 10
        server.update(copy.deepcopy(overrides.get(server["name"], {})))
    members = ["FM1", "FM2", "FM3"]
    databases = [{"name": "FDB%d" % (i + 1), "active": members[i],
                  "copies": {m: {"activation_preference": 1 + (j - i) % 3} for j, m in enumerate(members)}}
                 for i in range(3)]
    databases.append({"name": "SDB1", "copies": {"FS1": {}}})
    return {
        "lab": {"installer_seconds": {"cu": 30, "su": 15, "prepare_schema": 10, "prepare_ad": 10}},
        "organizations": [{"name": "Contoso", "esu_enrolled": True}],
        "dags": [{"name": "FDAG"}],
        "repository": {"packages": [{"name": CU15_ISO, "size_kb": 256}, {"name": SU_MSP, "size_kb": 64},
                                    {"name": REWRITE_MSI, "size_kb": 64, "product_version": "7.2.1993"}]},
        "servers": servers,
        "databases": databases,
    }


def changed_hosts(result):
    return {host: row["changed"] for host, row in recap(result.stdout).items() if row["changed"]}


def tail(result):
    return result.stdout[-5000:] + "\n--- stderr ---\n" + result.stderr[-2000:]


class Run:
    """One ansible-playbook run and what it left: the result and the report rows."""

    def __init__(self, result, rows, summary, report_dir):
        self.result = result
        self.rows = rows
        self.summary = summary
        self.report_dir = report_dir

    @property
    def output(self):
        return self.result.stdout + self.result.stderr


REPORT_FILES = {"playbooks/patch.yml": "exchange-patch.json", "playbooks/mitigate.yml": "exchange-protection.json",
                "playbooks/audit.yml": "exchange-audit.json",
                "playbooks/remediate.yml": "exchange-remediation.json"}


# ansible-core 2.19+ prints no traceback unless asked: "Traceback" absent
# from a run's output proves nothing.  Runs of these suites ask for them.
SHOW_TRACEBACKS = {"ANSIBLE_DISPLAY_TRACEBACK": "error"}
_COLLECTION_FRAME = "ansible_collections/onprem/exchange/"
_EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::|$)", re.M)


def unexpected_tracebacks(output):
    """Tracebacks in ``output`` that pass through this collection's code and
    end in something other than a deliberate error (ansible.errors types such
    as AnsibleActionFail, or the collection's own exception classes, which
    refusals raise on purpose): a ValueError, KeyError, a library's
    exception... that escaped.  Returns [(exception type, last collection frame)]."""
    found = []
    for chunk in output.split("Traceback (most recent call last):")[1:]:
        frames = re.findall(r'File "([^"]+)", line (\d+)', chunk)
        ours = [f for f in frames if _COLLECTION_FRAME in f[0].replace("\\", "/")]
        ending = _EXCEPTION_LINE.search(chunk)
        kind = ending.group("type") if ending else "?"
        if ours and not kind.startswith(("ansible.errors.", "ansible_collections.onprem.exchange.")):
            found.append((kind, "%s:%s" % ours[-1]))
    return found


def play(lab, workdir, playbook, hosts, *extra, extra_vars=None, inventory_edit=None, env=None, timeout=600):
    os.makedirs(workdir, exist_ok=True)
    inventory_data = lab.inventory()
    if inventory_edit:
        inventory_edit(inventory_data)
    inventory = os.path.join(str(workdir), "inventory.yml")
    import yaml
    with open(inventory, "w", encoding="utf-8") as handle:
        yaml.safe_dump(inventory_data, handle, sort_keys=False)
    reports = os.path.join(str(workdir), "reports")
    args = ["--limit", ",".join(list(hosts) + ["localhost"]), "-e", "exchange_report_dir=%s" % reports]
    if extra_vars:
        args += ["-e", json.dumps(extra_vars)]
    result = run_playbook(inventory, playbook, *args, *extra, env=dict(SHOW_TRACEBACKS, **(env or {})), timeout=timeout)
    rows, summary = {}, {}
    name = REPORT_FILES.get(playbook)
    if name and os.path.exists(os.path.join(reports, name)):
        with open(os.path.join(reports, name), encoding="utf-8") as handle:
            report = json.load(handle)
        rows = {s["name"]: s for s in report["servers"]}
        summary = report.get("summary", {})
    return Run(result, rows, summary, reports)


def eems_rows(stdout):
    """The EEMS summary a person reads: {server: (status, cause)}."""
    match = re.search(r'TASK \[Show the summary\].*?"msg": (\[.*?\n    \])', stdout, re.S)
    if not match:
        return {}
    rows = {}
    for line in json.loads(match.group(1))[1:]:
        found = re.match(r"^([A-Z0-9-]+): (\w+)(?: \((\w+)\))?", line)
        if found:
            rows[found.group(1)] = (found.group(2), found.group(3))
    return rows


def eems_lines(stdout):
    """The EEMS summary lines a person reads: {server: the whole line after the name}."""
    match = re.search(r'TASK \[Show the summary\].*?"msg": (\[.*?\n    \])', stdout, re.S)
    if not match:
        return {}
    return {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in json.loads(match.group(1))[1:]
            if re.match(r"^[A-Z0-9-]+: ", line)}


# -- invariants ---------------------------------------------------------------------

def out_of_service(lab):
    """Servers the lab says are out of service now."""
    with lab.state.lock:
        return sorted(s["name"] for s in lab.state.servers() if maintenance.out_of_service(s))


def rewrite_files(lab, name):
    with lab.state.lock:
        locations = copy.deepcopy(lab.state.server(name)["iis"]["locations"])
    return {path: iis.file_bytes(location) for path, location in locations.items()}


def builds(lab, names):
    return {n: lab.state.server(n)["build"] for n in names}
