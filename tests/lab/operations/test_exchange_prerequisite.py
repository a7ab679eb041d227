"""Model of Test-ExchangePrerequisite.ps1: WinRM listeners, the EMS session,
the account's Exchange roles per cmdlet, and what the server can reach.

Roles come from ``data/rbac.yml`` and the server's ``ems_role_groups``
(``ems_scope_excluded_role_groups``: groups whose write scope leaves the
server out);
reachability from the server's ``blocked_urls`` (a firewall in the way), the
fleet's ``ocs.reachable`` for the Office Config Service, and a real HTTP
request for everything else (the lab repository)."""
from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request

import yaml

from ..ems import open_exchange_session
from ..fleet import is_edge
from ..staging import repository_dir
from . import HostOpError, operation

_RBAC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "rbac.yml")
# What Invoke-WebRequest reports when nothing answers (System.Net.WebException).
_NO_CONNECTION = "Unable to connect to the remote server"
_OCS_HOST = "officeclient.microsoft.com"


def _rbac():
    with open(_RBAC, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _roles(ctx, args):
    rbac = _rbac()
    ems = (args or {}).get("ems") or {}
    groups = sorted(g for g in ctx.server.get("ems_role_groups") or [] if g in rbac["role_groups"])
    assigned = sorted({role for group in groups for role in rbac["role_groups"][group]})
    result = {"account": str(ems.get("username") or "LAB\\ansible"), "read": False, "error": None,
              "assigned": assigned, "role_groups": groups, "cmdlets": [], "writable_here": None, "scope_error": None}
    if "View-Only Configuration" not in assigned and "Role Management" not in assigned:
        # What the EMS session says for a cmdlet outside the account's roles.
        result.update(assigned=[], role_groups=[], error="The term 'Get-ManagementRoleAssignment' is not recognized "
                      "as the name of a cmdlet, function, script file, or operable program.")
        return result
    # -WritableServer: a role group whose assignments carry a custom write
    # scope that leaves this server out (ems_scope_excluded_role_groups)
    # gives no writable role here.
    excluded = set(ctx.server.get("ems_scope_excluded_role_groups") or [])
    result["writable_here"] = sorted({role for group in groups if group not in excluded
                                      for role in rbac["role_groups"][group]})
    for cmdlet in (args or {}).get("cmdlets") or []:
        holding = sorted(role for role, cmdlets in rbac["roles"].items() if str(cmdlet) in cmdlets)
        granting = [role for role in holding if role in assigned]
        result["cmdlets"].append({"cmdlet": str(cmdlet), "granted": bool(granting), "granting_roles": granting,
                                  "roles_with_cmdlet": holding})
    result["read"] = True
    return result


def _endpoint(ctx, endpoint):
    url = str((endpoint or {}).get("url") or "")
    result = {"name": str((endpoint or {}).get("name") or ""), "url": url, "reachable": False, "status_code": None,
              "error": None}
    if any(url.lower().startswith(str(prefix).lower()) for prefix in ctx.server.get("blocked_urls") or []):
        result["error"] = _NO_CONNECTION
        return result
    if url.startswith("\\\\"):
        # Any share stands for the lab repository (the lab has no SMB server).
        try:
            directory = repository_dir(ctx, url.rsplit("\\", 1)[0])
        except HostOpError as error:
            result["error"] = str(error)
            return result
        result["reachable"] = os.path.exists(os.path.join(directory, url.rsplit("\\", 1)[-1]))
        if not result["reachable"]:
            result["error"] = "The path %s cannot be reached from this server." % url
        return result
    if not url.lower().startswith(("http://", "https://")):
        result["error"] = "The address %s is neither an http(s):// URL nor a \\\\server\\share path." % url
        return result
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host == _OCS_HOST or url.startswith(ctx.lab.ocs_url.rsplit("/", 1)[0]):
        # The lab never goes to the internet: the fleet says whether OCS answers.
        if ctx.state.data["ocs"].get("reachable", True):
            result.update(reachable=True, status_code=200)
        else:
            result["error"] = _NO_CONNECTION
        return result
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            result.update(reachable=True, status_code=int(response.status))
    except urllib.error.HTTPError as error:
        result.update(reachable=True, status_code=int(error.code),
                      error="The remote server returned an error: (%d) %s." % (error.code, error.reason))
    except (OSError, ValueError):
        result["error"] = _NO_CONNECTION
    return result


@operation("Test-ExchangePrerequisite")
def test_exchange_prerequisite(ctx, args):
    args = args or {}
    server = ctx.server
    tls = ctx.state.data["lab"].get("tls", True)
    credential = server.get("local_account") or ctx.state.data["lab"]["credential"]
    data = {
        "computer_name": server["name"].upper(),
        "edge_transport": is_edge(server),
        "winrm": {"account": credential["username"], "local_admin": True,
                  "listeners": [{"transport": "HTTPS" if tls else "HTTP", "port": 5986 if tls else 5985,
                                 "address": "*", "enabled": True}]},
        "ems": {"available": False, "mode": str((args.get("ems") or {}).get("mode", "remote")), "error": None},
        "roles": {"account": str((args.get("ems") or {}).get("username") or credential["username"]), "read": False,
                  "error": None, "assigned": [], "role_groups": [], "cmdlets": [], "writable_here": None,
                  "scope_error": None},
        "endpoints": [],
    }
    try:
        open_exchange_session(ctx, args)
        data["ems"]["available"] = True
        if is_edge(server):
            data["roles"]["error"] = ("This is an Edge Transport server: it has no role-based access control; the "
                                      "local Administrators group manages it.")
        else:
            data["roles"] = _roles(ctx, args)
    except HostOpError as error:
        data["ems"]["error"] = str(error)
    data["endpoints"] = [_endpoint(ctx, e) for e in args.get("endpoints") or [] if e is not None]
    return {"changed": False, "data": data}
