"""Python models of the collection's host operations.

Each module here models one ``plugins/plugin_utils/_host_scripts/<Name>.ps1``
and registers itself under the same name.  A model receives the server's
state and the operation's arguments (the JSON the script would bind to
``$HostArgs``) and returns what the script would return:
``{"changed": bool, "data": {...}, "steps": [...]}``.  Raising
``HostOpError`` is the script throwing: the bootstrap turns it into
``{"ok": false, "error": {...}}``.
"""
from __future__ import annotations

import importlib
import pkgutil

OPERATIONS = {}


class HostOpError(Exception):
    """The modelled script threw; ``type`` is the .NET exception type a real
    host would report."""

    def __init__(self, message, type_name="System.Management.Automation.RuntimeException"):
        super().__init__(message)
        self.type_name = type_name


class OperationContext:
    """What a model may touch: the lab (state, clock, services) and the
    server the call arrived on."""

    def __init__(self, lab, server):
        self.lab = lab
        self.server = server
        self.state = lab.state
        self.clock = lab.clock


def operation(name):
    def register(func):
        if name in OPERATIONS:
            raise RuntimeError("host operation %s modelled twice" % name)
        OPERATIONS[name] = func
        return func
    return register


def load_all():
    """Import every model module so each registers itself."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module("%s.%s" % (__name__, info.name))
    return OPERATIONS
