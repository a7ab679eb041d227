"""Model of Get-MitigationServiceEvent.ps1: Mitigation Service events since a time."""
from __future__ import annotations

import datetime as _dt

from . import HostOpError, operation


def _parse(text):
    value = _dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


@operation("Get-MitigationServiceEvent")
def get_mitigation_service_event(ctx, args):
    try:
        since = _parse((args or {}).get("since"))
    except (TypeError, ValueError):
        # [DateTime]::Parse throws a FormatException on what is not a date.
        raise HostOpError("String was not recognized as a valid DateTime.", "System.FormatException") from None
    limit = int((args or {}).get("max_events") or 50)
    events = [{"id": e["id"], "level": e["level"], "time": e["time"], "message": e["message"]}
              for e in reversed(ctx.server["events"]) if _parse(e["time"]) >= since]
    return {"changed": False, "data": {"now": ctx.clock.now().isoformat(), "since": since.isoformat(),
                                       "events": events[:limit]}}
