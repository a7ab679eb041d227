"""Tests for scripts/check_ps1.py, the PowerShell syntax gate."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "check_ps1.py"

# The gate's own dependencies come from requirements-lint.txt; a venv
# without them cannot exercise the grammar at all.
pytest.importorskip("tree_sitter")
pytest.importorskip("tree_sitter_pwsh")


def _load_module():
    # scripts/ is not a package; load the file directly (this module only).
    spec = importlib.util.spec_from_file_location("check_ps1", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_ps1"] = module
    spec.loader.exec_module(module)
    return module


check_ps1 = _load_module()

# Windows PowerShell 5.1 syntax (no ?? or ternary): Exchange servers run 5.1.
VALID_SCRIPT = r"""#Requires -Version 5.1
<#
.SYNOPSIS
    Report the Exchange build from the ExSetup.exe file version.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $false)]
    [string]$InputJson = ''
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

function Get-ExSetupVersion {
    [CmdletBinding()]
    param([string]$InstallPath)

    $exSetup = Join-Path -Path $InstallPath -ChildPath 'Bin\ExSetup.exe'
    if (-not (Test-Path -LiteralPath $exSetup)) {
        return $null
    }
    $info = (Get-Item -LiteralPath $exSetup).VersionInfo
    return [version]('{0}.{1}.{2}.{3}' -f $info.FileMajorPart, $info.FileMinorPart,
        $info.FileBuildPart, $info.FilePrivatePart)
}

$result = [ordered]@{ ok = $true; changed = $false; data = @{}; steps = @() }
try {
    if ($InputJson) {
        $request = $InputJson | ConvertFrom-Json
    } else {
        $request = [Console]::In.ReadToEnd() | ConvertFrom-Json
    }
    $key = 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup'
    $installPath = (Get-ItemProperty -Path $key -Name MsiInstallPath).MsiInstallPath
    $version = Get-ExSetupVersion -InstallPath $installPath
    $result.data['file_version'] = "$version"
    $result.data['server'] = $request.args.server
    $result.steps += @{ name = 'read_exsetup'; ok = ($null -ne $version) }
    switch ($version.Major) {
        15 { $result.data['product'] = 'Exchange 2016/2019' }
        default { $result.data['product'] = 'unknown' }
    }
    Get-Service -Name MSExchange* -ErrorAction SilentlyContinue |
        Where-Object { $_.Status -ne 'Running' } |
        ForEach-Object { $result.steps += @{ name = "service:$($_.Name)"; ok = $false } }
} catch {
    $result.ok = $false
    $result['error'] = $_.Exception.Message
} finally {
    $summary = @"
done at $(Get-Date -Format o)
"@
    Write-Verbose $summary
}
$result | ConvertTo-Json -Depth 5 -Compress
"""


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _replace_line(text: str, lineno: int, expected: str, new: str) -> str:
    """Swap one 1-based line, asserting it is the one we meant to break."""
    lines = _lines(text)
    assert lines[lineno - 1] == expected
    lines[lineno - 1] = new
    return "\n".join(lines)


def _problems(text: str):
    return check_ps1.check_source(text.encode("utf-8"))


def _errors(text: str):
    return [p for p in _problems(text) if not p.allowed]


def test_valid_realistic_script_passes():
    assert _problems(VALID_SCRIPT) == []


def test_unclosed_brace_names_the_unclosed_block():
    # Dropping the if-block's closer makes the function's "}" close the if,
    # so the function itself is left open; the parser notices at the end.
    broken = _replace_line(VALID_SCRIPT, 22, "    }", "")
    [problem] = _errors(broken)
    assert problem.message == ('missing "}" to complete function_statement that starts at line 15')
    assert problem.line == 57  # the last line, where the file ended early


def test_unclosed_brace_at_end_of_short_script():
    script = "$servers = @('EX01', 'EX02')\nforeach ($s in $servers) {\n    Write-Output $s\n"
    [problem] = _errors(script)
    assert 'missing "}"' in problem.message
    assert "starts at line 2" in problem.message


def test_unclosed_string_points_back_at_its_opening_line():
    # The quote on line 35 pairs with the next "'" on line 38, which is where
    # the parser fails; the hint names line 35.
    broken = _replace_line(
        VALID_SCRIPT,
        35,
        "    $key = 'HKLM:\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup'",
        "    $key = 'HKLM:\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup",
    )
    [problem] = _errors(broken)
    assert problem.line == 38
    assert "a quoted string from line 35 ends on this line" in problem.message


def test_unclosed_double_quoted_string_without_a_later_quote():
    script = "$server = 'EX01'\nWrite-Output \"checking $server\n$done = 1\n"
    [problem] = _errors(script)
    assert problem.line == 2


def test_unbalanced_paren_reports_its_line():
    broken = _replace_line(
        VALID_SCRIPT,
        20,
        "    if (-not (Test-Path -LiteralPath $exSetup)) {",
        "    if (-not (Test-Path -LiteralPath $exSetup) {",
    )
    [problem] = _errors(broken)
    assert (problem.line, problem.col) == (20, 14)
    assert problem.source_line == "    if (-not (Test-Path -LiteralPath $exSetup) {"


def test_unbalanced_paren_deep_in_a_try_block_reports_its_line():
    # The parser gives up on the whole try block (line 29); the report must
    # still name line 40, where the ")" is missing.
    broken = _replace_line(
        VALID_SCRIPT,
        40,
        "    $result.steps += @{ name = 'read_exsetup'; ok = ($null -ne $version) }",
        "    $result.steps += @{ name = 'read_exsetup'; ok = ($null -ne $version }",
    )
    problems = _errors(broken)
    assert problems and problems[0].line == 40


def test_extra_closing_paren_reports_its_line():
    script = "$a = 1\n$b = (Get-Date))\n$c = 3\n"
    [problem] = _errors(script)
    assert problem.line == 2


# A labelled continue is valid PowerShell that tree-sitter-pwsh 0.38.1
# rejects, the kind of false positive the allow marker exists for.
LABELLED_LOOP = """:outer foreach ($db in $databases) {
    foreach ($copy in $db.Copies) {
        if ($copy.Status -eq 'Mounted') { continue outer }%s
    }
}
"""


def test_grammar_false_positive_fails_without_marker():
    [problem] = _errors(LABELLED_LOOP % "")
    # If this stops failing after a grammar upgrade, markers for labelled
    # loops can be dropped.
    assert problem.line == 3


def test_allow_marker_with_reason_allows_the_line():
    problems = _problems(LABELLED_LOOP % "  # ps1-syntax: allow labelled continue")
    assert problems and all(p.allowed for p in problems)


def test_allow_marker_without_reason_does_not_count():
    assert _errors(LABELLED_LOOP % "  # ps1-syntax: allow")


def test_allow_marker_only_covers_its_own_line():
    script = "$ok = 1  # ps1-syntax: allow nothing wrong here\n$b = (Get-Date))\n"
    assert [p.line for p in _errors(script)] == [2]


def test_utf8_bom_and_utf16_files_pass(tmp_path):
    utf8 = tmp_path / "bom.ps1"
    utf8.write_bytes(b"\xef\xbb\xbf" + VALID_SCRIPT.encode("utf-8"))
    utf16 = tmp_path / "utf16.ps1"
    utf16.write_bytes(VALID_SCRIPT.encode("utf-16"))
    for path in (utf8, utf16):
        assert check_ps1.check_source(check_ps1._read_source(path)) == []


# --- command line -----------------------------------------------------------


def _run(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_reports_path_line_col_and_source_line(tmp_path):
    good = tmp_path / "good.ps1"
    good.write_text(VALID_SCRIPT)
    bad = tmp_path / "bad.ps1"
    bad.write_text("$a = 1\n$b = (Get-Date))\n")
    result = _run(str(good), str(bad))
    assert result.returncode == 1
    assert f"{bad}:2:" in result.stdout
    assert "$b = (Get-Date))" in result.stdout
    assert str(good) not in result.stdout
    assert result.stdout.rstrip().endswith("checked 2 files, 1 failed")


def test_cli_passes_allowed_file(tmp_path):
    path = tmp_path / "loop.ps1"
    path.write_text(LABELLED_LOOP % "  # ps1-syntax: allow labelled continue")
    result = _run(str(path))
    assert result.returncode == 0, result.stdout
    assert ": allowed:" in result.stdout
    assert "checked 1 files, 0 failed" in result.stdout


def _collection_tree(root: Path) -> None:
    (root / "plugins" / "plugin_utils" / "_host_scripts").mkdir(parents=True)
    (root / "plugins" / "plugin_utils" / "_host_scripts" / "get_build.ps1").write_text(VALID_SCRIPT)
    # Broken files in excluded folders must not be looked at.
    for excluded in ("tests/lab", ".collections/x", ".venv312/bin", "roles/r/.venv/bin"):
        (root / excluded).mkdir(parents=True)
        (root / excluded / "broken.ps1").write_text("if ($x {\n")


def test_scan_finds_collection_scripts_and_skips_excluded_folders(tmp_path):
    _collection_tree(tmp_path)
    found = check_ps1.find_scripts(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "plugins/plugin_utils/_host_scripts/get_build.ps1"
    ]
    result = _run("--root", str(tmp_path), "--require-files")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked 1 files, 0 failed" in result.stdout


def test_scan_does_not_loop_on_the_self_symlink(tmp_path):
    _collection_tree(tmp_path)
    link_dir = tmp_path / "other"
    link_dir.mkdir()
    (link_dir / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert len(check_ps1.find_scripts(tmp_path)) == 1


def test_require_files_fails_on_empty_scan(tmp_path):
    (tmp_path / "plugins").mkdir()
    result = _run("--root", str(tmp_path), "--require-files")
    assert result.returncode == 1
    assert "checked 0 files, 0 failed" in result.stdout
    assert "no PowerShell files found" in result.stderr


def test_empty_scan_passes_without_require_files(tmp_path):
    result = _run("--root", str(tmp_path))
    assert result.returncode == 0
    assert "checked 0 files, 0 failed" in result.stdout


def test_missing_explicit_file_is_a_usage_error(tmp_path):
    result = _run(str(tmp_path / "nope.ps1"))
    assert result.returncode == 2


def test_collection_scripts_parse():
    """Every shipped PowerShell file parses (the same check CI runs)."""
    files = check_ps1.find_scripts(REPO_ROOT)
    if not files:
        pytest.skip("no .ps1 files in the collection yet")
    failures = {
        str(path.relative_to(REPO_ROOT)): [
            f"{p.line}:{p.col}: {p.message}" for p in problems if not p.allowed
        ]
        for path in files
        if (problems := check_ps1.check_source(check_ps1._read_source(path)))
    }
    assert not {k: v for k, v in failures.items() if v}
