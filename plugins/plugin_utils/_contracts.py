# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The contract of every host operation's answer, and its checker.

For internal collection use only; the interface may change in any release.

Each host operation's ``data`` object has a schema in
``_data/host_contracts.yml`` (the notation is described at the top of that
file).  ``check_answer`` compares an answer with it and returns the first
place it breaks, as a field path and a sentence, so the controller can fail
that one host with a message a person can act on instead of a KeyError
three modules later, or a silently wrong default.

Plain Python, no Ansible imports, no dependency beyond PyYAML (which
ansible-core itself requires).
"""
from __future__ import annotations

import os
import re

import yaml

CONTRACTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_data", "host_contracts.yml")

_SCALARS = ("text", "int", "bool", "number", "any")
_SCALAR = re.compile(r"^(?P<kind>text|int|bool|number|any|[a-z][a-z0-9_]*)(?P<null>\?)?$")
_ENUM = re.compile(r"^enum\((?P<values>[^()]+)\)(?P<null>\?)?$")
_RESERVED = ("_nullable", "_optional", "_list", "_map")
# How much of an offending value goes into a message: enough to recognise
# it, never a whole event log or a rule file.
_VALUE_LIMIT = 80


class ContractError(ValueError):
    """The contract file itself is wrong (a bug in the collection)."""


class Violation:
    """Where an answer breaks its contract: ``path`` (``exchange.roles[2]``)
    and ``message`` (the whole sentence)."""

    def __init__(self, operation, path, message):
        self.operation = operation
        self.path = path
        self.message = message

    def __str__(self):
        return self.message


def _describe(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _VALUE_LIMIT else text[:_VALUE_LIMIT] + "..."


_EXPECTED = {"text": "text", "int": "a whole number", "bool": "true or false", "number": "a number",
             "any": "any value"}


def _scalar_ok(kind, value):
    if kind == "any":
        return True
    if kind == "text":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise ContractError("unknown scalar type %r" % kind)


class Contracts:
    """All operations' contracts, resolved and checked once at load."""

    def __init__(self, document):
        if not isinstance(document, dict) or not isinstance(document.get("operations"), dict):
            raise ContractError("the contracts file needs an 'operations' mapping")
        self.types = document.get("types") or {}
        self.operations = document["operations"]
        for name, spec in self.types.items():
            self._validate_spec(spec, "types.%s" % name)
        for name, spec in self.operations.items():
            if not isinstance(spec, dict):
                raise ContractError("operations.%s must be an object spec" % name)
            self._validate_spec(spec, "operations.%s" % name)

    # -- the spec language -------------------------------------------------
    def _validate_spec(self, spec, where):
        if isinstance(spec, str):
            if _ENUM.match(spec):
                return
            match = _SCALAR.match(spec)
            if not match:
                raise ContractError("%s: cannot read the type %r" % (where, spec))
            if match.group("kind") not in _SCALARS and match.group("kind") not in self.types:
                raise ContractError("%s: unknown type %r" % (where, match.group("kind")))
        elif isinstance(spec, list):
            if len(spec) != 1:
                raise ContractError("%s: a list spec holds exactly one item spec" % where)
            self._validate_spec(spec[0], where + "[]")
        elif isinstance(spec, dict):
            if "_list" in spec and "_map" in spec:
                raise ContractError("%s: _list and _map exclude each other" % where)
            if "_list" in spec:
                self._validate_spec(spec["_list"], where + "[]")
            if "_map" in spec:
                self._validate_spec(spec["_map"], where + ".*")
            optional = spec.get("_optional") or []
            for name in optional:
                if name not in spec:
                    raise ContractError("%s: optional field %r has no spec" % (where, name))
            for name, sub in spec.items():
                if name not in _RESERVED:
                    self._validate_spec(sub, "%s.%s" % (where, name))
        else:
            raise ContractError("%s: a spec is a type name, a one-item list or an object, not %r" % (where, spec))

    # -- checking answers --------------------------------------------------
    def check(self, operation, data):
        """The first Violation of ``data`` against ``operation``'s contract,
        or None.  An operation without a contract is itself a violation: a
        host answering for an operation the controller knows nothing of
        cannot be trusted."""
        spec = self.operations.get(operation)
        if spec is None:
            return Violation(operation, "", "host operation %s has no answer contract in this collection"
                             % operation)
        problem = self._check(spec, data, "")
        if problem is None:
            return None
        path, found, expected = problem
        if path:
            message = "host operation %s answered %s = %s, expected %s" % (operation, path, found, expected)
        else:
            message = "host operation %s answered data = %s, expected %s" % (operation, found, expected)
        return Violation(operation, path, message)

    def _check(self, spec, value, path):
        if isinstance(spec, str):
            return self._check_scalar(spec, value, path)
        if isinstance(spec, list):
            return self._check_list(spec[0], value, path, nullable=False)
        nullable = bool(spec.get("_nullable"))
        if value is None:
            return None if nullable else (path, "null", "a list" if "_list" in spec else "an object")
        if "_list" in spec:
            return self._check_list(spec["_list"], value, path, nullable=nullable)
        if not isinstance(value, dict):
            return path, _describe(value), "an object"
        if "_map" in spec:
            for key in sorted(value):
                problem = self._check(spec["_map"], value[key], _join(path, key))
                if problem:
                    return problem
        optional = set(spec.get("_optional") or [])
        for name, sub in spec.items():
            if name in _RESERVED:
                continue
            if name not in value:
                if name in optional:
                    continue
                return _join(path, name), "(missing)", _expected(sub, self.types)
            problem = self._check(sub, value[name], _join(path, name))
            if problem:
                return problem
        return None

    def _check_list(self, item_spec, value, path, nullable):
        if value is None and nullable:
            return None
        if not isinstance(value, list):
            return path, _describe(value), "a list"
        for index, item in enumerate(value):
            problem = self._check(item_spec, item, "%s[%d]" % (path, index))
            if problem:
                return problem
        return None

    def _check_scalar(self, spec, value, path):
        enum = _ENUM.match(spec)
        if enum:
            allowed = [v.strip() for v in enum.group("values").split("|")]
            if value is None and enum.group("null"):
                return None
            if isinstance(value, str) and value in allowed:
                return None
            return path, _describe(value), "one of " + ", ".join(allowed) + (" or null" if enum.group("null") else "")
        match = _SCALAR.match(spec)
        kind, nullable = match.group("kind"), bool(match.group("null"))
        if value is None and nullable:
            return None
        if kind in self.types:
            if value is None:
                return path, "null", _expected(self.types[kind], self.types)
            return self._check(self.types[kind], value, path)
        if _scalar_ok(kind, value):
            return None
        return path, _describe(value), _EXPECTED[kind] + (" or null" if nullable else "")


def _join(path, name):
    return "%s.%s" % (path, name) if path else str(name)


def _expected(spec, types):
    if isinstance(spec, list):
        return "a list"
    if isinstance(spec, dict):
        return "a list" if "_list" in spec else "an object"
    enum = _ENUM.match(spec)
    if enum:
        return "one of " + ", ".join(v.strip() for v in enum.group("values").split("|"))
    kind = _SCALAR.match(spec).group("kind")
    if kind in types:
        return _expected(types[kind], types)
    return _EXPECTED.get(kind, kind)


def load_contracts(path=CONTRACTS_PATH):
    with open(path, encoding="utf-8") as handle:
        return Contracts(yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


_LOADED = {}


def default_contracts():
    """The collection's contracts, read once per process (the file is part
    of the installed collection and never changes while it runs)."""
    if "default" not in _LOADED:
        _LOADED["default"] = load_contracts()
    return _LOADED["default"]


def check_answer(operation, data, contracts=None):
    """The first Violation of ``data`` for ``operation``, or None."""
    return (contracts or default_contracts()).check(operation, data)
