"""Exchange Management Shell access as a WinRM network logon really sees it.

A WinRM logon with Basic/NTLM holds no credential it could pass on, so
anything that must reach Active Directory again (every Exchange cmdlet)
fails - the "second hop".  The supported way out is an explicit remote
session to the server's own /PowerShell endpoint opened with a credential
sent as data; the unsupported snap-in is allowed only when asked for.
"""
from __future__ import annotations

from .fleet import is_edge
from .operations import HostOpError

SECOND_HOP_TEXT = (
    "Connecting to remote server {fqdn} failed with the following error message : "
    "WinRM cannot process the request. The following error with errorcode 0x80090311 occurred while "
    "using Kerberos authentication: There are currently no logon servers available to service the "
    "logon request. For more information, see the about_Remote_Troubleshooting Help topic."
)
ACCESS_DENIED_TEXT = (
    "Connecting to remote server {fqdn} failed with the following error message : "
    "Access is denied. For more information, see the about_Remote_Troubleshooting Help topic."
)


# Open-ExchangeSession's own refusal on an Edge Transport server (it has no
# /PowerShell virtual directory: no IIS on Edge, so a remote session has
# nothing to reach).
EDGE_REMOTE_TEXT = (
    "This is an Edge Transport server: it has no /PowerShell endpoint, so ems_mode=remote cannot reach its Exchange "
    "cmdlets. Use ems_mode=auto (the default), which loads the Edge management snap-ins on the server itself."
)


def effective_mode(server, args):
    """The mode Get-ExchangeFacts and Get-EemsState report: ``auto`` resolved."""
    mode = str(((args or {}).get("ems") or {}).get("mode") or "auto")
    if mode == "auto":
        return "local" if is_edge(server) else "remote"
    return mode


def open_exchange_session(ctx, args):
    """Check ``args['ems']`` the way a real host would react to it.

    Returns a short description of the session used; raises HostOpError with
    the text a real server gives when no usable credential was supplied.
    """
    server = ctx.server
    fqdn = "%s.%s" % (server["name"].lower(), server["domain"])
    ems = (args or {}).get("ems") or {}
    mode = ems.get("mode") or "auto"
    if mode not in ("auto", "remote", "snapin"):
        raise HostOpError("Unknown Exchange Management Shell mode %r" % (mode,), "System.ArgumentException")
    if is_edge(server):
        # The Edge snap-ins run in the WinRM process and read the local AD LDS
        # instance: no second hop, so no credential is needed.
        if mode == "remote":
            raise HostOpError(EDGE_REMOTE_TEXT, "System.Management.Automation.RuntimeException")
        return {"mode": "local"}
    if mode == "snapin":
        return {"mode": "snapin"}
    username, password = ems.get("username"), ems.get("password")
    if not username or not password:
        raise HostOpError(SECOND_HOP_TEXT.format(fqdn=fqdn),
                          "System.Management.Automation.Remoting.PSRemotingTransportException")
    if not ctx.lab.host_backend.authenticate(server["name"], username, password):
        raise HostOpError(ACCESS_DENIED_TEXT.format(fqdn=fqdn),
                          "System.Management.Automation.Remoting.PSRemotingTransportException")
    return {"mode": "remote", "uri": "http://%s/PowerShell" % fqdn}
