"""Model of Set-RewriteRules.ps1: back up (applicationHost.config too when a
change is made there), apply a change list, restore the backup if any step fails (the ``iis_config_locked`` fault makes the second
write fail, half-way through)."""
from __future__ import annotations

from .. import iis
from . import HostOpError, operation


@operation("Set-RewriteRules")
def set_rewrite_rules(ctx, args):
    server = ctx.server
    changes = args.get("changes") or []
    if not isinstance(changes, list) or not changes:
        raise HostOpError("No changes were given.", "System.ArgumentException")
    if not server.get("url_rewrite_version"):
        raise HostOpError("The IIS URL Rewrite module is not installed; IIS would reject a <rewrite> section "
                          "and fail every request to the site.", "System.InvalidOperationException")
    record = iis.backup(server, ctx.clock.now(), args.get("reason"),
                        apphost=any(isinstance(c, dict) and c.get("config") in ("apphost", "apphost-root")
                                    for c in changes))
    steps = [{"step": "backup", "id": record["id"], "path": record["path"]}]
    fail_at = (1 if len(changes) > 1 else 0) if server["faults"].get("iis_config_locked") else None
    for index, change in enumerate(changes):
        try:
            if index == fail_at:
                raise HostOpError(iis.LOCKED_TEXT.format(file=iis.file_of(change.get("path", ""))),
                                  "System.IO.IOException")
            written = iis.apply_one(server, change)
        except HostOpError as error:
            iis.restore(server, record)
            raise HostOpError("Change %d of %d (%s at %s%s) failed: %s The configuration was restored from "
                              "backup %s." % (index + 1, len(changes), change.get("op"), iis.SITE,
                                              change.get("path", ""), error, record["id"]), error.type_name) from None
        steps.append({"step": change.get("op"), "path": change.get("path", ""), "file": written, "ok": True})
    if "apphost" in record:
        # What the backup records after the change (see iis.restore's guard).
        record["apphost_after"] = iis.copy.deepcopy(server["iis"]["apphost"])
    return {"changed": True, "data": {"backup": {"id": record["id"], "time": record["time"], "path": record["path"]},
                                      "applied": len(changes)}, "steps": steps}
