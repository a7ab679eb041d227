"""Model of Publish-ReportFile.ps1: the server writes one report file (sent
as base64 data) into a folder of a file share.

The lab has no SMB server: every share is a folder under the lab's state
directory, ``shares/<file server>/<share>/...``, which tests read back with
``report_share_path``. When the fleet's ``lab.report_share`` names an account,
the share admits only that account, as a real share's permissions would; the
server's own WinRM logon cannot reach it (the second hop). The error texts
are the exception types a real host raises; their wording is not relied on.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import ntpath
import os

from . import HostOpError, operation


def report_share_path(lab, unc):
    """Where the lab keeps the share folder ``unc`` (\\\\server\\share\\...)."""
    parts = [p for p in str(unc).strip("\\").split("\\") if p]
    if len(parts) < 2 or not str(unc).startswith("\\\\"):
        raise HostOpError("The network path %s was not found." % unc,
                          "System.Management.Automation.ItemNotFoundException")
    if any(p in (".", "..") for p in parts):
        raise HostOpError("The network path %s was not found." % unc,
                          "System.Management.Automation.ItemNotFoundException")
    return os.path.join(lab.state_dir, "shares", *[p.lower() for p in parts])


def check_share_account(ctx, args, share):
    """A share with an account (lab.report_share) refuses a call without it,
    or with another, as Windows does."""
    required = ctx.state.data["lab"].get("report_share")
    if required:
        given = (args.get("username"), args.get("password"))
        if not all(given):
            raise HostOpError("Access to the path '%s' is denied." % share, "System.UnauthorizedAccessException")
        if given != (required.get("username"), required.get("password")):
            raise HostOpError("The user name or password is incorrect.", "System.ComponentModel.Win32Exception")


@operation("Publish-ReportFile")
def publish_report_file(ctx, args):
    share = str(args.get("share") or "").rstrip("\\")
    folder = str(args.get("folder") or "")
    name = str(args.get("name") or "")
    try:
        content = base64.b64decode(str(args.get("content_base64") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise HostOpError("The input is not a valid Base-64 string.", "System.FormatException") from None
    check_share_account(ctx, args, share)
    unc = share + ("\\" + folder if folder else "")
    directory = report_share_path(ctx.lab, unc)
    steps = []
    if not os.path.isdir(directory):
        os.makedirs(directory)
        steps.append({"name": "create_folder", "changed": True, "detail": unc})
    path = ntpath.join(unc, name)
    with open(os.path.join(directory, name), "wb") as handle:
        handle.write(content)
    steps.append({"name": "write", "changed": True, "detail": path})
    return {"changed": True, "data": {"path": path, "size": len(content),
                                      "sha256": hashlib.sha256(content).hexdigest()}, "steps": steps}
