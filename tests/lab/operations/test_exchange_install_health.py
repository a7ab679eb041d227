"""Model of Test-ExchangeInstallHealth.ps1: build, services, web.config
tokens and component states after an install."""
from __future__ import annotations

from .. import builds, installer
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
        "setup_watermark": ({"role": server["setup_watermark"].split(":")[0], "watermark": server["setup_watermark"],
                             "action": "BuildToBuildUpgrade"} if server.get("setup_watermark") else None),
        "setup_log": _setup_log(server),
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


def _setup_log(server):
    """The last verdict line of ExchangeSetup.log, from the lab's last Setup run."""
    task = server.get(installer.TASK_KEY) or {}
    if task.get("log_path") != installer.SETUP_LOG:
        return None
    verdicts = [line for line in task.get("log") or []
                if "setup operation completed successfully" in line.lower() or "didn't complete" in line.lower()]
    return {"path": installer.SETUP_LOG, "last_verdict_line": verdicts[-1] if verdicts else None}
