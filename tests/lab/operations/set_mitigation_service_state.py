"""Model of Set-MitigationServiceState.ps1: StartType, start or restart.

A start or restart makes the modelled Mitigation Service check at the next
lab tick, as the real one checks when it starts.  A service listed in the
``services_fail_start`` fault stays stopped and the start error comes back
as data, as the script reports it.
"""
from __future__ import annotations

from . import HostOpError, operation

_NAME = "MSExchangeMitigation"
_START_ERROR = ("Service 'Microsoft Exchange Emergency Mitigation Service (MSExchangeMitigation)' cannot be started "
                "due to the following error: Cannot start service MSExchangeMitigation on computer '.'.")


@operation("Set-MitigationServiceState")
def set_mitigation_service_state(ctx, args):
    server = ctx.server
    service = server["services"].get(_NAME)
    if service is None:
        raise HostOpError("Cannot find any service with service name '%s'." % _NAME,
                          "Microsoft.PowerShell.Commands.ServiceCommandException")
    changed, steps = False, []
    start_mode = args.get("start_mode")
    if start_mode and service["start_mode"] != start_mode:
        service["start_mode"] = start_mode
        changed = True
        steps.append({"step": "StartType", "outcome": start_mode})
    now = ctx.clock.now()
    started = restarted = False
    start_error = None
    wants_start = service["state"] != "Running" and args.get("start")
    wants_restart = service["state"] == "Running" and args.get("restart")
    if wants_start or wants_restart:
        if service["start_mode"] == "Disabled":
            start_error = "Service '%s' cannot be started: it is disabled." % _NAME
        elif _NAME in (server["faults"].get("services_fail_start") or []):
            service["state"] = "Stopped"
            start_error = _START_ERROR
        else:
            service["state"] = "Running"
            server["eems"]["next_check"] = now.isoformat()
            # A moment the fault matrix can cut at (unreachable_at): the
            # controller is about to wait for this start's check events.
            ctx.lab.note_transition(server, "mitigation_service_started")
        changed = True
        if start_error is None:
            started, restarted = bool(wants_start), bool(wants_restart)
        steps.append({"step": "Restart-Service" if wants_restart else "Start-Service",
                      "outcome": "failed" if start_error else "done"})
    return {"changed": changed, "steps": steps,
            "data": {"name": _NAME, "start_mode": service["start_mode"], "state": service["state"], "started": started,
                     "restarted": restarted, "checked_from": now.isoformat(), "start_error": start_error}}
