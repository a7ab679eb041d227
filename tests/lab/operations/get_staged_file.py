"""Model of Get-StagedFile.ps1: what the staging folder holds, and free disk."""
from __future__ import annotations

from ..staging import staged_file, staged_files, staging_path
from . import operation


def free_disk_gb(server):
    return 0.0 if server["faults"].get("disk_full") else round(float(server["free_disk_gb"]), 2)


@operation("Get-StagedFile")
def get_staged_file(ctx, args):
    server = ctx.server
    directory = str(args.get("staging_dir") or "")
    files = []
    for wanted in args.get("files") or []:
        path = staging_path(directory, str(wanted.get("staged_name")))
        record = staged_file(server, path)
        report = {"staged_name": wanted.get("staged_name"), "path": path, "exists": record is not None,
                  "size": None, "sha256": None, "signature_status": None, "signer": None}
        if record is not None:
            report["size"] = record["size"]
            if record["size"] == wanted.get("size"):
                report.update(sha256=record["sha256"], signature_status=record["signature_status"],
                              signer=record["signer"])
        files.append(report)
    prefix = directory.rstrip("\\").lower() + "\\"
    exists = any(key.startswith(prefix) for key in staged_files(server)) or \
        directory.lower() in server.setdefault("staging_dirs", [])
    return {"changed": False, "data": {"staging_dir": directory, "staging_dir_exists": exists,
                                       "free_disk_gb": free_disk_gb(server), "files": files}}
