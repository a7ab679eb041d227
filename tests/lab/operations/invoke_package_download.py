"""Model of Invoke-PackageDownload.ps1: the server downloads one installer,
checks it, and keeps it under its staged name only when it matches."""
from __future__ import annotations

import ntpath

from ..staging import LAB_SIGNER, digest, read_package, staged_files, staging_path
from . import HostOpError, operation


@operation("Invoke-PackageDownload")
def invoke_package_download(ctx, args):
    server = ctx.server
    faults = server["faults"]
    directory = str(args.get("staging_dir") or "")
    final = staging_path(directory, str(args.get("staged_name")))
    files = staged_files(server)
    steps = []
    dirs = server.setdefault("staging_dirs", [])
    if directory.lower() not in dirs:
        dirs.append(directory.lower())
        steps.append({"name": "create_staging_dir", "changed": True, "detail": directory})
    key = ntpath.normpath(final).lower()
    if files.pop(key, None) is not None:
        steps.append({"name": "remove_stale", "changed": True, "detail": final})
    if faults.get("disk_full"):
        raise HostOpError("There is not enough space on the disk.", "System.IO.IOException")
    content = read_package(ctx, (args.get("repository") or {}).get("url"), str(args.get("name")))
    if faults.get("hash_mismatch"):
        # What a transfer corrupted on the way (a proxy, a bad NIC) looks like.
        content = content[:-16] + b"\x00" * 16 if len(content) > 16 else content + b"\x00"
    steps.append({"name": "download", "changed": True, "detail": args.get("name")})
    observed = {"size": len(content), "sha256": digest(content), "signature_status": "Valid", "signer": LAB_SIGNER}
    allowed = [str(s).lower() for s in args.get("allowed_signers") or []]
    reason = None
    if observed["size"] != args.get("size"):
        reason = "size"
    elif observed["sha256"] != str(args.get("sha256") or "").lower():
        reason = "sha256"
    elif observed["signer"].lower() not in allowed:
        reason = "signer"
    if reason is None:
        files[key] = dict(observed, path=final, name=args.get("staged_name"))
        steps.append({"name": "verify", "changed": True, "detail": "verified"})
    else:
        steps.append({"name": "verify", "changed": True, "detail": "%s mismatch: removed" % reason})
    data = dict(observed, staged_name=args.get("staged_name"), path=final, exists=reason is None,
                removed=reason is not None, mismatch=reason)
    return {"changed": True, "data": data, "steps": steps}
