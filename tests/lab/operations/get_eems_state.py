"""Model of Get-EemsState.ps1: EEMS flags, lists, service and events of one server."""
from __future__ import annotations

from .. import builds
from ..ems import open_exchange_session
from . import HostOpError, operation


@operation("Get-EemsState")
def get_eems_state(ctx, args):
    server = ctx.server
    org = ctx.state.organization(server["organization"])
    service = server["services"].get("MSExchangeMitigation")
    watermark = server["setup_watermark"]
    state = {
        "now": ctx.clock.now().isoformat(),
        "computer_name": server["name"].upper(),
        "setup": {"exsetup_version": builds.long_form(server["build"])},
        "setup_watermark": watermark or None,
        "services": ([{"name": "MSExchangeMitigation", "start_mode": service["start_mode"], "state": service["state"]}]
                     if service is not None else []),
        "mitigation_events": [{"id": e["id"], "level": e["level"], "time": e["time"], "message": e["message"]}
                              for e in reversed(server["events"][-20:])],
        "ems": {"available": False, "mode": str(((args or {}).get("ems") or {}).get("mode", "remote")), "error": None},
        "exchange": None,
    }
    try:
        open_exchange_session(ctx, args)
    except HostOpError as error:
        state["ems"]["error"] = str(error)
        return {"changed": False, "data": state}
    proxy = server.get("proxy") or {}
    state["exchange"] = {
        "roles": list(server["roles"]),
        "organization_name": org["name"],
        "organization_mitigations_enabled": bool(org["mitigations_enabled"]),
        "server_mitigations_enabled": bool(server["eems"]["server_enabled"]),
        "mitigations_blocked": list(server["eems"]["blocked"]),
        "mitigations_applied": list(server["eems"]["applied"]),
        "data_collection_enabled": bool(server["eems"]["data_collection"]),
        "internet_web_proxy": proxy.get("url") or "",
    }
    state["ems"]["available"] = True
    return {"changed": False, "data": state}
