"""Host scripts read Exchange values the way real remote sessions deliver them.

Over a remote EMS session nested Exchange values may be live objects,
deserialized property bags or plain text, and the EEMS properties exist only
from the September 2021 CUs on (absent on 2013 and older CUs, see
tests/lab/data/exchange_value_forms.yml).  Scripts run under
``Set-StrictMode -Version 2.0``, where reading a property an object lacks
throws and loses the whole answer.  So the scripts must go through the shared
helpers (Get-PropertyValue, ConvertTo-VersionText, Get-IdentityName,
ConvertFrom-RequesterDetail) instead of member access.  A simple line check;
scripts/check_ps1.py holds the full checker.
"""
from __future__ import annotations

import os
import re

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _host_call

SCRIPT_DIR = _host_call.SCRIPT_DIR
FUNCTION_DIR = _host_call.FUNCTION_DIR

# Properties whose value is a nested Exchange value (ServerVersion,
# ADObjectId lists, RequesterDetails lists) or whose items are.
_NESTED = ("AdminDisplayVersion", "Servers", "LocalStates", "RemoteStates", "Requester")
# Properties some supported builds lack.
_VERSION_DEPENDENT = ("MitigationsEnabled", "MitigationsBlocked", "MitigationsApplied", "DataCollectionEnabled")

RULES = {
    # `$x.AdminDisplayVersion`, `(...).Servers`, `$_.Requester`; a cmdlet's
    # -Requester parameter has no dot and passes.
    "nested Exchange value read by member access": re.compile(r"[\w)\]]\.(%s)\b" % "|".join(_NESTED)),
    "version parts read by member access (.Major/.Minor/.Build/.Revision)":
        re.compile(r"[\w)\]]\.(Major|Minor|Build|Revision)\b"),
    # Reads only: assigning our own splatting table's key
    # (`$parameters.MitigationsEnabled = ...`) is fine.
    "version-dependent property read without Get-PropertyValue":
        re.compile(r"[\w)\]]\.(%s)\b(?!\s*=[^=])" % "|".join(_VERSION_DEPENDENT)),
}

# The Exchange-facing operations of this area also read their optional
# arguments safely (an absent JSON key is a missing property too).
_ARGUMENT_RULE = re.compile(r"\$HostArgs\.(?!PSObject\b)\w+")
STRICT_ARGUMENT_SCRIPTS = (
    "Get-ExchangeFacts", "Get-MaintenanceState", "Enter-MaintenanceStep", "Exit-MaintenanceStep",
    "Get-ActiveDirectoryPrepState", "Test-ExchangeInstallHealth", "Set-EemsServerConfig", "Get-EemsState",
    "Set-EemsOrganizationConfig",
)


def _code_lines(text):
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, stripped


def violations(text, strict_arguments=False):
    """``[(line number, rule, line)]`` for every refused access in ``text``."""
    found = []
    for number, line in _code_lines(text):
        for rule, pattern in RULES.items():
            if pattern.search(line):
                found.append((number, rule, line))
        if strict_arguments and _ARGUMENT_RULE.search(line):
            found.append((number, "argument read without Get-PropertyValue", line))
    return found


def _scripts():
    for directory in (SCRIPT_DIR, FUNCTION_DIR):
        for name in sorted(os.listdir(directory)):
            if name.endswith(".ps1"):
                yield os.path.join(directory, name)


@pytest.mark.parametrize("path", list(_scripts()), ids=os.path.basename)
def test_no_host_script_reads_exchange_values_by_member_access(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    name = os.path.basename(path)[:-4]
    found = violations(text, strict_arguments=name in STRICT_ARGUMENT_SCRIPTS)
    assert not found, "\n".join("%s line %d: %s: %s" % (name, n, rule, line) for n, rule, line in found)


# Each mutation is one line a real server would break on, as the scripts
# once had it.
MUTATIONS = [
    ("$memberName = ([string]$member.Name).ToUpperInvariant()\n"
     "foreach ($member in (Get-DatabaseAvailabilityGroup -Identity $dag).Servers) { }", 2,
     "nested Exchange value"),
    ("$version = $server.AdminDisplayVersion", 1, "nested Exchange value"),
    ("$build = '{0}.{1}' -f $version.Major, $version.Minor", 1, "version parts"),
    ("$r = @($c.LocalStates) | Where-Object { $_.State -eq 'Inactive' }", 1, "nested Exchange value"),
    ("$x = 1\n$y = [bool]$exchangeServer.MitigationsEnabled", 2, "version-dependent"),
    ("$after = [bool](Get-OrganizationConfig).MitigationsEnabled", 1, "version-dependent"),
    ("$list = @($server.MitigationsBlocked)", 1, "version-dependent"),
    ("if ($a.DataCollectionEnabled -eq $true) { }", 1, "version-dependent"),
]


@pytest.mark.parametrize("text,line,rule", MUTATIONS, ids=range(len(MUTATIONS)))
def test_each_rule_refuses_its_mutation_naming_the_line(text, line, rule):
    found = violations(text)
    assert [(n, r) for n, r, _ in found if rule in r] and found[0][0] == line, found


@pytest.mark.parametrize("text", [
    "$parameters.MitigationsEnabled = [bool]$wanted",
    "Set-ServerComponentState -Identity $name -Component HubTransport -State Draining -Requester Maintenance",
    "$v = ConvertTo-VersionText -Value (Get-PropertyValue -InputObject $s -Name 'AdminDisplayVersion')",
    "# a comment may say $server.AdminDisplayVersion.Major",
    "$info.FileMajorPart",
])
def test_the_safe_forms_pass(text):
    assert violations(text) == []


def test_optional_argument_read_is_refused_in_strict_scripts():
    assert violations("$since = $HostArgs.since", strict_arguments=True)
    assert not violations("$e = $HostArgs.PSObject.Properties['expected_blocked']", strict_arguments=True)
