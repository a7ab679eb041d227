"""Model of Test-ExchangeInstallHealth.ps1: build, services, web.config
tokens and component states after an install."""
from __future__ import annotations

from .. import builds
from ..ems import open_exchange_session
from . import HostOpError, operation


@operation("Test-ExchangeInstallHealth")
def test_exchange_install_health(ctx, args):
    server = ctx.server
    health = {
        "exsetup_version": builds.long_form(server["build"]),
        "services": [{"name": name, "start_mode": svc["start_mode"], "state": svc["state"]}
                     for name, svc in sorted(server["services"].items())],
        # Tests put file paths here to model an SU run without elevation.
        "web_config_tokens": list(server.get("web_config_tokens") or []),
        "components": None,
        "ems_error": None,
    }
    try:
        open_exchange_session(ctx, args)
        requesters = server.get("component_requesters") or {}
        states = dict({"ServerWideOffline": "Active", "HubTransport": "Active"}, **server["component_states"])
        health["components"] = [
            {"component": name, "state": state,
             # The maintenance procedure is the usual reason; a test can name another.
             "requesters": [] if state == "Active" else list(requesters.get(name) or ["Maintenance"])}
            for name, state in sorted(states.items())]
    except HostOpError as error:
        health["ems_error"] = str(error)
    return {"changed": False, "data": health}
