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
"""
from __future__ import annotations

import base64
import json
import os

SCRIPT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_host_scripts")
BOOTSTRAP_NAME = "Invoke-HostOperation"

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


def load_script(name):
    """Return the normalised text of host script ``name`` (without .ps1)."""
    if not name or os.sep in name or "/" in name or name.startswith("."):
        raise ValueError("invalid host script name %r" % (name,))
    path = os.path.join(SCRIPT_DIR, name + ".ps1")
    with open(path, encoding="utf-8") as handle:
        return normalise_script(handle.read())


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
    return {
        "changed": bool(result.get("changed", False)),
        "data": data or {},
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
