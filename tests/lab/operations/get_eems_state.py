"""Model of Get-EemsState.ps1: EEMS flags, lists, service and events of one server."""
from __future__ import annotations

from .. import builds, value_forms
from ..ems import effective_mode, open_exchange_session
from ..fleet import is_edge
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
        "edge_transport": is_edge(server),
        "setup": {"exsetup_version": builds.long_form(server["build"])},
        "setup_watermark": watermark or None,
        "services": ([{"name": "MSExchangeMitigation", "start_mode": service["start_mode"], "state": service["state"]}]
                     if service is not None else []),
        "mitigation_events": [{"id": e["id"], "level": e["level"], "time": e["time"], "message": e["message"]}
                              for e in reversed(server["events"][-20:])],
        "ems": {"available": False, "mode": effective_mode(server, args), "error": None},
        "exchange": None,
    }
    if is_edge(server):
        # The script opens no session on Edge: nothing EEMS-related lives there.
        return {"changed": False, "data": state}
    try:
        open_exchange_session(ctx, args)
    except HostOpError as error:
        state["ems"]["error"] = str(error)
        return {"changed": False, "data": state}
    proxy = server.get("proxy") or {}
    # null where the build has no EEMS properties (data/exchange_value_forms.yml).
    eems = value_forms.has_eems_properties(server["build"])
    state["exchange"] = {
        "roles": list(server["roles"]),
        "organization_name": org["name"],
        "organization_mitigations_enabled": bool(org["mitigations_enabled"]) if eems else None,
        "server_mitigations_enabled": bool(server["eems"]["server_enabled"]) if eems else None,
        "mitigations_blocked": list(server["eems"]["blocked"]) if eems else None,
        "mitigations_applied": list(server["eems"]["applied"]) if eems else None,
        "data_collection_enabled": bool(server["eems"]["data_collection"]) if eems else None,
        "internet_web_proxy": proxy.get("url") or "",
    }
    state["ems"]["available"] = True
    return {"changed": False, "data": state}
