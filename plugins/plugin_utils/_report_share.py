# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing report files to a file share through a Windows host, and
reading one back: the requests for Publish-ReportFile and Get-ReportFile and
the checks of their answers.

Plain Python, no Ansible imports. The share path, folder and file names are
checked here so that nothing a person typed can point the write anywhere but
a folder below the share; the bytes travel base64-encoded as data.
"""
from __future__ import annotations

import base64
import hashlib
import re

from ._bounds import MAX_LOCATION, MAX_WINDOWS_FOLDER, controller_path_problem, text_problem

# \\server\share, then optional folders; no wildcards or characters Windows
# refuses in names, no "." or ".." parts.
_BAD_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
# A share's whole text travels in one WinRM request; reports far above this
# belong on an HTTP endpoint.
MAX_BYTES = 32 * 1024 * 1024


class ReportShareError(ValueError):
    """Bad input or a wrong answer, said so a person can act on it."""


def bounds_problem(share, below, below_option, username=None, controller_paths=None):
    """The first value that is too long or holds a control character (NUL
    included), as a sentence naming its option; None when all are in bounds.
    ``below`` is the folder or file path under the share (``below_option``
    names it), ``controller_paths`` maps options to paths on the controller."""
    problems = [text_problem(share, "share", max_length=MAX_LOCATION),
                text_problem(below, below_option, max_length=MAX_WINDOWS_FOLDER),
                text_problem(username, "username", max_length=256)]
    problems += [controller_path_problem(str(path), option) for option, path in sorted((controller_paths or {}).items())]
    return next((problem for problem in problems if problem), None)


def _parts(text, what):
    parts = [p for p in re.split(r"[\\/]", text) if p]
    for part in parts:
        if part in (".", "..") or _BAD_NAME.search(part) or part != part.strip() or part.endswith("."):
            raise ReportShareError("%s: '%s' is not a valid folder or file name" % (what, part))
    return parts


def share_root(share):
    """The share as \\\\server\\share[\\folder...], checked."""
    text = str(share or "")
    if not text.startswith("\\\\"):
        raise ReportShareError("share must be a UNC path such as \\\\fileserver\\reports\\exchange, got '%s'" % text)
    parts = _parts(text[2:], "share")
    if len(parts) < 2:
        raise ReportShareError("share must name a server and a share (\\\\server\\share), got '%s'" % text)
    return "\\\\" + "\\".join(parts)


def folder_path(folder):
    """A folder below the share, given with / or \\ ('31/before'), in Windows form."""
    return "\\".join(_parts(str(folder or ""), "folder"))


def publish_request(share, folder, name, content, username=None, password=None):
    """The Publish-ReportFile arguments for one file."""
    file_name = str(name or "")
    if not file_name or _parts(file_name, "file name") != [file_name]:
        raise ReportShareError("file name: '%s' is not a plain file name" % file_name)
    if len(content) > MAX_BYTES:
        raise ReportShareError("%s is %d bytes; files above %d bytes cannot go through a host call, "
                               "publish to an HTTP endpoint instead" % (file_name, len(content), MAX_BYTES))
    request = {"share": share_root(share), "folder": folder_path(folder), "name": file_name,
               "content_base64": base64.b64encode(content).decode("ascii")}
    return _credentials(request, username, password)


def fetch_request(share, path, username=None, password=None):
    """The Get-ReportFile arguments for the file ``path`` below the share
    ('eems-watch/eems-watch-history.json')."""
    parts = _parts(str(path or ""), "file")
    if not parts:
        raise ReportShareError("file: name a file below the share, got '%s'" % path)
    request = {"share": share_root(share), "folder": "\\".join(parts[:-1]), "name": parts[-1],
               "max_bytes": MAX_BYTES}
    return _credentials(request, username, password)


def check_fetched(data, request):
    """The bytes read back, or None when the file is not there; an answer that
    is too large or does not match its own SHA256 is an error."""
    data = data if isinstance(data, dict) else {}
    where = data.get("path") or request["name"]
    if not data.get("found"):
        return None
    if data.get("content_base64") is None:
        raise ReportShareError("%s is %s bytes; files above %d bytes are not read back through a host call"
                               % (where, data.get("size"), MAX_BYTES))
    try:
        content = base64.b64decode(str(data["content_base64"]), validate=True)
    except (ValueError, TypeError):
        raise ReportShareError("%s: the host's answer is not base64" % where) from None
    if hashlib.sha256(content).hexdigest() != str(data.get("sha256") or "").lower():
        raise ReportShareError("%s: the bytes received differ from what the host read (SHA256 %s, got %s)"
                               % (where, data.get("sha256"), hashlib.sha256(content).hexdigest()))
    return content


def _credentials(request, username, password):
    if bool(username) != bool(password):
        raise ReportShareError("give both the share's username and password, or neither")
    if username:
        request.update(username=str(username), password=str(password))
    return request


def check_answer(data, request, content):
    """The server wrote what was sent, where it was asked to."""
    expected = hashlib.sha256(content).hexdigest()
    if not isinstance(data, dict) or str(data.get("sha256", "")).lower() != expected:
        raise ReportShareError("%s on %s: the file written differs from the report sent (SHA256 %s, expected %s)"
                               % (request["name"], request["share"], (data or {}).get("sha256"), expected))
    return str(data.get("path"))


def location(share, folder):
    root = share_root(share)
    sub = folder_path(folder)
    return root + ("\\" + sub if sub else "") + "\\"
