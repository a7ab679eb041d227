# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one writer of report files: fixed names, every format, atomic.

For internal collection use only; the interface may change in any release.
"""
from __future__ import annotations

import os
import re
import secrets

from .._bounds import controller_path_problem

FORMATS = {"html": ".html", "json": ".json", "csv": ".csv", "markdown": ".md"}

# A plain file name: no separators, no leading dot, so it cannot leave dest_dir.
_BASENAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ReportError(ValueError):
    """Input a report cannot use, or a destination it cannot write to."""


def prepare_dir(dest_dir):
    """``dest_dir`` as an absolute, existing directory (created when missing)."""
    problem = controller_path_problem(str(dest_dir), "dest (the report folder)")
    if problem:
        raise ReportError(problem)
    dest_dir = os.path.abspath(os.path.expanduser(str(dest_dir)))
    if os.path.exists(dest_dir) and not os.path.isdir(dest_dir):
        raise ReportError("dest %s exists and is not a directory" % dest_dir)
    try:
        os.makedirs(dest_dir, exist_ok=True)
    except (OSError, ValueError) as error:
        raise ReportError("dest %s cannot be created: %s"
                          % (dest_dir, getattr(error, "strerror", None) or error)) from None
    return dest_dir


def write_atomically(path, data):
    """Write via a temporary file in the same directory and rename, so a
    reader never sees half a file.  An unchanged file is left alone (its
    mtime too), which keeps repeated runs over an unchanged estate quiet."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return
    except OSError:
        pass
    temporary = os.path.join(os.path.dirname(path), ".%s.%s.tmp" % (os.path.basename(path), secrets.token_hex(6)))
    # os.open with 0o666 lets the umask decide the mode, as for any new file.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_report(report, dest_dir, formats, basename, renderers):
    """Write ``report`` in each format to ``dest_dir/basename.<ext>``.

    ``renderers``: {format: function(report) -> str}.  Every format is
    rendered before the first file is written, so a renderer that fails
    leaves no mix of new and old files.  Returns ``{format: absolute path}``
    in a fixed order.  Raises ReportError for an unknown format, a bad
    basename or a destination that is not a usable directory.
    """
    if not _BASENAME_PATTERN.match(basename or ""):
        raise ReportError("basename %r must be a plain file name (letters, digits, '.', '_', '-')" % (basename,))
    unknown = [fmt for fmt in formats if fmt not in FORMATS or fmt not in renderers]
    if unknown:
        raise ReportError("unknown report format(s) %s; choose from %s"
                          % (", ".join(map(str, unknown)), ", ".join(f for f in FORMATS if f in renderers)))
    dest_dir = prepare_dir(dest_dir)
    chosen = [fmt for fmt in FORMATS if fmt in formats]  # fixed order, whatever order formats came in
    rendered = {fmt: renderers[fmt](report).encode("utf-8") for fmt in chosen}
    written = {}
    for fmt in chosen:
        path = os.path.join(dest_dir, basename + FORMATS[fmt])
        try:
            write_atomically(path, rendered[fmt])
        except OSError as error:
            raise ReportError("cannot write %s: %s" % (path, error.strerror or error)) from None
        written[fmt] = path
    return written
