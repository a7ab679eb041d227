# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run one host operation on a Windows host over its Ansible connection.

For internal collection use only; the interface may change in any release.

The command line is always the same constant bootstrap
(``_host_scripts/Invoke-HostOperation.ps1``).  The operation's own script text
and its arguments travel together as one JSON document on stdin, the way
Ansible pipelines its own modules to Windows.  Nothing an inventory or a user
supplies is ever formatted into PowerShell text, so no quoting rule can be
got wrong.

Errors are raised as ``HostCallError`` with ``kind`` set to one of:

``unreachable``  the connection could not be made or was lost;
``malformed``    the host answered, but not with one JSON result we can trust;
``operation``    the script ran and reported a failure of its own.

An answer whose ``data`` breaks the operation's contract
(``_data/host_contracts.yml``) is ``malformed`` too; its ``detail`` then holds
``{"field": <path>}`` and the message names the operation and the field.
"""
from __future__ import annotations

import base64
import json
import os
import re

SCRIPT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_host_scripts")
# Shared host functions, one per file, named after the function.
FUNCTION_DIR = os.path.join(SCRIPT_DIR, "_functions")
BOOTSTRAP_NAME = "Invoke-HostOperation"

# A script (or a shared function) declares the shared functions it calls in
# a header line "# Uses: Name, Name".  Declared, not discovered: what is sent
# stays a constant per operation that a reviewer can see in the file.
_USES_LINE = re.compile(r"^#\s*Uses:\s*(?P<names>.*)$")
_FUNCTION_NAME = re.compile(r"^[A-Z][A-Za-z]+-[A-Z][A-Za-z]+$")
_PARAM_LINE = re.compile(r"^param\s*\(", re.IGNORECASE)

# The exact prefix ansible-core's winrm plugin recognises as "already an
# encoded PowerShell command" on both 2.19 and 2.21, so it is passed through
# untouched instead of being wrapped a second time.
_POWERSHELL_PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "

# A host answer larger than this is not a result we produced; refuse it rather
# than let one broken host exhaust the controller's memory.
MAX_RESULT_BYTES = 16 * 1024 * 1024

_RESULT_KEYS = {"ok": bool, "changed": bool, "steps": list}


class HostCallError(Exception):
    """A host operation failed; ``kind`` says how (see module docstring)."""

    def __init__(self, message, kind, operation, detail=None):
        super().__init__(message)
        self.kind = kind
        self.operation = operation
        self.detail = detail or {}


def normalise_script(text):
    """Strip every line and drop blank ones: the same whitespace
    normalisation Ansible applies to encoded commands, which keeps the
    payload small without changing what PowerShell parses."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _read_ps1(directory, name):
    if not name or os.sep in name or "/" in name or name.startswith("."):
        raise ValueError("invalid host script name %r" % (name,))
    with open(os.path.join(directory, name + ".ps1"), encoding="utf-8") as handle:
        return normalise_script(handle.read())


def declared_functions(text):
    """The shared function names a script's ``# Uses:`` lines declare."""
    names = []
    for line in text.splitlines():
        match = _USES_LINE.match(line)
        if match:
            names.extend(part.strip() for part in match.group("names").split(",") if part.strip())
    for name in names:
        if not _FUNCTION_NAME.match(name):
            raise ValueError("invalid shared function name %r in a '# Uses:' line" % (name,))
    return names


def required_functions(text):
    """Every shared function ``text`` needs, with their own needs, sorted."""
    wanted, seen = list(declared_functions(text)), {}
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        try:
            seen[name] = _read_ps1(FUNCTION_DIR, name)
        except FileNotFoundError:
            raise ValueError("shared host function %s is declared but %s/%s.ps1 does not exist"
                             % (name, os.path.basename(FUNCTION_DIR), name)) from None
        wanted.extend(declared_functions(seen[name]))
    return [(name, seen[name]) for name in sorted(seen)]


def compose_script(text):
    """The operation's text with its shared functions placed right after its
    ``param(...)`` line (PowerShell requires param first), or at the top when
    it has none."""
    functions = [body for _name, body in required_functions(text)]
    if not functions:
        return text
    lines = text.splitlines()
    at = next((i + 1 for i, line in enumerate(lines) if _PARAM_LINE.match(line)), 0)
    return "\n".join(lines[:at] + functions + lines[at:])


def load_script(name):
    """Return the text sent for host script ``name`` (without .ps1):
    normalised, with the shared functions it declares composed in."""
    return compose_script(_read_ps1(SCRIPT_DIR, name))


def bootstrap_command():
    """The constant command line every host call runs."""
    encoded = base64.b64encode(load_script(BOOTSTRAP_NAME).encode("utf-16-le")).decode("ascii")
    return _POWERSHELL_PREFIX + encoded


def build_request(operation, args):
    """The stdin document for ``operation``: script text plus arguments as data."""
    return json.dumps(
        {"operation": operation, "script": load_script(operation), "args": args or {}},
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode("ascii")


def connection_error_text(error):
    """The cause in a few words when it is a common one, else the text, bounded."""
    text = " ".join(str(error).split()) or type(error).__name__
    lowered = text.lower()
    for needle, cause in (("connection refused", "connection refused"), ("reset by peer", "connection reset"),
                          ("connectionreset", "connection reset"), ("timed out", "timed out"),
                          ("remotedisconnected", "connection closed by the host"),
                          ("name or service not known", "host name not found")):
        if needle in lowered:
            return cause
    return text if len(text) <= 300 else text[:300] + "..."


def _excerpt(text, limit=300):
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "... (%d characters in all)" % len(text)


def parse_result(operation, rc, stdout, stderr):
    """Turn raw host output into a checked result dict or raise HostCallError."""
    if len(stdout) > MAX_RESULT_BYTES:
        raise HostCallError(
            "host operation %s returned %d bytes, more than the %d allowed; refusing to parse it"
            % (operation, len(stdout), MAX_RESULT_BYTES),
            "malformed", operation)
    out_text = stdout.decode("utf-8", errors="replace")
    err_text = stderr.decode("utf-8", errors="replace")
    try:
        result = json.loads(out_text)
    except ValueError:
        raise HostCallError(
            "host operation %s did not return JSON (exit code %s). stdout: %r stderr: %r"
            % (operation, rc, _excerpt(out_text), _excerpt(err_text)),
            "malformed", operation) from None
    if not isinstance(result, dict):
        raise HostCallError(
            "host operation %s returned a JSON %s, expected an object" % (operation, type(result).__name__),
            "malformed", operation)
    for key, expected in _RESULT_KEYS.items():
        if key in result and not isinstance(result[key], expected):
            raise HostCallError(
                "host operation %s returned %s=%r, expected a %s" % (operation, key, result[key], expected.__name__),
                "malformed", operation)
    if "ok" not in result:
        raise HostCallError("host operation %s returned no 'ok' field" % operation, "malformed", operation)
    if not result["ok"]:
        error = result.get("error") if isinstance(result.get("error"), dict) else {}
        raise HostCallError(
            "host operation %s failed: %s" % (operation, error.get("message") or "no message given"),
            "operation", operation, detail=error)
    data = result.get("data")
    if data is not None and not isinstance(data, dict):
        raise HostCallError(
            "host operation %s returned data of type %s, expected an object" % (operation, type(data).__name__),
            "malformed", operation)
    # Every answer is held to its operation's contract here, once, so no
    # caller ever meets a missing key or a value of the wrong kind.  Imported
    # here: scripts/check_ps1_semantics.py loads this file on its own, outside
    # the package, for the script composition only.
    from ._contracts import check_answer

    violation = check_answer(operation, data)
    if violation is not None:
        raise HostCallError(str(violation), "malformed", operation, detail={"field": violation.path})
    return {
        "changed": bool(result.get("changed", False)),
        "data": data,
        "steps": result.get("steps") or [],
    }


def run_host_operation(connection, operation, args=None):
    """Run ``operation`` with ``args`` on the host behind ``connection``.

    ``connection`` is the task's Ansible connection plugin (winrm, psrp or
    ssh with the PowerShell shell).  Returns ``{"changed", "data", "steps"}``.
    Connection failures from Ansible propagate unchanged so the task
    executor marks the host unreachable; everything else is a HostCallError.
    """
    request = build_request(operation, args)
    rc, stdout, stderr = connection.exec_command(bootstrap_command(), in_data=request, sudoable=False)
    return parse_result(operation, rc, stdout or b"", stderr or b"")
