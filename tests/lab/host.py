"""What a simulated Windows host does with a command it receives over WinRM.

The WS-Management server hands every command line (and its stdin) to
``LabHostBackend.run_command``.  A host here is strict on purpose: it runs
only

* the collection's canonical bootstrap, with a canonical operation script
  and its arguments as JSON on stdin (answered by the Python model of that
  operation), and
* a handful of generic commands used for connection checks (``echo``,
  ``Write-Output``, ``hostname``, ``whoami``, ``exit N``).

Anything else is refused with an error that says so.  That is how the tests
prove no user-supplied text ever became PowerShell code: if it had, the
script text would differ from the canonical file and the lab would refuse it.
"""
from __future__ import annotations

import base64
import copy
import json
import logging
import os
import re
import shlex
import traceback

from .operations import HostOpError, OperationContext, load_all
from .wsman import CommandResult

LOG = logging.getLogger("lab.host")

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT_DIR = os.path.join(COLLECTION_ROOT, "plugins", "plugin_utils", "_host_scripts")
FUNCTION_DIR = os.path.join(SCRIPT_DIR, "_functions")
BOOTSTRAP = "Invoke-HostOperation"

# Windows refuses a command line longer than this (cmd.exe's limit, which
# WinRS inherits); the lab does too, so an oversized command fails here as
# it would in production.
MAX_COMMAND_LINE = 8191

_ECHO = re.compile(r"^(?:echo|Write-Output|Write-Host)\s+(?P<text>.*)$", re.IGNORECASE)
_EXIT = re.compile(r"^exit\s+(?P<code>-?\d+)$", re.IGNORECASE)


def normalise_script(text):
    """The whitespace normalisation a transport may apply: strip each line,
    drop blank lines.  Implemented here independently of the collection."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _read_normalised(path):
    with open(path, encoding="utf-8-sig") as handle:
        return normalise_script(handle.read())


def _uses(text):
    names = []
    for line in text.splitlines():
        if line.startswith("#") and line[1:].strip().lower().startswith("uses:"):
            names += [n.strip() for n in line.split(":", 1)[1].split(",") if n.strip()]
    return names


def compose_canonical(text, function_dir=FUNCTION_DIR):
    """What a real host must receive for an operation: its text with every
    shared function it declares ("# Uses:", followed through the functions'
    own declarations) inserted after its param line, sorted by name.
    Implemented here independently of the collection, so the lab checks the
    controller's composition instead of repeating it."""
    bodies, pending = {}, list(_uses(text))
    while pending:
        name = pending.pop(0)
        if name not in bodies:
            path = os.path.join(function_dir, name + ".ps1")
            if not os.path.isfile(path):
                raise RuntimeError("host script declares the shared function %s, which has no file" % name)
            bodies[name] = _read_normalised(path)
            pending += _uses(bodies[name])
    lines = text.splitlines()
    at = 0
    for number, line in enumerate(lines):
        if line.lower().replace(" ", "").startswith("param("):
            at = number + 1
            break
    return "\n".join(lines[:at] + [bodies[name] for name in sorted(bodies)] + lines[at:])


def load_canonical_scripts(directory=SCRIPT_DIR):
    scripts = {}
    for entry in sorted(os.listdir(directory)):
        if entry.endswith(".ps1"):
            scripts[entry[:-4]] = compose_canonical(_read_normalised(os.path.join(directory, entry)))
    return scripts


def decode_powershell_command(command_line):
    """The script of a ``PowerShell ... -EncodedCommand <b64>`` line, or None."""
    try:
        parts = shlex.split(command_line, posix=False)
    except ValueError:
        return None
    if not parts or os.path.basename(parts[0]).lower() not in ("powershell", "powershell.exe", "pwsh", "pwsh.exe"):
        return None
    lowered = [p.lower() for p in parts]
    for flag in ("-encodedcommand", "-enc", "-e"):
        if flag in lowered:
            index = lowered.index(flag)
            if index + 1 >= len(parts):
                return None
            try:
                return base64.b64decode(parts[index + 1]).decode("utf-16-le")
            except ValueError:
                return None
    return None


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parse_path(text):
    """``a.b[2].c`` as ["a", "b", 2, "c"]."""
    return [int(index) if index else key for key, index in _PATH_PART.findall(text)]


def _text_paths(value, path=()):
    """Every path to a text value, depth first, in answer order."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(item, str):
            yield list(path) + [key]
        else:
            yield from _text_paths(item, list(path) + [key])


def _first_text_in_list(data):
    """The path of the first text value inside a list, else of the first text value."""
    paths = list(_text_paths(data))
    return next((p for p in paths if any(isinstance(part, int) for part in p)), paths[0] if paths else None)


def _set_path(data, path, value):
    if not path:
        raise ValueError("the off_contract fault found no text value to break in this answer")
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


# A bare "$HostArgs.name" (or "$HostArgs.name.sub") read in a script. The
# bootstrap runs under Set-StrictMode -Version 2.0, where reading a property
# the JSON object does not have throws (Microsoft Learn, Set-StrictMode), so
# a real host fails such a call; the lab does too instead of letting the
# model's args.get() hide it.
_BARE_ARGUMENT = re.compile(r"\$HostArgs\.(?!PSObject\b)(\w+)(?:\.(\w+))?")


def strict_argument_reads(text):
    """``[(name, sub or None)]`` for every bare ``$HostArgs`` read outside comments."""
    reads = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for match in _BARE_ARGUMENT.finditer(line):
            if match.groups() not in reads:
                reads.append(match.groups())
    return reads


def missing_strict_argument(reads, args):
    """The first property a bare read would not find in ``args``, or None."""
    for name, sub in reads:
        if name not in args:
            return name
        if sub is not None and isinstance(args[name], dict) and sub not in args[name]:
            return sub
    return None


def _first_difference(sent, canonical):
    sent_lines, canonical_lines = sent.splitlines(), canonical.splitlines()
    for number, (a, b) in enumerate(zip(sent_lines, canonical_lines), start=1):
        if a != b:
            return number
    return min(len(sent_lines), len(canonical_lines)) + 1


class LabHostBackend:
    """The ``Backend`` the WS-Management server calls (see wsman.py)."""

    def __init__(self, lab):
        self.lab = lab
        self.models = load_all()
        self.canonical = load_canonical_scripts()
        self.strict_reads = {name: strict_argument_reads(text) for name, text in self.canonical.items()}
        missing = sorted(set(self.canonical) - set(self.models) - {BOOTSTRAP})
        if missing:
            raise RuntimeError("host scripts without a lab model: %s" % ", ".join(missing))

    # -- authentication -------------------------------------------------
    def authenticate(self, endpoint, username, password):
        credential = self.lab.state.data["lab"]["credential"]
        try:
            server = self.lab.state.server(endpoint)
        except KeyError:
            server = None
        if server is not None and server.get("local_account"):
            # A server outside the domain (an Edge Transport server) knows only
            # its own accounts: COMPUTER\user, .\user or the bare name.
            account = server["local_account"]
            bare = account["username"].split("\\")[-1].lower()
            given = (username or "").lower()
            names = (account["username"].lower(), ".\\" + bare, bare, "%s\\%s" % (server["name"].lower(), bare))
            return given in names and password == account["password"]
        expected_user = credential["username"].lower()
        given = (username or "").lower()
        # Windows accepts DOMAIN\user, user@domain and the bare name alike.
        bare = expected_user.split("\\")[-1]
        user_ok = given in (expected_user, bare) or given.split("@")[0] == bare
        return user_ok and password == credential["password"]

    # -- commands -------------------------------------------------------
    def run_command(self, endpoint, command_line, stdin):
        self.lab.note_process(endpoint)
        if len(command_line) > MAX_COMMAND_LINE:
            return CommandResult(b"", b"The command line is too long.\r\n", 1)
        script = decode_powershell_command(command_line)
        if script is None:
            return self._generic(endpoint, command_line.strip())
        if normalise_script(script) == self.canonical[BOOTSTRAP]:
            return self._host_operation(endpoint, stdin)
        lines = normalise_script(script).splitlines()
        if len(lines) == 1:
            return self._generic(endpoint, lines[0])
        return self._refuse(endpoint, "a PowerShell script that is not the collection's canonical bootstrap")

    def _generic(self, endpoint, text):
        server = self.lab.state.server(endpoint)
        self.lab.note_operation(endpoint, "<generic>")
        match = _ECHO.match(text)
        if match:
            value = match.group("text").strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            return CommandResult(value.encode("utf-8") + b"\r\n", b"", 0)
        match = _EXIT.match(text)
        if match:
            return CommandResult(b"", b"", int(match.group("code")))
        lowered = text.lower()
        if lowered in ("hostname", "hostname.exe", "$env:computername"):
            return CommandResult(server["name"].upper().encode() + b"\r\n", b"", 0)
        if lowered in ("whoami", "whoami.exe"):
            user = self.lab.state.data["lab"]["credential"]["username"].lower()
            return CommandResult(user.encode() + b"\r\n", b"", 0)
        return self._refuse(endpoint, "the command %r" % text[:200])

    def _refuse(self, endpoint, what):
        self.lab.note_refusal(endpoint, what)
        message = ("LAB REFUSED: %s. This lab host runs only the canonical onprem.exchange host "
                   "scripts (parameters as JSON on stdin) and echo/hostname/whoami/exit.\r\n" % what)
        return CommandResult(b"", message.encode("utf-8"), 1)

    @staticmethod
    def _malformed(kind, outcome=None):
        """A host answer that is broken in the way ``kind`` names (fault injection).

        ``off_contract`` (or ``off_contract:<path>``, e.g.
        ``off_contract:exchange.database_copies[0].status``) is well-formed
        JSON with ``ok: true`` whose data breaks the operation's contract: the
        text at that path (by default the first text found inside a list)
        becomes the number 7, the way a changed script or a value that came
        back in another form would look."""
        if kind == "off_contract" or str(kind).startswith("off_contract:"):
            data = copy.deepcopy((outcome or {}).get("data"))
            path = _parse_path(kind.split(":", 1)[1]) if ":" in kind else _first_text_in_list(data)
            _set_path(data, path, 7)
            return CommandResult(json.dumps({"ok": True, "changed": bool((outcome or {}).get("changed")),
                                             "data": data, "steps": (outcome or {}).get("steps", []),
                                             "error": None}, default=str).encode("utf-8"), b"", 0)
        if kind == "non_json":
            return CommandResult(b"WARNING: profile loaded\r\nThe operation completed.\r\n", b"", 0)
        if kind == "truncated":
            return CommandResult(b'{"ok": true, "changed": false, "data": {"computer_na', b"", 0)
        if kind == "huge":
            return CommandResult(b'{"ok": true, "data": {"junk": "' + b"x" * (17 * 1024 * 1024) + b'"}}', b"", 0)
        if kind == "wrong_types":
            return CommandResult(b'{"ok": "yes", "changed": "no", "data": [1, 2, 3], "steps": {}}', b"", 0)
        raise ValueError("unknown malformed_answer kind %r" % kind)

    @staticmethod
    def _result_json(result):
        return CommandResult(json.dumps(result, default=str).encode("utf-8"), b"", 0)

    def _host_operation(self, endpoint, stdin):
        try:
            request = json.loads(stdin.decode("utf-8-sig") if stdin else "")
        except ValueError as error:
            # What ConvertFrom-Json inside the real bootstrap would report.
            return self._result_json({"ok": False, "changed": False, "data": None, "steps": [], "error": {
                "message": "Invalid JSON on stdin: %s" % error, "type": "System.ArgumentException", "line": 14}})
        if not isinstance(request, dict):
            return self._refuse(endpoint, "a request that is not a JSON object")
        name = request.get("operation")
        script = request.get("script")
        if name not in self.canonical or name == BOOTSTRAP:
            return self._refuse(endpoint, "unknown host operation %r" % (name,))
        if not isinstance(script, str) or normalise_script(script) != self.canonical[name]:
            line = _first_difference(normalise_script(script or ""), self.canonical[name])
            return self._refuse(endpoint, "a script for %s that differs from the canonical %s.ps1 at line %d"
                                % (name, name, line))
        args = request.get("args") or {}
        self.lab.note_operation(endpoint, name)
        missing = missing_strict_argument(self.strict_reads[name], args) if isinstance(args, dict) else None
        if missing is not None:
            return self._result_json({"ok": False, "changed": False, "data": None, "steps": [], "error": {
                "message": "The property '%s' cannot be found on this object. Verify that the property exists."
                           % missing,
                "type": "System.Management.Automation.PropertyNotFoundException", "line": 0}})
        ctx = OperationContext(self.lab, self.lab.state.server(endpoint))
        with self.lab.state.lock:
            cut = self.lab.before_operation(ctx.server, name)
        if cut:  # the connection is gone; nothing ran and nobody reads this
            return CommandResult(b"", b"", 1)
        try:
            with self.lab.state.lock:
                outcome = self.models[name](ctx, args)
        except HostOpError as error:
            return self._result_json({"ok": False, "changed": False, "data": None, "steps": [], "error": {
                "message": str(error), "type": error.type_name, "line": 0}})
        except Exception:  # a bug in a model: report it as the host would report a script crash
            LOG.error("model %s failed on %s:\n%s", name, endpoint, traceback.format_exc())
            return self._result_json({"ok": False, "changed": False, "data": None, "steps": [], "error": {
                "message": "lab model error in %s: %s" % (name, traceback.format_exc(limit=3)),
                "type": "LabModelError", "line": 0}})
        if outcome.get("changed"):
            self.lab.state_changed()
        broken = ctx.server["faults"].get("malformed_answer")
        if broken:
            return self._malformed(broken, outcome)
        return self._result_json({
            "ok": True,
            "changed": bool(outcome.get("changed")),
            "data": outcome.get("data"),
            "steps": outcome.get("steps", []),
            "error": None,
        })
