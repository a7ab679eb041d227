"""Model of Restore-RewriteConfiguration.ps1: put back the files of one
backup (or the newest) exactly; changes nothing when they already match, and
refuses (restoring nothing) when applicationHost.config was changed by
anything else since the backup's own change."""
from __future__ import annotations

from .. import iis
from . import operation


@operation("Restore-RewriteConfiguration")
def restore_rewrite_configuration(ctx, args):
    server = ctx.server
    record = iis.find_backup(server, args.get("backup"))
    rewritten = iis.restore(server, record, guard=True)
    return {"changed": bool(rewritten),
            "data": {"backup": {"id": record["id"], "time": record["time"], "path": record["path"]},
                     "restored_files": rewritten},
            "steps": [{"step": "restore", "file": f, "ok": True} for f in rewritten]}
