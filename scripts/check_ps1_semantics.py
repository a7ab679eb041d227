#!/usr/bin/env python3
"""Read the host scripts the way Windows would, without Windows.

The syntax gate (check_ps1.py) proves a script parses; this proves the parts
a parser cannot: that what the script asks of Windows and Exchange exists on
every server it runs on, and that it reads Exchange values in a form a
remote EMS session really delivers. Rules:

``unknown-command``      a command that is neither a cmdlet in the fact table
                         (scripts/cmdlet_facts.json, generated from Microsoft's
                         cmdlet reference), a function the file defines, nor a
                         shared function it declares with ``# Uses:``.
``undeclared-function``  a shared function (``_functions/``) called without
                         being declared, so it is not composed in.
``unknown-parameter``    a named parameter (or a key of a splatted hashtable
                         literal) the command does not have.
``invalid-value``        a literal value the reference's enumeration for that
                         parameter does not list (``-State Drainig``).
``abbreviated-parameter`` a unique prefix PowerShell would accept today, but a
                         later version with one more parameter would not.
``cmdlet-version`` / ``parameter-version``  the reference says some of the
                         Exchange versions (or Windows Server releases) the
                         script runs on lack it.
``undefined-variable``   a variable read but never set anywhere in the file: a
                         typo that Set-StrictMode -Version 2.0 turns into an error.
``optional-argument``    ``$null -ne $HostArgs.x``: testing whether the controller
                         sent an argument with a bare read, which throws under
                         StrictMode when it did not (the object is ConvertFrom-Json's).
``method-call-syntax``   ``Func(a, b)``: a command called like a method, which
                         Set-StrictMode -Version 2.0 refuses.
``shadowed-function``    an operation script defines a function that a shared
                         function file already provides (one copy only).
``not-imported``         an Exchange cmdlet the script (or a shared function it
                         uses) calls but does not name in Open-ExchangeSession's
                         -CommandName list; Import-PSSession brings in only those.
``nested-member``        ``.Major`` and friends on AdminDisplayVersion, ``.Name``
                         on ADObjectId values (DAG Servers items, Site, ...),
                         ``.State``/``.Requester`` on component LocalStates and
                         RemoteStates items: over a remote session these arrive
                         as strings or property bags (issue 11, item 2).
``version-property``     a bare ``.MitigationsEnabled`` (and every other
                         property some Exchange version the script runs on
                         lacks): under Set-StrictMode a missing property throws
                         (issue 11, item 3). Use Get-PropertyValue.
``second-hop``           a direct Active Directory read from the WinRM logon:
                         ``[ADSI]``, ``[adsisearcher]``, System.DirectoryServices
                         types, an ``LDAP://`` or ``GC://`` path, the
                         ActiveDirectory module. Binding to AD again from a
                         network logon is the second hop, which it cannot make
                         without delegation (issue 11, item 4); read it through
                         an Exchange cmdlet over the EMS session instead.

Which Exchange versions a script runs on: all of 2013, 2016, 2019 and SE,
unless its header says otherwise, for example ``# Exchange: 2016, 2019, SE``.

Allow-list, for a true false positive only: on the reported line put
``# ps1-semantics: allow <reason>``. A marker without a reason does not count.

Usage::

    python scripts/check_ps1.py --semantics            # the host scripts
    python scripts/check_ps1_semantics.py [FILE ...]   # the same, or just these
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT_DIR = REPO_ROOT / "plugins" / "plugin_utils" / "_host_scripts"
FUNCTION_DIR = SCRIPT_DIR / "_functions"
FACTS = Path(__file__).resolve().parent / "cmdlet_facts.json"

ALLOW_MARKER = re.compile(r"#\s*ps1-semantics:\s*allow\s+\S")
_EXCHANGE_HEADER = re.compile(r"^#\s*Exchange:\s*(?P<list>.+)$", re.IGNORECASE | re.MULTILINE)
_VERB_NOUN = re.compile(r"^[A-Za-z]+-[A-Za-z0-9]+$")

EXCHANGE_VERSIONS = ("2013", "2016", "2019", "SE")

# Properties that exist only from the September 2021 CUs (2016 CU22, 2019
# CU11) on, below the granularity of the reference's per-version lines: the
# Exchange Team blog "New security feature in September 2021 Cumulative
# Update for Exchange Server" (techcommunity.microsoft.com/blog/exchange/
# new-security-feature-in-september-2021-cumulative-update-for-exchange-server/
# 2783155) introduced the Emergency Mitigation service with these settings;
# the reference's Set-ExchangeServer and Set-OrganizationConfig pages give
# the matching parameters to 2016, 2019 and SE only. Always version-dependent,
# whatever a script's header says.
_SEPTEMBER_2021 = "exists only from the September 2021 CUs (2016 CU22, 2019 CU11) on, never on 2013"
CU_DEPENDENT_PROPERTIES = dict.fromkeys(
    ("MitigationsEnabled", "MitigationsBlocked", "MitigationsApplied", "DataCollectionEnabled"), _SEPTEMBER_2021)

# Nested Exchange values that a remote EMS session hands over as text or a
# deserialized property bag rather than a live object (issue 11, item 2;
# CSS-Exchange's HealthChecker parses their ToString() form).
NESTED_KINDS = {
    "version": {
        "sources": {"admindisplayversion"},
        "members": {"major", "minor", "build", "revision"},
        "what": "AdminDisplayVersion",
        "hint": "over a remote session it may be only the text 'Version 15.2 (Build 1544.4)'; "
                "use ConvertTo-VersionText -Value <it>",
    },
    "identity": {
        # ADObjectId-valued properties of the objects our scripts read.
        "sources": {
            "servers", "operationalservers", "startedmailboxservers", "stoppedmailboxservers",
            "primaryactivemanager", "databaseavailabilitygroup", "masterserveroravailabilitygroup",
        },
        # Names too common to trust on any object: only on an Exchange cmdlet's output.
        "exchange_sources": {"site", "server"},
        "members": {"name", "distinguishedname", "objectguid", "rdn", "parent", "domainid", "depth"},
        "what": "an ADObjectId value (DAG Servers items, Site, Server, ...)",
        "hint": "over a remote session it usually arrives as text (a name, a canonical path or a DN); "
                "use Get-IdentityName -Value <it>",
    },
    "component": {
        "sources": {"localstates", "remotestates"},
        "members": {"state", "requester", "timestamp"},
        "what": "a component's LocalStates/RemoteStates item",
        "hint": "items may arrive as property bags or text; read them with "
                "Get-PropertyValue -InputObject $item -Name 'State' (and accept the text form)",
    },
}

# Automatic and preference variables of Windows PowerShell 5.1
# (about_Automatic_Variables, about_Preference_Variables): always set.
AUTOMATIC_VARIABLES = {
    "_", "psitem", "null", "true", "false", "args", "input", "matches", "error", "lastexitcode", "host", "pid",
    "psscriptroot", "pscommandpath", "psversiontable", "myinvocation", "psboundparameters", "this", "pscmdlet",
    "executioncontext", "pwd", "psculture", "psuiculture", "foreach", "switch", "home", "pshome", "profile",
    "shellid", "stacktrace", "event", "eventargs", "eventsubscriber", "sender", "nestedpromptlevel",
    "consolefilename", "psdebugcontext", "pssenderinfo", "ofs", "psdefaultparametervalues",
    "erroractionpreference", "progresspreference", "verbosepreference", "warningpreference",
    "confirmpreference", "debugpreference", "informationpreference", "whatifpreference", "errorview",
    "formatenumerationlimit", "maximumhistorycount", "psemailserver", "psmoduleautoloadingpreference",
    "pssessionapplicationname", "pssessionconfigurationname", "pssessionoption", "logcommandhealthevent",
    "logcommandlifecycleevent", "logengineheathevent", "logenginelifecycleevent", "logproviderhealthevent",
    "logproviderlifecycleevent",
}
_SCOPE_PREFIX = re.compile(r"^(script|global|local|private|using):", re.IGNORECASE)
# Common parameters that set a variable named by their (string) argument.
_VARIABLE_PARAMETERS = {"errorvariable", "ev", "outvariable", "ov", "warningvariable", "wv",
                        "informationvariable", "iv", "pipelinevariable", "pv"}

# Direct Active Directory access from the WinRM logon (rule second-hop):
# type names (System.DirectoryServices and its PowerShell accelerators),
# directory paths in strings, and the ActiveDirectory module's cmdlets
# (Verb-ADNoun, as the module names them) or its import.
_DIRECTORY_TYPE = re.compile(r"^\[?\s*((system\.)?directoryservices(\.[\w.]*)?|adsi|adsisearcher)\s*\]?$", re.IGNORECASE)
_DIRECTORY_PATH = re.compile(r"\b(ldap|gc)://", re.IGNORECASE)
_AD_MODULE_CMDLET = re.compile(r"^[A-Za-z]+-AD[A-Z][A-Za-z]*$")
_SECOND_HOP_HINT = ("a WinRM network logon holds no credential to bind to Active Directory with (the second hop), "
                    "so this fails on a real server; read the fact through an Exchange cmdlet over the EMS session "
                    "(Get-OrganizationConfig, Get-ExchangeServer, ...) or answer it as unreadable and say why "
                    "(docs/real-estate.md, 'Nothing needs delegation')")

# Commands that hand their pipeline input on unchanged (for the value forms).
_PASS_THROUGH = {"where-object", "sort-object", "select-object", "write-output"}
# Commands whose script block sees each pipeline item as $_.
_ITEM_BLOCKS = {"foreach-object", "where-object"}
# Select-Object with these makes new objects.
_SELECT_RESHAPES = {"property", "expandproperty", "excludeproperty"}
# Implicit remoting proxies (Import-PSSession) add these to every cmdlet.
_PROXY_PARAMETERS = {"asjob"}


@dataclass
class Finding:
    path: str
    line: int
    rule: str
    message: str
    hint: str
    source_line: str = ""
    allowed: bool = False


@dataclass
class Facts:
    table: dict
    cmdlets: dict = field(default_factory=dict)  # lower name -> entry
    aliases: dict = field(default_factory=dict)  # lower alias -> cmdlet name
    common: dict = field(default_factory=dict)  # lower name -> canonical

    @classmethod
    def load(cls, path: Path = FACTS) -> "Facts":
        table = json.loads(path.read_text(encoding="utf-8"))
        facts = cls(table)
        facts.cmdlets = {name.lower(): dict(entry, name=name) for name, entry in table["cmdlets"].items()}
        facts.aliases = {a.lower(): t for a, t in table["command_aliases"].items()}
        facts.common = {a.lower(): t for a, t in table["common_parameters"].items()}
        return facts

    def resolve(self, name: str):
        target = self.aliases.get(name.lower(), name)
        return self.cmdlets.get(target.lower())

    def version_properties(self, versions) -> dict[str, dict[str, str]]:
        """Per Exchange noun (lower case), property -> why some of
        ``versions`` lack it: every parameter of Set-<Noun> that the reference
        gives to fewer versions (Set-X parameters are the settable properties
        Get-X returns)."""
        found: dict[str, dict[str, str]] = {}
        for entry in self.cmdlets.values():
            if entry.get("source") != "exchange" or not entry["name"].lower().startswith("set-"):
                continue
            noun = entry["name"].split("-", 1)[1].lower()
            for param, have in entry.get("limited", {}).items():
                missing = [v for v in versions if v not in have.split()]
                if missing:
                    found.setdefault(noun, {})[param] = "absent on Exchange %s: Set-%s has it only on %s" % (
                        ", ".join(missing), entry["name"].split("-", 1)[1], have.replace(" ", ", "))
        return found


def _load_host_call():
    path = REPO_ROOT / "plugins" / "plugin_utils" / "_host_call.py"
    spec = importlib.util.spec_from_file_location("_ps1sem_host_call", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_parser():
    try:
        import tree_sitter
        import tree_sitter_pwsh
    except ImportError as exc:
        sys.stderr.write(f"check_ps1_semantics: {exc}; pip install -r requirements-lint.txt\n")
        sys.exit(2)
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _string_value(node):
    """The value of a plain string literal node (or None)."""
    while node is not None and node.type in ("unary_expression", "string_literal") and node.named_child_count == 1:
        node = node.named_children[0]
    if node is None:
        return None
    if node.type in ("verbatim_string_characters", "expandable_string_literal"):
        raw = _text(node)
        if len(raw) >= 2 and raw[0] in "'\"" and raw[-1] == raw[0] and "$" not in raw:
            return raw[1:-1]
    return None


def script_versions(text: str) -> tuple[str, ...]:
    match = _EXCHANGE_HEADER.search(text)
    if not match:
        return EXCHANGE_VERSIONS
    wanted = {part.strip().upper() for part in match.group("list").split(",")}
    versions = tuple(v for v in EXCHANGE_VERSIONS if v in wanted)
    if not versions or len(versions) != len(wanted):
        raise ValueError("unreadable '# Exchange:' header %r (use 2013, 2016, 2019, SE)" % match.group(0))
    return versions


def _own_parameter_blocks(function):
    """The function's own param() block or (...) declaration, not those of
    script blocks or functions nested in it."""
    pending = list(function.children)
    while pending:
        node = pending.pop(0)
        if node.type in ("param_block", "function_parameter_declaration"):
            yield node
        elif node.type not in ("script_block_expression", "function_statement", "statement_list"):
            pending.extend(node.children)


def function_parameters(root) -> dict[str, dict]:
    """Functions a parse tree defines: lower name -> {name, params, advanced}."""
    found = {}
    for node in _walk(root):
        if node.type != "function_statement":
            continue
        name_node = next((c for c in node.children if c.type == "function_name"), None)
        if name_node is None:
            continue
        params, advanced = [], False
        for block in _own_parameter_blocks(node):
            for parameter in _walk(block):
                if parameter.type == "script_parameter":
                    var = next((c for c in parameter.children if c.type == "variable"), None)
                    if var is not None:
                        params.append(_text(var).lstrip("$"))
                if parameter.type == "attribute" and _text(parameter).lower().startswith(
                        ("[cmdletbinding", "[parameter")):
                    advanced = True
        found[_text(name_node).lower()] = {
            "name": _text(name_node), "params": params, "advanced": advanced, "line": node.start_point[0] + 1,
        }
    return found


class FileCheck:
    """The checks over one file; ``functions`` are those in scope for it."""

    def __init__(self, path, source: bytes, tree, facts: Facts, functions: dict,
                 shared_names: set, declared: set, versions):
        self.path = path
        self.lines = source.decode("utf-8", "replace").split("\n")
        self.root = tree.root_node
        self.facts = facts
        self.functions = functions
        self.shared_names = shared_names
        self.declared = declared
        self.versions = versions
        self.cu_props = {k.lower(): (k, why) for k, why in CU_DEPENDENT_PROPERTIES.items()}
        self.noun_props = {
            noun: {k.lower(): (k, why) for k, why in props.items()}
            for noun, props in facts.version_properties(versions).items()
        }
        self.findings: list[Finding] = []
        self.env: dict[str, set] = {}
        self.hashtables: dict[str, list] = {}
        self.exchange_uses: list = []  # (cmdlet name, line)
        self.imported: set = set()
        self.session_lines: list = []

    # -- reporting -------------------------------------------------------
    def finding(self, line, rule, message, hint) -> Finding:
        source_line = self.lines[line - 1].rstrip("\r") if line - 1 < len(self.lines) else ""
        return Finding(str(self.path), line, rule, message, hint, source_line,
                       bool(ALLOW_MARKER.search(source_line)))

    def report(self, node, rule, message, hint):
        finding = self.finding(node.start_point[0] + 1, rule, message, hint)
        if not any((f.line, f.rule, f.message) == (finding.line, rule, message) for f in self.findings):
            self.findings.append(finding)

    # -- value forms -----------------------------------------------------
    def kinds(self, node, it) -> set:
        """Which nested-value kinds an expression's value (or its items) has."""
        t = node.type
        if t == "variable":
            name = _text(node).lower()
            if name in ("$_", "$psitem"):
                return set(it)
            return set(self.env.get(name, ()))
        if t == "member_access":
            member = self._member_name(node)
            if member is None:
                return set()
            member = member.lower()
            found = {k for k, spec in NESTED_KINDS.items() if member in spec["sources"]}
            if any(k.startswith("obj:") for k in self.kinds(node.children[0], it)):
                found |= {k for k, spec in NESTED_KINDS.items() if member in spec.get("exchange_sources", ())}
            return found
        if t == "element_access":
            return self.kinds(node.children[0], it)
        if t in ("unary_expression", "parenthesized_expression", "array_expression", "sub_expression",
                 "statement_list", "assignment_value", "additive_expression", "array_literal_expression",
                 "pipeline_chain", "pipeline"):
            if t in ("pipeline", "pipeline_chain") and any(c.type == "command" for c in node.children):
                return self.pipeline_kinds(node, it)
            out = set()
            for child in node.named_children:
                out |= self.kinds(child, it)
            return out
        if t == "command":
            return self.command_kinds(node)
        return set()

    def command_kinds(self, node) -> set:
        """``obj:<noun>`` for what an Exchange Get-<Noun> returns;
        Get-PropertyValue -Name 'Servers' still yields an ADObjectId list."""
        name = self._command_name(node)
        if name is None:
            return set()
        entry = self.facts.resolve(name)
        if entry is not None and entry["source"] == "exchange" and entry["name"].lower().startswith("get-"):
            return {"obj:" + entry["name"].split("-", 1)[1].lower()}
        if name.lower() != "get-propertyvalue":
            return set()
        elements = self._elements(node)
        for i, el in enumerate(elements):
            if el.type == "command_parameter" and _text(el).lstrip("-").rstrip(":").lower() == "name":
                if i + 1 < len(elements):
                    value = _string_value(elements[i + 1])
                    if value:
                        return {k for k, spec in NESTED_KINDS.items() if value.lower() in spec["sources"]}
        return set()

    def pipeline_kinds(self, node, it) -> set:
        flows = self.pipeline_flows(node, it)
        return flows[-1][1] if flows else set()

    def pipeline_flows(self, node, it):
        """[(element, kinds flowing out of it)] for a pipeline's elements."""
        flows, current = [], set()
        for element in node.children:
            if element.type in ("|", "comment"):
                continue
            if element.type == "command":
                name = self._command_name(element)
                resolved = self._resolved_name(name) if name else None
                if not flows:
                    current = self.command_kinds(element)
                elif resolved in _PASS_THROUGH and not (
                    resolved == "select-object" and self._has_parameter(element, _SELECT_RESHAPES)
                ):
                    pass
                else:
                    current = set()
            else:
                current = self.kinds(element, it)
            flows.append((element, set(current)))
        return flows

    # -- helpers ---------------------------------------------------------
    @staticmethod
    def _member_name(node):
        member = next((c for c in node.children if c.type == "member_name"), None)
        if member is None or member.named_child_count != 1 or member.named_children[0].type != "simple_name":
            return None
        return _text(member)

    @staticmethod
    def _command_name(node):
        name = next((c for c in node.children if c.type == "command_name"), None)
        return _text(name) if name is not None else None

    @staticmethod
    def _elements(node):
        elements = next((c for c in node.children if c.type == "command_elements"), None)
        if elements is None:
            return []
        return [c for c in elements.children if c.type != "command_argument_sep" and c.type != "comment"]

    def _has_parameter(self, node, names) -> bool:
        return any(
            el.type == "command_parameter" and _text(el).lstrip("-").rstrip(":").lower() in names
            for el in self._elements(node)
        )

    def _resolved_name(self, name):
        entry = self.facts.resolve(name)
        return entry["name"].lower() if entry else name.lower()

    # -- the walk --------------------------------------------------------
    def collect_env(self):
        """Variables holding nested values (flow-insensitive, to a fixpoint)."""
        for _ in range(6):
            before = {k: set(v) for k, v in self.env.items()}
            self.visit(self.root, set(), check=False)
            if before == self.env:
                break

    def bind(self, var_node, kinds):
        if var_node is None or var_node.type != "variable" or not kinds:
            return
        self.env.setdefault(_text(var_node).lower(), set()).update(kinds)

    def visit(self, node, it, check):
        t = node.type
        if t == "assignment_expression":
            left = node.children[0]
            value = next((c for c in node.children if c.type == "assignment_value"), None)
            target = left.named_children[0] if left.named_child_count else None
            if target is not None and target.type == "unary_expression" and target.named_child_count:
                target = target.named_children[0]
            if value is not None and target is not None and target.type == "variable":
                self.bind(target, self.kinds(value, it))
                if not check:
                    hashtable = self._hash_literal(value)
                    if hashtable is not None:
                        self.hashtables.setdefault(_text(target).lower(), []).extend(hashtable)
            if not check and target is not None:
                self._note_hashtable_key(target)
        elif t == "foreach_statement":
            var = next((c for c in node.children if c.type == "variable"), None)
            source = next((c for c in node.children if c.type == "pipeline"), None)
            if var is not None and source is not None:
                self.bind(var, self.kinds(source, it))
        elif t in ("pipeline", "pipeline_chain") and any(c.type == "command" for c in node.children):
            flows = self.pipeline_flows(node, it)
            incoming = set()
            for element, out in flows:
                if element.type == "command":
                    self.visit_command(element, incoming, it, check)
                else:
                    self.visit(element, it, check)
                incoming = out
            return
        elif t == "invocation_expression":
            # $list.Where({ $_ ... }) / .ForEach({ $_ ... })
            inner = node.named_children[0] if node.named_child_count else None
            if inner is not None and inner.type in ("invocation_where_expression", "invocation_foreach_expression"):
                target = inner.named_children[0]
                self.visit(target, it, check)
                for child in inner.named_children[1:]:
                    self.visit(child, self.kinds(target, it), check)
                return
        elif t == "member_access" and check:
            self.check_member(node, it)
        elif t == "command":
            self.visit_command(node, set(), it, check)
            return
        for child in node.children:
            self.visit(child, it, check)

    def visit_command(self, node, incoming, it, check):
        name = self._command_name(node)
        resolved = self._resolved_name(name) if name else None
        block_it = incoming if resolved in _ITEM_BLOCKS or resolved == "select-object" else it
        for child in node.children:
            self.visit(child, block_it, check)
        if check and name is not None:
            self.check_command(node, name)

    # -- hashtables for splatting -----------------------------------------
    def _hash_literal(self, value):
        node = value
        while node is not None and node.type in ("assignment_value", "pipeline_chain", "unary_expression") \
                and node.named_child_count == 1:
            node = node.named_children[0]
        if node is None or node.type != "hash_literal_expression":
            return None
        keys = []
        for entry in _walk(node):
            if entry.type == "hash_entry" and entry.parent is not None and entry.parent.parent == node:
                key = next((c for c in entry.children if c.type == "key_expression"), None)
                if key is not None:
                    keys.append((_text(key).strip("'\""), entry))
        return keys

    def _note_hashtable_key(self, target):
        """$p.Key = ... and $p['Key'] = ... add keys to hashtable $p."""
        if target.type == "member_access" and target.children[0].type == "variable":
            member = self._member_name(target)
            if member:
                self.hashtables.setdefault(_text(target.children[0]).lower(), []).append((member, target))
        elif target.type == "element_access" and target.children[0].type == "variable":
            index = next((c for c in target.named_children[1:]), None)
            key = _string_value(index) if index is not None else None
            if key:
                self.hashtables.setdefault(_text(target.children[0]).lower(), []).append((key, target))

    # -- rule checks -----------------------------------------------------
    def check_member(self, node, it):
        member = self._member_name(node)
        if member is None:
            return
        lower = member.lower()
        target = node.children[0]
        target_kinds = self.kinds(target, it)
        for kind in sorted(target_kinds):
            spec = NESTED_KINDS.get(kind)
            if spec is not None and lower in spec["members"]:
                self.report(node, "nested-member",
                            "'.%s' on %s (%s)" % (member, spec["what"], _text(node)[:60]),
                            spec["hint"])
        if self._is_write(node):
            return
        if self._is_null_test_of_argument(node, target):
            self.report(node, "optional-argument",
                        "'%s' tests for an argument the controller may leave out with a bare read; "
                        "$HostArgs comes from ConvertFrom-Json, and under Set-StrictMode -Version 2.0 "
                        "reading a property it lacks throws instead of giving $null" % _text(node),
                        "read it with Get-PropertyValue -InputObject %s -Name '%s'" % (_text(target), member))
        known = self.cu_props.get(lower)
        for kind in sorted(target_kinds):
            if known is None and kind.startswith("obj:"):
                known = self.noun_props.get(kind[4:], {}).get(lower)
        if known is not None:
            canonical, why = known
            self.report(node, "version-property",
                        "bare read of '.%s' (%s): under Set-StrictMode a missing property throws"
                        % (member, why),
                        "read it with Get-PropertyValue -InputObject %s -Name '%s'"
                        % (_text(target)[:40], canonical))

    @staticmethod
    def _is_null_test_of_argument(node, target):
        """``$null -ne $HostArgs.x`` (or ``$HostArgs.x -eq $null``)."""
        if target.type != "variable" or _text(target).lower() != "$hostargs":
            return False
        up = node
        while up.parent is not None and up.parent.type == "unary_expression":
            up = up.parent
        parent = up.parent
        if parent is None or parent.type != "comparison_expression":
            return False
        operator = next((c for c in parent.children if c.type == "comparison_operator"), None)
        if operator is None or _text(operator).lower() not in ("-eq", "-ne", "-ieq", "-ine", "-ceq", "-cne"):
            return False
        return any(c is not up and c.type == "unary_expression" and _text(c).lower() == "$null"
                   for c in parent.children)

    @staticmethod
    def _is_write(node):
        parent = node.parent
        while parent is not None and parent.type == "unary_expression":
            parent = parent.parent
        return parent is not None and parent.type == "left_assignment_expression"

    def check_command(self, node, name):
        if any(c.type in ("command_invocation_operator", "command_name_expr") for c in node.children):
            return
        elements = next((c for c in node.children if c.type == "command_elements"), None)
        if elements is not None and elements.children and elements.children[0].type == "parenthesized_expression" \
                and any(n.type == "array_literal_expression" for n in _walk(elements.children[0])):
            self.report(node, "method-call-syntax",
                        "%s(...) calls a command the way a method is called; Set-StrictMode -Version 2.0 "
                        "refuses that, and without it the list would arrive as one argument" % name,
                        "pass named parameters separated by spaces: %s -Name value" % name)
        lower = name.lower()
        if "\\" in name or "/" in name or "." in name:
            return  # an external program or a script path
        elements = self._elements(node)
        local = self.functions.get(lower)
        if local is not None:
            if lower in self.shared_names and lower not in self.declared:
                self.report(node, "undeclared-function",
                            "shared function %s is called but not declared, so it is not composed in"
                            % local["name"],
                            "add it to the file's '# Uses:' header line")
            self.check_parameters(node, elements, local["name"], self._function_params(local), {}, None,
                                  simple=not local["advanced"])
            return
        entry = self.facts.resolve(name)
        if entry is None:
            self.report(node, "unknown-command",
                        "%s is not a cmdlet in Microsoft's reference (scripts/cmdlet_facts.json) nor a "
                        "function this script defines or declares" % name,
                        "check the spelling; a new cmdlet needs scripts/gen_cmdlet_facts.py re-run")
            return
        if entry["source"] == "exchange":
            self.exchange_uses.append((entry["name"], node.start_point[0] + 1))
            missing = [v for v in self.versions if v not in entry["versions"].split()]
            if missing:
                self.report(node, "cmdlet-version",
                            "%s does not exist on Exchange %s (the reference lists %s)"
                            % (entry["name"], ", ".join(missing), entry["versions"].replace(" ", ", ")),
                            "narrow the script with a '# Exchange: ...' header, or avoid the cmdlet")
        self.check_parameters(node, elements, entry["name"], self._cmdlet_params(entry), entry.get("limited", {}),
                              entry)

    def _function_params(self, function):
        params = {p.lower(): p for p in function["params"]}
        if function["advanced"]:
            params.update(self.facts.common)
        return params

    def _cmdlet_params(self, entry):
        params = {p.lower(): p for p in entry["parameters"]}
        params.update({p.lower(): p for p in entry.get("limited", {})})
        params.update({a.lower(): t for a, t in entry.get("parameter_aliases", {}).items()})
        params.update(self.facts.common)
        if entry["source"] == "exchange":
            params.update({p: p for p in _PROXY_PARAMETERS})
        return params

    def check_parameters(self, node, elements, command, params, limited, entry, simple=False):
        used = []
        for index, el in enumerate(elements):
            if el.type == "command_parameter":
                used.append((_text(el).lstrip("-").rstrip(":"), el, None))
                following = elements[index + 1] if index + 1 < len(elements) else None
                if entry is not None and following is not None and following.type != "command_parameter":
                    self._check_value(command, entry, params.get(used[-1][0].lower()), following)
            elif el.type == "unary_expression" and _text(el).startswith("@") and el.named_child_count == 1 \
                    and el.named_children[0].type == "variable":
                splat = "$" + _text(el)[1:].lower()
                for key, _where in self.hashtables.get(splat, []):
                    used.append((key, el, _text(el)))
        for given, el, splat in used:
            where = " (key of splatted %s)" % splat if splat else ""
            canonical = params.get(given.lower())
            if canonical is None:
                candidates = sorted({v for k, v in params.items() if k.startswith(given.lower())})
                if len(candidates) == 1:
                    self.report(el, "abbreviated-parameter",
                                "-%s%s of %s abbreviates -%s" % (given, where, command, candidates[0]),
                                "spell the parameter out: a later version may add another it matches")
                    canonical = candidates[0]
                else:
                    self.report(el, "unknown-parameter",
                                "%s has no parameter -%s%s" % (command, given, where),
                                self._parameter_hint(given, params, entry, simple))
                    continue
            have = limited.get(canonical)
            if have is not None and entry is not None:
                if entry["source"] == "exchange":
                    missing = [v for v in self.versions if v not in have.split()]
                    if missing:
                        self.report(el, "parameter-version",
                                    "-%s%s of %s does not exist on Exchange %s (the reference lists %s)"
                                    % (canonical, where, command, ", ".join(missing), have.replace(" ", ", ")),
                                    "this script runs on %s; narrow it with a '# Exchange: ...' header or "
                                    "leave the parameter out where it is absent" % ", ".join(self.versions))
                else:
                    self.report(el, "parameter-version",
                                "-%s%s of %s is documented only for Windows Server %s"
                                % (canonical, where, command, have.replace(" ", ", ")),
                                "every Windows Server release an Exchange server may run on must have it")

    def _check_value(self, command, entry, canonical, argument):
        """A bareword or plain string given to a parameter whose reference
        enumerates its values must be one of them (PowerShell's binder
        refuses anything else, case-insensitively)."""
        allowed = entry.get("values", {}).get(canonical or "")
        if not allowed:
            return
        if argument.type == "generic_token":
            value = _text(argument)
        else:
            value = _string_value(argument)
        if value is None or not re.fullmatch(r"[A-Za-z0-9]+", value):
            return
        choices = allowed.split()
        if value.lower() not in {c.lower() for c in choices}:
            self.report(argument, "invalid-value",
                        "%s -%s does not accept '%s'" % (command, canonical, value),
                        "the reference lists: %s" % ", ".join(choices))

    @staticmethod
    def _parameter_hint(given, params, entry, simple=False):
        import difflib

        names = sorted(set(params.values()))
        close = difflib.get_close_matches(given, names, n=3, cutoff=0.6)
        text = "did you mean %s? " % ", ".join("-" + c for c in close) if close else ""
        if entry is None:
            text += "the function's param() block names what it takes"
            if simple:
                text += " (without [CmdletBinding()] it takes no common parameters, and PowerShell puts an " \
                        "unknown one in $args unnoticed)"
            return text
        return text + "see the cmdlet's reference page"

    def check_variables(self):
        """Under Set-StrictMode -Version 2.0 reading a variable that was never
        set throws, in strings too (PowerShell-Docs, reference/5.1/
        Microsoft.PowerShell.Core/Set-StrictMode.md); flow-insensitive, so
        only names set nowhere in the file."""
        assigned, reads = set(), []
        for node in _walk(self.root):
            if node.type == "command_parameter" and _text(node).lstrip("-").rstrip(":").lower() in _VARIABLE_PARAMETERS:
                following = node.next_named_sibling
                while following is not None and following.type == "command_argument_sep":
                    following = following.next_named_sibling
                if following is not None:
                    assigned.add(_text(following).strip("'\"+").lower())
                continue
            if node.type != "variable":
                continue
            raw = _text(node)
            if raw.startswith("@"):
                continue  # a splat: its keys are checked as parameters
            raw = raw[2:-1] if raw.startswith("${") else raw.lstrip("$")
            name = _SCOPE_PREFIX.sub("", raw).lower()
            if ":" in name:
                continue  # $env:X and other drives
            up = node
            while up.parent is not None and up.parent.type == "unary_expression":
                up = up.parent
            if (up.parent is not None and up.parent.type == "left_assignment_expression") or \
                    node.parent.type in ("foreach_statement", "script_parameter"):
                assigned.add(name)
            else:
                reads.append((name, node))
        for name, node in reads:
            if name not in assigned and name not in AUTOMATIC_VARIABLES:
                self.report(node, "undefined-variable",
                            "$%s is read but never set in this file; under Set-StrictMode -Version 2.0 "
                            "that throws" % _text(node).lstrip("$"),
                            "check the spelling, or set it first (a shared function gets its values "
                            "as parameters, never from its caller's variables)")

    def check_second_hop(self):
        """Direct Active Directory reads, which need the second hop (one
        finding a line: ``[ADSI]'LDAP://...'`` is one read)."""
        lines = set()
        for node in _walk(self.root):
            what = None
            if node.type == "type_spec" and (node.parent is None or node.parent.type != "type_spec"):
                if _DIRECTORY_TYPE.match(_text(node)):
                    what = "the .NET type [%s] binds to Active Directory with the logon's identity" % _text(node)
            elif node.type in ("verbatim_string_characters", "expandable_string_literal"):
                value = _string_value(node) or _text(node)
                found = _DIRECTORY_PATH.search(value)
                if found:
                    what = "the directory path %s... binds to Active Directory with the logon's identity" \
                        % found.group(0)
            elif node.type == "generic_token" and _DIRECTORY_TYPE.match(_text(node)):
                what = "%s binds to Active Directory with the logon's identity" % _text(node)
            elif node.type == "command":
                name = self._command_name(node) or ""
                if _AD_MODULE_CMDLET.match(name):
                    what = "%s is an ActiveDirectory module cmdlet, which reads AD with the logon's identity" % name
                elif name.lower() in ("import-module", "ipmo") and any(
                        _text(el).strip("'\"").lower() == "activedirectory" for el in self._elements(node)):
                    what = "the ActiveDirectory module reads AD with the logon's identity"
            if what and node.start_point[0] not in lines:
                lines.add(node.start_point[0])
                self.report(node, "second-hop", what, _SECOND_HOP_HINT)

    def run(self):
        self.collect_env()
        self.visit(self.root, set(), check=True)
        self.check_variables()
        self.check_second_hop()
        for node in _walk(self.root):
            if node.type == "command" and (self._command_name(node) or "").lower() == "open-exchangesession":
                self.session_lines.append(node)
                for inner in _walk(node):
                    value = _string_value(inner) if inner.type in (
                        "verbatim_string_characters", "expandable_string_literal") else None
                    if value and _VERB_NOUN.match(value):
                        self.imported.add(value.lower())
        return self.findings


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data


def check_files(paths, facts: Facts | None = None, parser=None, function_dir: Path = FUNCTION_DIR,
                root: Path = REPO_ROOT) -> list[Finding]:
    """Findings for host scripts ``paths``; shared functions come from
    ``function_dir`` (their own files are checked when listed in ``paths``)."""
    facts = facts or Facts.load()
    parser = parser or _load_parser()
    host_call = _load_host_call()
    shared = {}
    for fpath in sorted(Path(function_dir).glob("*.ps1")):
        ftext = _read(fpath)
        shared[fpath.stem.lower()] = (fpath, ftext, parser.parse(ftext))
    shared_functions = {}
    for _name, (_p, _t, tree) in shared.items():
        shared_functions.update(function_parameters(tree.root_node))
    findings = []
    for path in paths:
        path = Path(path)
        source = _read(path)
        text = source.decode("utf-8", "replace")
        tree = parser.parse(source)
        shown = _display(path, root)
        if tree.root_node.has_error:
            # Names inside a broken region mean nothing; check_ps1.py says where.
            findings.append(Finding(shown, 1, "syntax", "the file does not parse, so its semantics were not checked",
                                    "run python scripts/check_ps1.py %s" % shown))
            continue
        try:
            versions = script_versions(text)
            declared_names = host_call.declared_functions(text)
        except ValueError as exc:
            findings.append(Finding(shown, 1, "header", str(exc), "fix the header line"))
            continue
        # The closure of what the file declares, as the controller composes it.
        declared, wanted = set(), [n.lower() for n in declared_names]
        while wanted:
            name = wanted.pop()
            if name in declared or name not in shared:
                continue
            declared.add(name)
            wanted.extend(n.lower() for n in host_call.declared_functions(shared[name][1].decode("utf-8")))
        own = function_parameters(tree.root_node)
        functions = dict(shared_functions)
        functions.update(own)
        is_shared_file = path.resolve().parent == Path(function_dir).resolve()
        if is_shared_file:
            declared |= set(own)
        check = FileCheck(shown, source, tree, facts, functions, set(shared_functions) - set(own),
                          declared | set(own), versions)
        found = check.run()
        if not is_shared_file:
            for name in sorted(set(own) & set(shared_functions)):
                found.append(check.finding(
                    own[name]["line"], "shadowed-function",
                    "%s is a shared function (_functions/%s.ps1); this copy would drift from it"
                    % (own[name]["name"], shared_functions[name]["name"]),
                    "delete the copy and declare the shared one in the '# Uses:' line"))
        if check.session_lines and not is_shared_file:
            found.extend(_not_imported(check, shared, facts))
        findings.extend(sorted(found, key=lambda f: (f.line, f.rule)))
    return findings


def _not_imported(check: FileCheck, shared, facts) -> list[Finding]:
    """Exchange cmdlets this operation (or a shared function it composes in)
    runs but does not import through Open-ExchangeSession -CommandName."""
    out = []
    for name, line in check.exchange_uses:
        if name.lower() not in check.imported:
            out.append(check.finding(
                line, "not-imported",
                "%s is an Exchange cmdlet that Open-ExchangeSession does not import here" % name,
                "add '%s' to the -CommandName list" % name))
    session_line = check.session_lines[0].start_point[0] + 1
    for fname in sorted(check.declared & set(shared)):
        fpath, _source, tree = shared[fname]
        for node in _walk(tree.root_node):
            if node.type != "command":
                continue
            entry = facts.resolve(FileCheck._command_name(node) or "")
            if entry and entry["source"] == "exchange" and entry["name"].lower() not in check.imported:
                out.append(check.finding(
                    session_line, "not-imported",
                    "%s (called by shared function %s) is an Exchange cmdlet that "
                    "Open-ExchangeSession does not import here" % (entry["name"], fpath.stem),
                    "add '%s' to the -CommandName list" % entry["name"]))
    return out


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def host_scripts(script_dir: Path = SCRIPT_DIR) -> list[Path]:
    return sorted(script_dir.glob("*.ps1")) + sorted((script_dir / "_functions").glob("*.ps1"))


def print_findings(findings, out=sys.stdout) -> int:
    """Print findings; return how many are not allowed."""
    failing = 0
    for f in findings:
        label = "allowed" if f.allowed else "error"
        print(f"{f.path}:{f.line}: {label}: [{f.rule}] {f.message}", file=out)
        if f.source_line:
            print(f"    {f.line:>4} | {f.source_line.strip()}", file=out)
        print(f"         hint: {f.hint}", file=out)
        failing += 0 if f.allowed else 1
    return failing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", type=Path, help="host scripts to check (default: all of them)")
    args = ap.parse_args(argv)
    paths = list(args.paths) or host_scripts()
    if not paths:
        print("check_ps1_semantics: no host scripts found; did they move?", file=sys.stderr)
        return 1
    facts = Facts.load()
    findings = check_files(paths, facts)
    failing = print_findings(findings)
    sources = facts.table["sources"]
    print(
        "semantics: checked %d files against the cmdlet reference at %s; %d findings, %d allowed"
        % (len(paths), ", ".join("%s@%s" % (s["repository"], s["commit"][:12]) for s in sources.values()),
           failing, len(findings) - failing)
    )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
