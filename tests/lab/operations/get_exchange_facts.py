"""Model of Get-ExchangeFacts.ps1: one read of everything about a server."""
from __future__ import annotations

from .. import builds, iis, value_forms
from ..ems import effective_mode, open_exchange_session
from ..fleet import is_edge
from . import HostOpError, operation

def _installed_updates(server):
    if server["installed_packages"]:
        return [{"display_name": p, "installed": ""} for p in server["installed_packages"]]
    row = builds.update_for(server["build"])
    if row and row["kind"] in ("SU", "HU") and row["kb"]:
        return [{"display_name": "Security Update for %s (%s)" % (row["update_name"], row["kb"]), "installed": ""}]
    return []


# The Uninstall entries each Visual C++ runtime package writes (its x64
# Minimum and Additional Runtime MSIs, as in CSS-Exchange's Health Checker
# test data, Diagnostics/HealthChecker/Tests/DataCollection/E19/OS/).
_VC_YEARS = {"vcredist2012": "2012", "vcredist2013": "2013"}


def _setup_prerequisites(server):
    """Get-SetupPrerequisiteState: the runtimes and UCMA the fleet installed."""
    installed = server["setup_prerequisites"]
    runtimes = []
    for package, year in sorted(_VC_YEARS.items()):
        version = installed.get(package)
        if not version:
            continue
        major, minor, build = (int(part) for part in version.split(".")[:3])
        for kind in ("Minimum", "Additional"):
            runtimes.append({"display_name": "Microsoft Visual C++ %s x64 %s Runtime - %s" % (year, kind, version),
                             "display_version": version, "version_number": (major << 24) | (minor << 16) | build})
    ucma = installed.get("ucma4")
    return {"vc_redistributables": runtimes,
            "ucma": {"installed": bool(ucma), "version": ucma or None, "source": "ucma_key" if ucma else None}}


def _rewrite_rules(server):
    # No IIS on an Edge Transport server: WebAdministration cannot load.
    return None if is_edge(server) else iis.flat_rules(server)


def _exchange_facts(ctx):
    server = ctx.server
    state = ctx.state
    org = state.organization(server["organization"])
    components = dict({"ServerWideOffline": "Active", "HubTransport": "Active"}, **server["component_states"])
    copies = []
    for db in state.databases_on(server["name"]):
        copy = db["copies"][server["name"]]
        active = db["active"] == server["name"]
        copies.append({
            "database": db["name"],
            "status": "Mounted" if active else copy["status"],
            "active": active,
            "activation_preference": copy["activation_preference"],
            "copy_queue_length": copy["copy_queue_length"],
            "replay_queue_length": copy["replay_queue_length"],
        })
    cu_build = builds.cu_release_build(server["build"]).split(".")
    proxy = server.get("proxy") or {}
    edge = is_edge(server)
    # Builds before the September 2021 CUs (and 2013) have no EEMS properties:
    # the script answers null for each (data/exchange_value_forms.yml); on
    # Edge it reads no organisation and no EEMS setting at all.
    eems = value_forms.has_eems_properties(server["build"]) and not edge
    return {
        "admin_display_version": "Version %s.%s (Build %s.%s)" % tuple(cu_build),
        "roles": list(server["roles"]),
        "edition": server["edition"],
        # An Edge server belongs to no AD site of the organisation.
        "site": "" if edge else "lab.contoso.test/Configuration/Sites/%s" % server["site"],
        "dag": server["dag"],
        "server_mitigations_enabled": bool(server["eems"]["server_enabled"]) if eems else None,
        "mitigations_blocked": list(server["eems"]["blocked"]) if eems else None,
        "mitigations_applied": list(server["eems"]["applied"]) if eems else None,
        "data_collection_enabled": bool(server["eems"]["data_collection"]) if eems else None,
        "internet_web_proxy": None if edge else proxy.get("url") or "",
        "organization_name": None if edge else org["name"],
        "organization_mitigations_enabled": bool(org["mitigations_enabled"]) if eems else None,
        "component_states": [{"component": k, "state": v} for k, v in sorted(components.items())],
        "database_copies": copies,
    }


@operation("Get-ExchangeFacts")
def get_exchange_facts(ctx, args):
    server = ctx.server
    faults = server["faults"]
    if faults.get("disk_full"):
        free_disk = 0.0
    else:
        free_disk = float(server["free_disk_gb"])
    services = [{"name": name, "start_mode": svc["start_mode"], "state": svc["state"]}
                for name, svc in sorted(server["services"].items())]
    watermark = server["setup_watermark"]
    events = [{"id": e["id"], "level": e["level"], "time": e["time"], "message": e["message"]}
              for e in reversed(server["events"][-20:])]
    facts = {
        "computer_name": server["name"].upper(),
        "fqdn": "%s.%s" % (server["name"].upper(), server["domain"]),
        "edge_transport": is_edge(server),
        "setup": {
            "install_path": "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\",
            "exsetup_path": "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\ExSetup.exe",
            "exsetup_version": builds.long_form(server["build"]),
            "msi_build": builds.cu_release_build(server["build"]),
        },
        "installed_updates": _installed_updates(server),
        "setup_watermark": ({"role": watermark.split(":")[0], "watermark": watermark, "action": "BuildToBuildUpgrade"}
                            if watermark else None),
        "os": {"caption": "Microsoft " + server["os"], "version": "10.0.17763"},
        "dotnet_release": server["dotnet_release"],
        "system_drive": "C:",
        "free_disk_gb": round(free_disk, 1),
        "last_boot": server["last_boot"],
        "pending_reboot": _pending_reboot(server),
        "services": services,
        "url_rewrite": iis.url_rewrite_state(server),
        "setup_prerequisites": _setup_prerequisites(server),
        "rewrite_rules": _rewrite_rules(server),
        "mitigation_events": events,
        "ems": {"available": False, "mode": effective_mode(server, args), "error": None},
        "exchange": None,
    }
    try:
        open_exchange_session(ctx, args)
        facts["exchange"] = _exchange_facts(ctx)
        facts["ems"]["available"] = True
    except HostOpError as error:
        facts["ems"]["error"] = str(error)
    return {"changed": False, "data": facts}


def _pending_reboot(server):
    """Get-PendingRebootReason: the registry markers Windows and Exchange
    Setup use, UpdateExeVolatile among them."""
    reasons = list(server["pending_reboot_reasons"]) or (
        ["PendingFileRenameOperations"] if server["pending_reboot"] else [])
    if server.get("update_exe_volatile") and "UpdateExeVolatile" not in reasons:
        reasons.append("UpdateExeVolatile")
    return {"pending": bool(reasons), "reasons": reasons}
