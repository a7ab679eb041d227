# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounds on text that names a controller path or travels to a host.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports.  Each check returns None when the value is
acceptable, else a sentence naming the option and what is wrong with it;
callers add the host and refuse before anything is sent or written.
"""
from __future__ import annotations

import os

# A folder on the controller: PATH_MAX and NAME_MAX of Linux (the execution
# environment); the check is on characters/bytes as the kernel counts them.
MAX_CONTROLLER_PATH = 4096
MAX_PATH_COMPONENT_BYTES = 255
# A folder on a Windows host: MAX_PATH (260) minus 12 (room for an 8.3 file
# name), the longest directory path the Win32 directory APIs take without
# long-path support; and no character 0-31 in a name.  Microsoft Learn,
# "Naming Files, Paths, and Namespaces" (windows/win32/fileio/naming-a-file,
# section "Maximum Path Length Limitation"); CreateDirectory limits
# lpPathName to MAX_PATH by default (fileapi.h reference).
MAX_WINDOWS_FOLDER = 248
# A URL or UNC path given to a host; far longer than any repository address.
MAX_LOCATION = 2048
# Any one string argument of a host operation: the backstop for values no
# option-specific check covers.
MAX_HOST_ARGUMENT = 65536


def _control(value, allow):
    for index, char in enumerate(value):
        if (ord(char) < 32 or ord(char) == 127) and char not in allow:
            return index, char
    return None


def text_problem(value, option, *, max_length, allow=""):
    """Why ``value`` cannot be used for ``option`` (None when it can)."""
    if not isinstance(value, str):
        return None
    if "\x00" in value:
        return "%s contains a NUL byte (at character %d), which no path, name or URL can hold" % (
            option, value.index("\x00") + 1)
    found = _control(value, allow)
    if found:
        return "%s contains the control character U+%04X (at character %d)" % (option, ord(found[1]), found[0] + 1)
    if len(value) > max_length:
        return "%s is %d characters long, more than the %d allowed" % (option, len(value), max_length)
    return None


def controller_path_problem(value, option):
    """A file or folder on the controller: no NUL, bounded length.  Other control
    characters are legal in Linux file names and are used as they are."""
    if not isinstance(value, str):
        return None
    if "\x00" in value:
        return "%s contains a NUL byte (at character %d); no file or folder name can hold one" % (
            option, value.index("\x00") + 1)
    if len(value.encode("utf-8", "surrogateescape")) > MAX_CONTROLLER_PATH:
        return "%s is %d characters long, more than the %d a path may have" % (option, len(value), MAX_CONTROLLER_PATH)
    for part in value.split(os.sep):
        if len(part.encode("utf-8", "surrogateescape")) > MAX_PATH_COMPONENT_BYTES:
            return "%s has a folder name of %d bytes, more than the %d a file system allows" % (
                option, len(part.encode("utf-8", "surrogateescape")), MAX_PATH_COMPONENT_BYTES)
    return None


def host_argument_problem(args, where=""):
    """The first string anywhere in ``args`` (a host operation's JSON
    arguments) that holds a NUL byte or is unreasonably long."""
    if isinstance(args, str):
        if "\x00" in args:
            return "%s contains a NUL byte" % (where or "a value")
        if len(args) > MAX_HOST_ARGUMENT:
            return "%s is %d characters long, more than the %d allowed" % (where or "a value", len(args),
                                                                           MAX_HOST_ARGUMENT)
        return None
    if isinstance(args, dict):
        items = (("%s.%s" % (where, key) if where else str(key), value) for key, value in args.items())
    elif isinstance(args, (list, tuple)):
        items = (("%s[%d]" % (where, index), value) for index, value in enumerate(args))
    else:
        return None
    for path, value in items:
        problem = host_argument_problem(value, path)
        if problem:
            return problem
    return None
