"""Model of Set-EemsServerConfig.ps1: one Set-ExchangeServer call for the EEMS settings."""
from __future__ import annotations

from .. import builds, value_forms
from ..ems import open_exchange_session
from . import HostOpError, operation


def _id_set(items):
    return sorted({str(i).lower() for i in items or [] if i})


@operation("Set-EemsServerConfig")
def set_eems_server_config(ctx, args):
    open_exchange_session(ctx, args)
    server = ctx.server
    eems = server["eems"]
    settings = args.get("settings") or {}
    steps = []
    eems_properties = value_forms.has_eems_properties(server["build"])
    if settings and not eems_properties:
        cu = builds.cu_release_build(server["build"]).split(".")
        raise HostOpError("This Exchange build (Version %s.%s (Build %s.%s)) has no Emergency Mitigation Service "
                          "settings (they came with the September 2021 CUs); nothing was changed." % tuple(cu))
    if "mitigations_blocked" in settings and args.get("expected_blocked") is not None:
        if _id_set(eems["blocked"]) != _id_set(args["expected_blocked"]):
            raise HostOpError("MitigationsBlocked changed since it was read (now: %s); run the task again."
                              % ", ".join(_id_set(eems["blocked"])))
    if "mitigations_enabled" in settings:
        eems["server_enabled"] = bool(settings["mitigations_enabled"])
        steps.append({"step": "MitigationsEnabled", "outcome": "set"})
    if "mitigations_blocked" in settings:
        eems["blocked"] = [str(i) for i in settings["mitigations_blocked"] or []]
        steps.append({"step": "MitigationsBlocked", "outcome": "set"})
    if "data_collection_enabled" in settings:
        eems["data_collection"] = bool(settings["data_collection_enabled"])
        steps.append({"step": "DataCollectionEnabled", "outcome": "set"})
    if "internet_web_proxy" in settings:
        url = str(settings["internet_web_proxy"] or "")
        old = server.get("proxy") or {}
        # TLS inspection belongs to the proxy behind the URL: the same proxy
        # keeps inspecting, another one (or none) does not.
        server["proxy"] = ({"url": url, "tls_inspection": bool(old.get("tls_inspection")) and
                            old.get("url", "").rstrip("/").lower() == url.rstrip("/").lower()} if url else None)
        steps.append({"step": "InternetWebProxy", "outcome": "set"})
    proxy = server.get("proxy") or {}
    return {"changed": bool(steps),
            "data": {"server_mitigations_enabled": bool(eems["server_enabled"]) if eems_properties else None,
                     "mitigations_blocked": list(eems["blocked"]) if eems_properties else None,
                     "data_collection_enabled": bool(eems["data_collection"]) if eems_properties else None,
                     "internet_web_proxy": proxy.get("url") or ""},
            "steps": steps}
