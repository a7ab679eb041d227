"""Tests for scripts/check_ps1_semantics.py, the checks that read the host
scripts the way Windows would (issue 11).

Each rule is proven able to fail: a real host script is copied, one line is
mutated the way a person could get it wrong, and the check must refuse that
line, while the unmutated script has no such finding there.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"
HOST_SCRIPTS = REPO_ROOT / "plugins" / "plugin_utils" / "_host_scripts"

pytest.importorskip("tree_sitter")
pytest.importorskip("tree_sitter_pwsh")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sem = _load("check_ps1_semantics")
gen = _load("gen_cmdlet_facts")
FACTS = sem.Facts.load()


def _findings(path, **kwargs):
    return sem.check_files([path], FACTS, **kwargs)


def _mutate(tmp_path, script, pattern, replacement, header=None):
    """Copy host script ``script`` with the first line matching ``pattern``
    rewritten; return (copy, 1-based line number, original findings)."""
    original = HOST_SCRIPTS / (script + ".ps1")
    lines = original.read_text(encoding="utf-8").split("\n")
    regex = re.compile(pattern)
    for index, line in enumerate(lines):
        if regex.search(line):
            lines[index] = regex.sub(replacement, line, count=1)
            break
    else:
        pytest.fail(f"{script}.ps1 no longer has a line matching {pattern!r}; pick a new anchor")
    if header:
        lines.insert(0, header)
        index += 1
    copy = tmp_path / original.name
    copy.write_text("\n".join(lines), encoding="utf-8")
    return copy, index + 1, _findings(original)


def _probe(tmp_path, cmdlets, body, uses=()):
    """A small operation script: line 3 opens the session importing
    ``cmdlets``; ``body`` (a list of lines) starts on line 4."""
    lines = [
        "# Uses: " + ", ".join(("Open-ExchangeSession",) + tuple(uses)),
        "param($HostArgs)",
        "$s = Open-ExchangeSession -Ems $HostArgs.ems -Fqdn 'x' -CommandName "
        + ", ".join("'%s'" % c for c in cmdlets),
    ] + list(body)
    path = tmp_path / "Probe.ps1"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return _findings(path)


def _refused(findings, line, rule):
    return [f for f in findings if f.line == line and f.rule == rule and not f.allowed]


def _assert_mutation_refused(tmp_path, script, pattern, replacement, rule, text):
    copy, line, before = _mutate(tmp_path, script, pattern, replacement)
    assert not _refused(before, line, rule), f"{script}.ps1:{line} already has a {rule} finding"
    hits = _refused(_findings(copy), line, rule)
    assert hits, f"no {rule} refusal at {copy.name}:{line}"
    assert any(text in f.message for f in hits), [f.message for f in hits]
    assert all(f.hint for f in hits)
    return hits


# -- the fact table ---------------------------------------------------------


def test_fact_table_loads_and_names_its_sources():
    table = json.loads((SCRIPTS / "cmdlet_facts.json").read_text(encoding="utf-8"))
    sources = table["sources"]
    assert sources["exchange"]["repository"] == "MicrosoftDocs/office-docs-powershell"
    assert sources["powershell"]["repository"] == "MicrosoftDocs/PowerShell-Docs"
    assert sources["windows"]["repository"] == "MicrosoftDocs/windows-powershell-docs"
    for source in sources.values():
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), source
    # Facts the checks rely on, as the reference states them.
    cmdlets = table["cmdlets"]
    assert cmdlets["Set-ExchangeServer"]["limited"]["MitigationsEnabled"] == "2016 2019 SE"
    assert "Identity" in cmdlets["Get-ExchangeServer"]["parameters"]
    assert cmdlets["Mount-DiskImage"]["module"] == "Storage"
    assert cmdlets["Register-ScheduledTask"]["module"] == "ScheduledTasks"
    assert cmdlets["Get-WebConfiguration"]["module"] == "WebAdministration"
    assert table["command_aliases"]["%"] == "ForEach-Object"
    assert table["common_parameters"]["ea"] == "ErrorAction"
    # PowerShell 7.4 added ProgressAction; Windows PowerShell 5.1 lacks it.
    assert "ProgressAction" not in table["common_parameters"]


def test_fact_table_knows_every_cmdlet_the_host_scripts_call():
    unknown = [f for f in _all_findings() if f.rule == "unknown-command"]
    assert not unknown, [(f.path, f.line, f.message) for f in unknown]


def _all_findings():
    return sem.check_files(sem.host_scripts(), FACTS)


def test_generator_reads_per_parameter_exchange_versions():
    page = """---
applicable: Exchange Server 2010, Exchange Server 2013, Exchange Server 2016, Exchange Server 2019, Exchange Server SE
title: Set-Thing
---
## PARAMETERS

### -Identity

> Applicable: Exchange Server 2010, Exchange Server 2013, Exchange Server 2016, Exchange Server 2019, Exchange Server SE

```yaml
Type: ServerIdParameter
Aliases: Id
```

### -NewThing

> Applicable: Exchange Server 2016, Exchange Server 2019, Exchange Server SE, Exchange Online

```yaml
Aliases:
```

### -OnlineOnly

> Applicable: Exchange Online

### CommonParameters
"""
    params = gen.parse_parameters(page)
    assert [p[0] for p in params] == ["Identity", "NewThing", "OnlineOnly"]
    assert params[0][1] == ["Id"]
    assert gen._exchange_versions(params[1][2]) == ["2016", "2019", "SE"]
    assert gen._exchange_versions(params[2][2]) == []
    page_values = gen.parse_values(page.replace("### -OnlineOnly", """### -Mode

Valid values are:

- Fast: quick.
- Slow

```yaml
Type: ModeType
```

### -Label

Valid values are:

- Any text

```yaml
Type: String
```

### -OnlineOnly"""))
    assert page_values == {"Mode": ["Fast", "Slow"]}
    entry = gen.compact({"source": "exchange", "versions": "2013 2016 2019 SE",
                         "parameters": {"Identity": "2013 2016 2019 SE", "NewThing": "2016 2019 SE"}})
    assert entry["parameters"] == ["Identity"]
    assert entry["limited"] == {"NewThing": "2016 2019 SE"}


# -- (a) cmdlets and parameters ----------------------------------------------


def test_misspelled_parameter_is_refused(tmp_path):
    hits = _assert_mutation_refused(
        tmp_path, "Enter-MaintenanceStep", r"(Set-ServerComponentState .*)-Requester\b", r"\1-Requestor",
        "unknown-parameter", "Set-ServerComponentState has no parameter -Requestor")
    assert "-Requester" in hits[0].hint


def test_value_outside_the_enumeration_is_refused(tmp_path):
    hits = _assert_mutation_refused(
        tmp_path, "Enter-MaintenanceStep", r"-State Draining", "-State Drain",
        "invalid-value", "Set-ServerComponentState -State does not accept 'Drain'")
    assert "Active, Inactive, Draining" in hits[0].hint
    # Values are matched as PowerShell binds them: case-insensitively.
    copy, line, _ = _mutate(tmp_path, "Enter-MaintenanceStep", r"-State Draining", "-State draining")
    assert not _refused(_findings(copy), line, "invalid-value")


def test_windows_module_value_outside_the_enumeration_is_refused(tmp_path):
    _assert_mutation_refused(
        tmp_path, "Start-InstallerTask", r"-StorageType ISO", "-StorageType IMG",
        "invalid-value", "Mount-DiskImage -StorageType does not accept 'IMG'")


def test_parameter_2013_lacks_is_refused_in_a_script_that_runs_on_2013(tmp_path):
    _assert_mutation_refused(
        tmp_path, "Get-MaintenanceState", r"Get-MailboxDatabase ", "Get-MailboxDatabase -IncludeCorrupted ",
        "parameter-version", "-IncludeCorrupted of Get-MailboxDatabase does not exist on Exchange 2013")


def test_exchange_header_narrows_the_versions(tmp_path):
    copy, line, _ = _mutate(tmp_path, "Get-MaintenanceState", r"Get-MailboxDatabase ",
                            "Get-MailboxDatabase -IncludeCorrupted ", header="# Exchange: 2016, 2019, SE")
    assert not _refused(_findings(copy), line, "parameter-version")


def test_unreadable_exchange_header_is_refused(tmp_path):
    copy, _line, _ = _mutate(tmp_path, "Get-HostIdentity", r"^param", "param", header="# Exchange: 2016, 2020")
    assert [f.rule for f in _findings(copy)] == ["header"]


def test_unknown_cmdlet_is_refused(tmp_path):
    _assert_mutation_refused(
        tmp_path, "Get-MaintenanceState", r"(?<=in )Get-MailboxDatabaseCopyStatus", "Get-MailboxDatabaseCopyState",
        "unknown-command", "Get-MailboxDatabaseCopyState is not a cmdlet")


def test_abbreviated_parameter_is_refused(tmp_path):
    _assert_mutation_refused(
        tmp_path, "Enter-MaintenanceStep", r"(Restart-Service .*)-Force\b", r"\1-Forc",
        "abbreviated-parameter", "-Forc of Restart-Service abbreviates -Force")


def test_misspelled_key_of_a_splatted_hashtable_is_refused(tmp_path):
    functions = tmp_path / "_functions"
    shutil.copytree(HOST_SCRIPTS / "_functions", functions)
    path = functions / "Open-ExchangeSession.ps1"
    text = path.read_text(encoding="utf-8")
    assert "ConnectionUri = " in text
    path.write_text(text.replace("ConnectionUri = ", "ConnectionUrl = "), encoding="utf-8")
    line = next(i for i, text_line in enumerate(text.split("\n"), 1) if re.search(r"New-PSSession @", text_line))
    hits = _refused(_findings(path, function_dir=functions), line, "unknown-parameter")
    assert hits and "-ConnectionUrl (key of splatted @sessionParameters)" in hits[0].message


def test_misspelled_parameter_of_a_shared_function_is_refused(tmp_path):
    # Functions without [CmdletBinding()] would take it silently into $args.
    _assert_mutation_refused(
        tmp_path, "Get-EemsState", r"Open-ExchangeSession -Ems", "Open-ExchangeSession -Emss",
        "unknown-parameter", "Open-ExchangeSession has no parameter -Emss")


def test_shared_function_called_without_uses_line_is_refused(tmp_path):
    copy, _line, _ = _mutate(tmp_path, "Get-ActiveDirectoryPrepState", r"^# Uses: .*$", "# Uses: Get-PropertyValue")
    session_line = next(i for i, text_line in enumerate(copy.read_text().split("\n"), 1) if "Open-ExchangeSession -Ems" in text_line)
    assert _refused(_findings(copy), session_line, "undeclared-function")


def test_copy_of_a_shared_function_in_an_operation_is_refused(tmp_path):
    found = _probe(tmp_path, [], [
        "function Get-PropertyValue {",
        "    param($InputObject, [string]$Name)",
        "    $InputObject.$Name",
        "}",
    ])
    assert [(f.line, f.rule) for f in found] == [(4, "shadowed-function")]


def test_exchange_cmdlet_not_imported_into_the_session_is_refused(tmp_path):
    copy, _line, _ = _mutate(tmp_path, "Enter-MaintenanceStep", r", 'Redirect-Message'", "")
    use = next(i for i, text_line in enumerate(copy.read_text().split("\n"), 1) if text_line.strip().startswith("Redirect-Message "))
    hits = _refused(_findings(copy), use, "not-imported")
    assert hits and "Redirect-Message" in hits[0].message


def test_cmdlet_a_shared_function_needs_must_be_imported_too(tmp_path):
    copy, line, _ = _mutate(tmp_path, "Enter-MaintenanceStep", r"'Get-ServerComponentState', ", "")
    hits = _refused(_findings(copy), line, "not-imported")
    assert hits and "called by shared function Get-ComponentValue" in hits[0].message


# -- (b) nested Exchange values ----------------------------------------------


def test_major_on_admin_display_version_is_refused(tmp_path):
    _assert_mutation_refused(
        tmp_path, "Get-ExchangeFacts", r"\[string\]\(Get-PropertyValue -InputObject (\$\w+) -Name 'AdminDisplayVersion'\)",
        r"[string]\1.AdminDisplayVersion.Major",
        "nested-member", "'.Major' on AdminDisplayVersion")


def test_name_on_a_dag_member_is_refused(tmp_path):
    # Whatever the loop body reads today, read the member's .Name directly;
    # the same line through Get-IdentityName is the control.
    original = (HOST_SCRIPTS / "Get-MaintenanceState.ps1").read_text(encoding="utf-8").split("\n")
    loop = next((i for i, text_line in enumerate(original) if re.search(r"foreach \(\$\w+ in .*Servers", text_line)), None)
    if loop is None:
        pytest.fail("Get-MaintenanceState.ps1 no longer loops over a DAG's Servers; pick a new anchor")
    var = re.search(r"foreach \((\$\w+) in", original[loop]).group(1)
    anchor = re.escape(original[loop + 1]) + "$"
    control, line, _ = _mutate(tmp_path, "Get-MaintenanceState", anchor,
                               "$probeName = ([string](Get-IdentityName -Value %s)).ToUpperInvariant()" % var)
    assert not _refused(_findings(control), line, "nested-member")
    copy, line, _ = _mutate(tmp_path, "Get-MaintenanceState", anchor,
                            "$probeName = ([string]%s.Name).ToUpperInvariant()" % var)
    hits = _refused(_findings(copy), line, "nested-member")
    assert hits and "'.Name' on an ADObjectId value" in hits[0].message
    assert "Get-IdentityName" in hits[0].hint


def test_state_on_component_local_states_items_is_refused(tmp_path):
    found = _probe(tmp_path, ["Get-ServerComponentState"], [
        "foreach ($c in Get-ServerComponentState -Identity 'EX1') {",
        "    $r = @($c.LocalStates | Where-Object { $_.State -eq 'Inactive' })",
        "    $ok = [string]$c.State",
        "}",
    ])
    assert [(f.line, f.rule) for f in found] == [(5, "nested-member")]
    assert "LocalStates/RemoteStates" in found[0].message


def test_identity_reads_through_the_helpers_are_accepted(tmp_path):
    found = _probe(tmp_path, ["Get-DatabaseAvailabilityGroup", "Get-ExchangeServer"], [
        "foreach ($m in (Get-DatabaseAvailabilityGroup -Identity 'D').Servers) { Get-IdentityName -Value $m }",
        "$v = ConvertTo-VersionText -Value (Get-ExchangeServer -Identity 'x').AdminDisplayVersion",
        "$e = Get-PropertyValue -InputObject (Get-ExchangeServer -Identity 'x') -Name 'MitigationsEnabled'",
        "$n = $HostArgs.server.Name",
    ], uses=("Get-IdentityName", "ConvertTo-VersionText", "Get-PropertyValue"))
    assert found == []


# -- (c) version-dependent properties ---------------------------------------


def test_bare_mitigations_enabled_is_refused(tmp_path):
    hits = _assert_mutation_refused(
        tmp_path, "Get-ExchangeFacts", r"\[string\]\(Get-PropertyValue -InputObject \$(\w+) -Name 'Edition'\)", r"[bool]$\1.MitigationsEnabled",
        "version-property", "bare read of '.MitigationsEnabled'")
    assert "Get-PropertyValue" in hits[0].hint


def test_property_a_version_lacks_is_refused_only_on_that_exchange_object(tmp_path):
    # Set-DatabaseAvailabilityGroup -FileSystem is 2016+; Get-Volume's
    # FileSystem is a Windows property and must not be refused.
    found = _probe(tmp_path, ["Get-DatabaseAvailabilityGroup"], [
        "$fs = (Get-Volume -DriveLetter C).FileSystem",
        "$dfs = (Get-DatabaseAvailabilityGroup -Identity 'D').FileSystem",
    ])
    assert [(f.line, f.rule) for f in found] == [(5, "version-property")]
    assert "absent on Exchange 2013" in found[0].message


# -- Set-StrictMode -Version 2.0 ------------------------------------------


def test_misspelled_variable_is_refused(tmp_path):
    hits = _assert_mutation_refused(
        tmp_path, "Get-MaintenanceState", r"(?<=-Fqdn )\$fqdn\b", "$fdqn",
        "undefined-variable", "$fdqn is read but never set")
    assert "Set-StrictMode" in hits[0].message


def test_variables_set_by_common_parameters_and_in_strings_are_understood(tmp_path):
    found = _probe(tmp_path, [], [
        "Get-Service -Name 'W3SVC' -ErrorVariable failures -ErrorAction SilentlyContinue | Out-Null",
        "$text = \"$failures ${failures} $env:COMPUTERNAME\"",
        "$other = \"$missing\"",
    ])
    assert [(f.line, f.rule) for f in found] == [(6, "undefined-variable")]


def test_null_test_of_an_argument_with_a_bare_read_is_refused(tmp_path):
    # $HostArgs is ConvertFrom-Json's object: a key the controller leaves out
    # is a missing property, and StrictMode throws on the test itself.
    _assert_mutation_refused(
        tmp_path, "Get-InstallerTaskState", r"\[int\]\$HostArgs\.tail_lines",
        "$(if ($null -eq $HostArgs.tail_lines) { 200 } else { [int]$HostArgs.tail_lines })",
        "optional-argument", "'$HostArgs.tail_lines' tests for an argument the controller may leave out")
    copy, line, _ = _mutate(
        tmp_path, "Get-InstallerTaskState", r"\[int\]\$HostArgs\.tail_lines",
        "[int](Get-PropertyValue -InputObject $HostArgs -Name 'tail_lines' -Default 200)")
    assert not _refused(_findings(copy), line, "optional-argument")


def test_command_called_like_a_method_is_refused(tmp_path):
    _assert_mutation_refused(
        tmp_path, "Get-ExchangeFacts", r"Get-ExchangeOrganizationFact -Server \$env:COMPUTERNAME",
        "Get-ExchangeOrganizationFact($env:COMPUTERNAME, 1)",
        "method-call-syntax", "Get-ExchangeOrganizationFact(...) calls a command the way a method is called")


# -- allow marker and command line -----------------------------------------


def test_allow_marker_needs_a_reason(tmp_path):
    base = r"[bool]$\1.MitigationsEnabled"
    copy, line, _ = _mutate(tmp_path, "Get-ExchangeFacts", r"\[string\]\(Get-PropertyValue -InputObject \$(\w+) -Name 'Edition'\)",
                            base + "  # ps1-semantics: allow probe for the test")
    hits = [f for f in _findings(copy) if f.line == line and f.rule == "version-property"]
    assert hits and all(f.allowed for f in hits)
    copy, line, _ = _mutate(tmp_path, "Get-ExchangeFacts", r"\[string\]\(Get-PropertyValue -InputObject \$(\w+) -Name 'Edition'\)",
                            base + "  # ps1-semantics: allow")
    assert _refused(_findings(copy), line, "version-property")


def test_command_line_fails_and_names_file_line_and_rule(tmp_path):
    copy, line, _ = _mutate(tmp_path, "Enter-MaintenanceStep", r"(Set-ServerComponentState .*)-Requester\b",
                            r"\1-Requestor")
    run = subprocess.run(
        [sys.executable, str(SCRIPTS / "check_ps1.py"), "--semantics", str(copy)],
        capture_output=True, text=True, check=False)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{copy}:{line}: error: [unknown-parameter]" in run.stdout
    assert "hint:" in run.stdout


def test_command_line_passes_a_clean_script():
    run = subprocess.run(
        [sys.executable, str(SCRIPTS / "check_ps1.py"), "--semantics",
         str(HOST_SCRIPTS / "Get-HostIdentity.ps1")],
        capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 findings" in run.stdout


def test_mitigation_properties_stay_refused_on_2016_and_later(tmp_path):
    # 2016 and 2019 have them only from the September 2021 CUs on, which the
    # reference's per-version lines cannot say; the header does not help.
    copy, line, _ = _mutate(tmp_path, "Get-ExchangeFacts", r"\[string\]\(Get-PropertyValue -InputObject \$(\w+) -Name 'Edition'\)",
                            r"[bool]$\1.MitigationsEnabled", header="# Exchange: 2016, 2019, SE")
    hits = _refused(_findings(copy), line, "version-property")
    assert hits and "September 2021" in hits[0].message


def test_mitigation_properties_are_refused_on_a_value_of_unknown_origin(tmp_path):
    copy = tmp_path / "Probe.ps1"
    copy.write_text("param($HostArgs)\nfunction Get-Flag {\n    param($Server)\n"
                    "    [bool]$Server.MitigationsApplied\n}\n", encoding="utf-8")
    assert [(f.line, f.rule) for f in _findings(copy)] == [(4, "version-property")]


def test_functions_take_only_their_own_parameters(tmp_path):
    path = tmp_path / "Probe.ps1"
    path.write_text("\n".join([
        "param($HostArgs)",
        "function Get-Thing {",
        "    [CmdletBinding()]",
        "    param([Parameter(Mandatory = $true)][string]$Name)",
        "    1..2 | ForEach-Object { & { param($inner) $inner } $_ }",
        "}",
        "function Get-Plain([int]$Count) { $Count }",
        "Get-Thing -Name 'a' -ErrorAction Stop",
        "Get-Thing -inner 1",
        "Get-Plain -Count 1 -ErrorAction Stop",
    ]) + "\n", encoding="utf-8")
    found = _findings(path)
    assert [(f.line, f.rule) for f in found] == [(9, "unknown-parameter"), (10, "unknown-parameter")]
    assert "$args unnoticed" in found[1].hint


# -- the generator, end to end on small fetched-style repositories ------------


def _git_repo(root, files):
    root.mkdir()
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "docs"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, env=env, capture_output=True)
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    return root / ".git", head.stdout.strip()


def _exchange_page(name, params, cmdlet_versions="Exchange Server 2013, Exchange Server 2016, "
                   "Exchange Server 2019, Exchange Server SE"):
    sections = "".join(
        "### -%s\n\n> Applicable: %s\n\n```yaml\nType: String\nAliases:\n```\n\n" % (p, v) for p, v in params)
    return "---\napplicable: %s\ntitle: %s\n---\n## PARAMETERS\n\n%s### CommonParameters\n" % (
        cmdlet_versions, name, sections)


def test_generator_writes_the_table_with_source_commits(tmp_path):
    all_four = "Exchange Server 2013, Exchange Server 2016, Exchange Server 2019, Exchange Server SE"
    exchange, exchange_head = _git_repo(tmp_path / "exchange", {
        "exchange/exchange-ps/ExchangePowerShell/Get-Widget.md": _exchange_page("Get-Widget", [("Identity", all_four)]),
        "exchange/exchange-ps/ExchangePowerShell/Set-Widget.md": _exchange_page("Set-Widget", [
            ("Identity", all_four), ("Shiny", "Exchange Server 2019, Exchange Server SE")]),
        "exchange/exchange-ps/ExchangePowerShell/Get-Unused.md": _exchange_page("Get-Unused", [("Identity", all_four)]),
    })
    powershell, powershell_head = _git_repo(tmp_path / "powershell", {
        "reference/5.1/Microsoft.PowerShell.Core/ForEach-Object.md":
            "---\naliases:\n  - '%'\ntitle: ForEach-Object\n---\n### -Process\n\n```yaml\nAliases:\n```\n",
        "reference/5.1/Microsoft.PowerShell.Core/About/about_CommonParameters.md":
            "## Common parameters\n\n### -ErrorAction\n\n```yaml\nAliases: ea\n```\n\n"
            "### -ProgressAction\n\nThe parameter was added in\nPowerShell 7.4.\n\n## Risk\n",
    })
    windows, windows_head = _git_repo(tmp_path / "windows", {
        "docset/winserver2016-ps/Storage/Mount-DiskImage.md":
            "---\ntitle: Mount-DiskImage\n---\n### -ImagePath\n\n```yaml\nAliases:\n```\n",
        "docset/winserver2022-ps/Storage/Mount-DiskImage.md":
            "---\ntitle: Mount-DiskImage\n---\n### -ImagePath\n\n```yaml\nAliases:\n```\n\n"
            "### -StorageType\n\n```yaml\nAliases:\nAccepted values: ISO, VHD\n```\n",
    })
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "Get-Thing.ps1").write_text("param($HostArgs)\nGet-Widget -Identity x | % { Mount-DiskImage }\n")
    output = tmp_path / "facts.json"
    assert gen.main(["--exchange", str(exchange), "--powershell", str(powershell), "--windows", str(windows),
                     "--scripts", str(scripts), "--output", str(output)]) == 0
    table = json.loads(output.read_text(encoding="utf-8"))
    assert table["sources"]["exchange"]["commit"] == exchange_head
    assert table["sources"]["powershell"]["commit"] == powershell_head
    assert table["sources"]["windows"]["commit"] == windows_head
    cmdlets = table["cmdlets"]
    assert "Get-Unused" not in cmdlets  # no script names it
    assert cmdlets["Set-Widget"]["limited"] == {"Shiny": "2019 SE"}  # Get-Widget's counterpart
    assert cmdlets["Mount-DiskImage"]["limited"] == {"StorageType": "2022"}
    assert cmdlets["Mount-DiskImage"]["values"] == {"StorageType": "ISO VHD"}
    assert table["command_aliases"] == {"%": "ForEach-Object"}
    assert table["common_parameters"] == {"ErrorAction": "ErrorAction", "ea": "ErrorAction"}
    # The checker reads what the generator wrote.
    facts = sem.Facts.load(output)
    assert facts.version_properties(("2013", "2016", "2019", "SE"))["widget"]["Shiny"].startswith(
        "absent on Exchange 2013, 2016")


def test_lint_runs_the_semantic_gate():
    lint = (SCRIPTS / "lint.sh").read_text(encoding="utf-8")
    assert re.search(r'^"\$py" scripts/check_ps1\.py --semantics \|\| rc=1$', lint, re.MULTILINE)


# -- (d) no second hop (issue 11, item 4) -------------------------------------


def test_ldap_bind_from_the_winrm_logon_is_refused(tmp_path):
    # The AD-prep read as it was before issue 11: the organisation's
    # objectVersion through an LDAP bind instead of Get-OrganizationConfig.
    hits = _assert_mutation_refused(
        tmp_path, "Get-ActiveDirectoryPrepState",
        r"^\$organizationVersion = Get-PropertyValue -InputObject \$organization -Name 'ObjectVersion'$",
        "$organizationVersion = ([ADSI]('LDAP://{0}' -f $organization.DistinguishedName)).objectVersion",
        "second-hop", "[ADSI] binds to Active Directory")
    assert len(hits) == 1 and "second hop" in hits[0].hint and "Get-OrganizationConfig" in hits[0].hint


def test_every_direct_directory_read_is_refused_naming_its_line(tmp_path):
    found = _probe(tmp_path, [], [
        "$a = [adsisearcher]'(objectClass=msExchOrganizationContainer)'",
        "$b = New-Object -TypeName System.DirectoryServices.DirectorySearcher",
        "$c = [System.DirectoryServices.ActiveDirectory.Forest]::GetCurrentForest()",
        "$d = 'GC://{0}' -f $env:USERDNSDOMAIN",
        "Import-Module ActiveDirectory",
        "$e = Get-ADObject -Identity 'CN=x'",
        "$f = 'Read the schema level with an LDAP tool as yourself.'",
    ])
    refused = sorted({f.line for f in found if f.rule == "second-hop"})
    assert refused == [4, 5, 6, 7, 8, 9], [(f.line, f.rule, f.message) for f in found]
    assert not [f for f in found if f.line == 10]


def test_explicit_credentials_are_no_second_hop(tmp_path):
    # A share or repository reached with a credential sent as data is fine.
    found = _probe(tmp_path, [], [
        "$p = ConvertTo-SecureString -String 'x' -AsPlainText -Force",
        "$k = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList 'u', $p",
        "$r = New-PSDrive -Name 'R' -PSProvider FileSystem -Root '\\\\srv\\share' -Credential $k",
    ])
    assert not [f for f in found if f.rule == "second-hop"]
