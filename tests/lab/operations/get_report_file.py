"""Model of Get-ReportFile.ps1: the server reads back one file published
earlier to a folder of a file share (the EEMS watch's history).

As in publish_report_file: the lab has no SMB server, every share is a folder
under the lab's state directory, and when the fleet's ``lab.report_share``
names an account the share admits only that account (a real share's
permissions; the server's own WinRM logon cannot reach it, the second hop).
A file that is not there is an answer, not an error.
"""
from __future__ import annotations

import base64
import hashlib
import ntpath
import os

from . import operation
from .publish_report_file import check_share_account, report_share_path


@operation("Get-ReportFile")
def get_report_file(ctx, args):
    share = str(args.get("share") or "").rstrip("\\")
    folder = str(args.get("folder") or "")
    name = str(args.get("name") or "")
    max_bytes = int(args.get("max_bytes") or 0)
    check_share_account(ctx, args, share)
    unc = share + ("\\" + folder if folder else "")
    path = ntpath.join(unc, name)
    local = os.path.join(report_share_path(ctx.lab, unc), name)
    data = {"path": path, "found": False, "size": None, "sha256": None, "content_base64": None}
    if os.path.isfile(local):
        with open(local, "rb") as handle:
            content = handle.read()
        data.update(found=True, size=len(content))
        if len(content) <= max_bytes:
            data.update(sha256=hashlib.sha256(content).hexdigest(),
                        content_base64=base64.b64encode(content).decode("ascii"))
    return {"changed": False, "data": data, "steps": []}
