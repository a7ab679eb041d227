#!/usr/bin/env python3
"""Generate scripts/cmdlet_facts.json from Microsoft's published cmdlet reference.

The semantic check of the host scripts (scripts/check_ps1_semantics.py) needs
to know which cmdlets and named parameters exist, and for the Exchange
cmdlets on which Exchange versions. Those facts come from the markdown
sources of Microsoft's cmdlet reference, read straight from fetched git
directories (bare or not; nothing is checked out):

* MicrosoftDocs/office-docs-powershell, exchange/exchange-ps/ExchangePowerShell:
  each cmdlet page has an ``applicable:`` front-matter line and each
  parameter a ``> Applicable: Exchange Server 2013, ...`` line.
* MicrosoftDocs/PowerShell-Docs, reference/5.1: the Windows PowerShell 5.1
  cmdlets (every version of Exchange we patch runs on it), the cmdlet aliases
  (front matter) and the common parameters (about_CommonParameters).
* MicrosoftDocs/windows-powershell-docs, docset/winserver20XX-ps: the
  Windows Server modules (WebAdministration, ScheduledTasks, Storage,
  FailoverClusters, ...) per Windows Server release.

Only the cmdlets the host scripts name (any ``Verb-Noun`` word in their
text that the reference knows), their Exchange Get/Set counterparts, the
EXTRA list and the WHOLE_MODULES below are kept, so the committed table stays
small. Re-run after
a host script starts using a new cmdlet; CI never runs this script.

Usage::

    python scripts/gen_cmdlet_facts.py \\
        --exchange /path/office-docs-powershell.git \\
        --powershell /path/PowerShell-Docs.git \\
        --windows /path/windows-powershell-docs.git
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST_SCRIPTS = REPO_ROOT / "plugins" / "plugin_utils" / "_host_scripts"
OUTPUT = REPO_ROOT / "scripts" / "cmdlet_facts.json"

EXCHANGE_DIR = "exchange/exchange-ps/ExchangePowerShell"
POWERSHELL_DIR = "reference/5.1"
COMMON_PARAMETERS_DOC = "reference/5.1/Microsoft.PowerShell.Core/About/about_CommonParameters.md"
WINDOWS_DOCSETS = {
    "2016": "docset/winserver2016-ps",
    "2019": "docset/winserver2019-ps",
    "2022": "docset/winserver2022-ps",
    "2025": "docset/winserver2025-ps",
}
EXCHANGE_VERSIONS = ("2013", "2016", "2019", "SE")
_EXCHANGE_NAME = {
    "exchange server 2013": "2013",
    "exchange server 2016": "2016",
    "exchange server 2019": "2019",
    "exchange server se": "SE",
}

# Cmdlets a host script is likely to reach for next, kept even before one
# does, so a small change does not need a regeneration.
EXTRA = (
    "Get-ExchangeServer", "Set-ExchangeServer", "Get-OrganizationConfig", "Set-OrganizationConfig",
    "Get-ServerComponentState", "Set-ServerComponentState", "Get-MailboxServer", "Set-MailboxServer",
    "Get-DatabaseAvailabilityGroup", "Get-MailboxDatabase", "Get-MailboxDatabaseCopyStatus",
    "Move-ActiveMailboxDatabase", "Get-Queue", "Redirect-Message", "Test-ServiceHealth",
    "Get-ExchangeDiagnosticInfo", "Get-TransportService", "Get-FrontendTransportService",
    "Get-ExchangeCertificate", "Get-ClientAccessService", "Get-OwaVirtualDirectory",
    "Get-EcpVirtualDirectory", "Get-WebServicesVirtualDirectory",
    "Get-Service", "Start-Service", "Stop-Service", "Restart-Service", "Set-Service",
    "Get-Item", "Get-ItemProperty", "Set-ItemProperty", "New-Item", "Remove-Item", "Copy-Item",
    "Move-Item", "Rename-Item", "Test-Path", "Join-Path", "Split-Path", "Get-ChildItem",
    "Get-Content", "Set-Content", "Add-Content", "Out-File", "Out-Null", "Out-String",
    "ConvertTo-Json", "ConvertFrom-Json", "Get-Date", "New-TimeSpan", "Start-Sleep",
    "Select-Object", "Where-Object", "ForEach-Object", "Sort-Object", "Measure-Object",
    "Group-Object", "New-Object", "Get-Member", "Write-Output", "Write-Error", "Write-Warning",
    "Write-Verbose", "Get-FileHash", "Invoke-WebRequest", "Get-CimInstance", "Invoke-CimMethod",
    "Get-WinEvent", "Get-Process", "Stop-Process", "Start-Process", "Wait-Process",
    "Import-Module", "Get-Module", "Get-Command", "Select-String", "Select-Xml",
    "Get-AuthenticodeSignature", "Restart-Computer", "ConvertTo-SecureString",
    "New-PSSession", "Import-PSSession", "Remove-PSSession", "Invoke-Command", "Add-PSSnapin",
    "Get-WebConfiguration", "Get-WebConfigurationProperty", "Set-WebConfigurationProperty",
    "Add-WebConfigurationProperty", "Remove-WebConfigurationProperty", "Get-WebApplication",
    "Get-Website", "Get-WebAppPoolState", "Restart-WebAppPool", "Start-WebAppPool",
    "Get-ScheduledTask", "Register-ScheduledTask", "Unregister-ScheduledTask",
    "Start-ScheduledTask", "Stop-ScheduledTask", "Get-ScheduledTaskInfo",
    "New-ScheduledTaskAction", "New-ScheduledTaskSettingsSet", "New-ScheduledTaskTrigger",
    "New-ScheduledTaskPrincipal", "Get-DiskImage", "Mount-DiskImage", "Dismount-DiskImage",
    "Get-Volume", "Get-ClusterNode", "Suspend-ClusterNode", "Resume-ClusterNode",
    "Start-BitsTransfer", "Get-ManagementRole", "Get-ManagementRoleAssignment", "Get-ManagementRoleEntry",
    "Get-RoleGroup", "Get-RoleGroupMember", "Get-WSManInstance", "Test-WSMan",
)

# Whole modules kept: every Windows PowerShell 5.1 core cmdlet a host script
# may reach for.
WHOLE_MODULES = (
    "Microsoft.PowerShell.Core", "Microsoft.PowerShell.Management", "Microsoft.PowerShell.Utility",
    "Microsoft.PowerShell.Security", "Microsoft.PowerShell.Diagnostics", "Microsoft.WSMan.Management",
    "CimCmdlets",
)

_VERB_NOUN = re.compile(r"\b[A-Z][A-Za-z]+-[A-Z][A-Za-z0-9]+\b")
_HEADING = re.compile(r"^###\s+-(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*$")
_APPLICABLE = re.compile(r"^>?\s*applicable:\s*(?P<list>.*)$", re.IGNORECASE)
_ALIASES = re.compile(r"^Aliases:\s*(?P<list>.*)$")


class Repo:
    """Read files of one fetched git directory at HEAD without a work tree."""

    def __init__(self, git_dir: Path, slug: str):
        self.git_dir = git_dir
        self.slug = slug
        self.commit = self._git("rev-parse", "HEAD").strip()

    def _git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(self.git_dir), *args],
            check=True, capture_output=True, text=True,
        ).stdout

    def list_md(self, folder: str) -> list[str]:
        out = self._git("ls-tree", "-r", "--name-only", "HEAD", "--", folder)
        return [line for line in out.splitlines() if line.endswith(".md")]

    def read_many(self, paths: list[str]) -> dict[str, str]:
        """Contents of many files in one ``git cat-file --batch`` call."""
        if not paths:
            return {}
        request = "".join(f"HEAD:{p}\n" for p in paths).encode()
        raw = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"],
            input=request, check=True, capture_output=True,
        ).stdout
        result, pos = {}, 0
        for path in paths:
            end = raw.index(b"\n", pos)
            header = raw[pos:end].split()
            pos = end + 1
            if len(header) < 3 or header[1] == b"missing":
                continue
            size = int(header[2])
            result[path] = raw[pos:pos + size].decode("utf-8", "replace")
            pos += size + 1
        return result


def _front_matter(text: str) -> dict[str, object]:
    """The few front-matter keys we need: title, applicable, aliases."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    fields: dict[str, object] = {}
    key = None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        if line.startswith("  - ") and key == "aliases":
            # YAML may quote a symbol alias ('%', '?').
            fields.setdefault("aliases", []).append(line[4:].strip().strip("'\""))
            continue
        name, _, value = line.partition(":")
        key = name.strip().lower()
        if key in ("title", "applicable"):
            fields[key] = value.strip()
    return fields


def _exchange_versions(listing: str) -> list[str]:
    found = {_EXCHANGE_NAME.get(part.strip().lower()) for part in listing.split(",")}
    return [v for v in EXCHANGE_VERSIONS if v in found]


def parse_parameters(text: str) -> list[tuple[str, list[str], str | None]]:
    """(name, aliases, applicable line or None) per ``### -Name`` section."""
    params = []
    current = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            current = [heading.group("name"), [], None]
            params.append(current)
            continue
        if line.startswith("## ") or line.startswith("### "):
            current = None
            continue
        if current is None:
            continue
        applicable = _APPLICABLE.match(line.strip())
        if applicable and current[2] is None:
            current[2] = applicable.group("list")
            continue
        aliases = _ALIASES.match(line.strip())
        if aliases:
            current[1] = [a.strip() for a in aliases.group("list").split(",") if a.strip()]
    return [tuple(p) for p in params]


_ACCEPTED = re.compile(r"^Accepted values:\s*(?P<list>.+)$")
_TYPE = re.compile(r"^Type:\s*(?P<type>\S+)")
_BULLET_VALUE = re.compile(r"^- (?P<value>[A-Za-z][A-Za-z0-9]*)(?::.*)?$")
# Types whose "valid values" prose is advice, not an enumeration.
_FREE_TYPES = ("string", "object", "multivaluedproperty", "boolean", "int", "uint", "long", "timespan")


def parse_values(text: str) -> dict[str, list[str]]:
    """Enumerated values per parameter: the reference's ``Accepted values:``
    line, or (Exchange pages) a bullet list of single words after "Valid
    values ... are:" for a parameter of an enumeration type."""
    values: dict[str, list[str]] = {}
    sections = re.split(r"^### -", text, flags=re.MULTILINE)[1:]
    for section in sections:
        lines = section.splitlines()
        name = lines[0].strip()
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            continue
        body = section.split("\n## ", 1)[0]
        type_match = next((_TYPE.match(entry.strip()) for entry in lines if _TYPE.match(entry.strip())), None)
        accepted = next((_ACCEPTED.match(entry.strip()) for entry in lines if _ACCEPTED.match(entry.strip())), None)
        if accepted:
            values[name] = [v.strip() for v in accepted.group("list").split(",") if v.strip()]
            continue
        if type_match is None or type_match.group("type").lower().startswith(_FREE_TYPES):
            continue
        found, bullets, started = False, [], False
        for line in body.splitlines()[1:]:
            stripped = line.strip()
            if not found:
                found = "valid values" in stripped.lower() and stripped.endswith(":")
                continue
            if not stripped and not started:
                continue
            if not stripped.startswith("- "):
                break
            started = True
            match = _BULLET_VALUE.match(stripped)
            if match is None:
                bullets = []
                break
            bullets.append(match.group("value"))
        if len(bullets) >= 2:
            values[name] = bullets
    return values


def exchange_facts(repo: Repo) -> dict[str, dict]:
    paths = repo.list_md(EXCHANGE_DIR)
    facts = {}
    for path, text in repo.read_many(paths).items():
        front = _front_matter(text)
        title = str(front.get("title") or Path(path).stem)
        versions = _exchange_versions(str(front.get("applicable", "")))
        if not versions:
            continue  # Exchange Online or Security & Compliance only
        parameters, aliases = {}, {}
        for name, param_aliases, applicable in parse_parameters(text):
            # A section without its own line applies wherever the cmdlet does.
            param_versions = _exchange_versions(applicable) if applicable is not None else versions
            if not param_versions:
                continue
            parameters[name] = " ".join(param_versions)
            for alias in param_aliases:
                aliases[alias] = name
        facts[title] = {
            "source": "exchange",
            "versions": " ".join(versions),
            "parameters": dict(sorted(parameters.items(), key=lambda kv: kv[0].lower())),
        }
        if aliases:
            facts[title]["parameter_aliases"] = dict(sorted(aliases.items()))
        _add_values(facts[title], parse_values(text))
    return facts


def _add_values(entry: dict, found: dict[str, list[str]]) -> None:
    """Union of the enumerated values of the entry's parameters."""
    for name, values in found.items():
        if name in entry["parameters"]:
            have = entry.setdefault("values", {}).setdefault(name, [])
            have.extend(v for v in values if v not in have)


def powershell_facts(repo: Repo) -> tuple[dict[str, dict], dict[str, str], dict[str, str]]:
    """(cmdlets, command aliases, common parameters with their aliases)."""
    paths = [p for p in repo.list_md(POWERSHELL_DIR) if "/About/" not in p and p.count("/") == 3]
    facts, command_aliases = {}, {}
    for path, text in repo.read_many(paths).items():
        front = _front_matter(text)
        title = str(front.get("title") or Path(path).stem)
        if not _VERB_NOUN.fullmatch(title):
            continue
        parameters, aliases = {}, {}
        for name, param_aliases, _applicable in parse_parameters(text):
            parameters[name] = "5.1"
            for alias in param_aliases:
                aliases[alias] = name
        facts[title] = {
            "source": "powershell",
            "module": path.split("/")[2],
            "parameters": dict(sorted(parameters.items(), key=lambda kv: kv[0].lower())),
        }
        if aliases:
            facts[title]["parameter_aliases"] = dict(sorted(aliases.items()))
        _add_values(facts[title], parse_values(text))
        for alias in front.get("aliases", []) or []:
            command_aliases[str(alias)] = title
    common_text = repo.read_many([COMMON_PARAMETERS_DOC])[COMMON_PARAMETERS_DOC]
    section = common_text.split("## Common parameters", 1)[1].split("\n## ", 1)[0]
    common = {}
    # 5.1's page also describes parameters PowerShell 7 added; 5.1 lacks them.
    added_later = set(re.findall(r"^### -(\w+)\n(?:(?!^### ).)*?added in\s+PowerShell 7",
                                 section, re.MULTILINE | re.DOTALL))
    for name, param_aliases, _applicable in parse_parameters(section):
        if name in added_later:
            continue
        common[name] = name
        for alias in param_aliases:
            common[alias] = name
    return facts, command_aliases, common


def windows_facts(repo: Repo) -> dict[str, dict]:
    facts: dict[str, dict] = {}
    for release, folder in WINDOWS_DOCSETS.items():
        paths = [p for p in repo.list_md(folder) if p.count("/") == 3]
        for path, text in repo.read_many(paths).items():
            front = _front_matter(text)
            title = str(front.get("title") or Path(path).stem)
            if not _VERB_NOUN.fullmatch(title):
                continue
            entry = facts.setdefault(title, {
                "source": "windows", "module": path.split("/")[2], "versions": [],
                "parameters": {}, "parameter_aliases": {},
            })
            entry["versions"].append(release)
            for name, param_aliases, _applicable in parse_parameters(text):
                entry["parameters"].setdefault(name, []).append(release)
                for alias in param_aliases:
                    entry["parameter_aliases"][alias] = name
            _add_values(entry, parse_values(text))
    for entry in facts.values():
        entry["versions"] = " ".join(entry["versions"])
        entry["parameters"] = {
            name: " ".join(releases)
            for name, releases in sorted(entry["parameters"].items(), key=lambda kv: kv[0].lower())
        }
        if not entry["parameter_aliases"]:
            del entry["parameter_aliases"]
        else:
            entry["parameter_aliases"] = dict(sorted(entry["parameter_aliases"].items()))
    return facts


def compact(entry: dict) -> dict:
    """Parameters available wherever the cmdlet is go in a plain list; only
    the exceptions carry their own versions (under ``limited``)."""
    everywhere = entry.get("versions")
    plain, limited = [], {}
    for name, versions in entry["parameters"].items():
        if everywhere is None or versions == everywhere or versions == "5.1":
            plain.append(name)
        else:
            limited[name] = versions
    out = {k: v for k, v in entry.items() if k not in ("parameters", "parameter_aliases", "values")}
    out["parameters"] = plain
    if limited:
        out["limited"] = limited
    if entry.get("parameter_aliases"):
        out["parameter_aliases"] = entry["parameter_aliases"]
    if entry.get("values"):
        out["values"] = {k: " ".join(v) for k, v in sorted(entry["values"].items())}
    return out


def wanted_names(script_dir: Path) -> set[str]:
    names = set(EXTRA)
    for path in sorted(script_dir.rglob("*.ps1")):
        names.update(_VERB_NOUN.findall(path.read_text(encoding="utf-8")))
    return names


def build(exchange: Repo, powershell: Repo, windows: Repo, script_dir: Path) -> dict:
    ex = exchange_facts(exchange)
    ps, command_aliases, common = powershell_facts(powershell)
    win = windows_facts(windows)
    wanted = {name.lower() for name in wanted_names(script_dir)}
    # An Exchange Get-X read brings its Set-X: the check derives from Set-X's
    # parameters which properties a version lacks.
    for name in list(wanted):
        verb, _, noun = name.partition("-")
        if verb in ("get", "set"):
            wanted.add(("set-" if verb == "get" else "get-") + noun)
    cmdlets = {}
    # Exchange first, then 5.1, then Windows modules: the first source to
    # know a name wins (none of ours is in two).
    for table in (ex, ps, win):
        for name, entry in table.items():
            if (name.lower() in wanted or entry.get("module") in WHOLE_MODULES) and name not in cmdlets:
                cmdlets[name] = compact(entry)
    kept_aliases = {
        alias: target for alias, target in command_aliases.items() if target in cmdlets
    }
    return {
        "about": (
            "Cmdlets and named parameters from Microsoft's published cmdlet reference, "
            "generated by scripts/gen_cmdlet_facts.py; do not edit by hand. Exchange "
            "entries list the Exchange versions that have the cmdlet and each parameter; "
            "Windows module entries list the Windows Server releases whose reference has "
            "them; 5.1 entries are Windows PowerShell 5.1. A parameter is available "
            "wherever its cmdlet is unless 'limited' names its own versions; 'values' "
            "lists a parameter's enumerated values where the reference enumerates them."
        ),
        "sources": {
            "exchange": {"repository": exchange.slug, "commit": exchange.commit, "path": EXCHANGE_DIR},
            "powershell": {"repository": powershell.slug, "commit": powershell.commit, "path": POWERSHELL_DIR},
            "windows": {
                "repository": windows.slug, "commit": windows.commit,
                "path": ", ".join(WINDOWS_DOCSETS.values()),
            },
        },
        "exchange_versions": list(EXCHANGE_VERSIONS),
        "common_parameters": dict(sorted(common.items())),
        "command_aliases": dict(sorted(kept_aliases.items())),
        "cmdlets": dict(sorted(cmdlets.items())),
    }


def dump(table: dict) -> str:
    """JSON with one line per cmdlet: small and diff-friendly."""
    head = {k: v for k, v in table.items() if k != "cmdlets"}
    lines = ["{"]
    for key, value in head.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, sort_keys=False)},")
    lines.append('  "cmdlets": {')
    items = list(table["cmdlets"].items())
    for i, (name, entry) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"    {json.dumps(name)}: {json.dumps(entry, separators=(',', ':'))}{comma}")
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--exchange", type=Path, required=True,
                    help="git dir of MicrosoftDocs/office-docs-powershell")
    ap.add_argument("--powershell", type=Path, required=True,
                    help="git dir of MicrosoftDocs/PowerShell-Docs")
    ap.add_argument("--windows", type=Path, required=True,
                    help="git dir of MicrosoftDocs/windows-powershell-docs")
    ap.add_argument("--output", type=Path, default=OUTPUT)
    ap.add_argument("--scripts", type=Path, default=HOST_SCRIPTS,
                    help="host script folder whose cmdlets to keep")
    args = ap.parse_args(argv)
    table = build(
        Repo(args.exchange, "MicrosoftDocs/office-docs-powershell"),
        Repo(args.powershell, "MicrosoftDocs/PowerShell-Docs"),
        Repo(args.windows, "MicrosoftDocs/windows-powershell-docs"),
        args.scripts,
    )
    args.output.write_text(dump(table), encoding="utf-8")
    print(f"wrote {args.output} ({len(table['cmdlets'])} cmdlets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
