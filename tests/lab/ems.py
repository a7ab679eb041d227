"""Exchange Management Shell access as a WinRM network logon really sees it.

A WinRM logon with Basic/NTLM holds no credential it could pass on, so
anything that must reach Active Directory again (every Exchange cmdlet)
fails - the "second hop".  The supported way out is an explicit remote
session to the server's own /PowerShell endpoint opened with a credential
sent as data; the unsupported snap-in is allowed only when asked for.
"""
from __future__ import annotations

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


def open_exchange_session(ctx, args):
    """Check ``args['ems']`` the way a real host would react to it.

    Returns a short description of the session used; raises HostOpError with
    the text a real server gives when no usable credential was supplied.
    """
    server = ctx.server
    fqdn = "%s.%s" % (server["name"].lower(), server["domain"])
    ems = (args or {}).get("ems") or {}
    mode = ems.get("mode", "remote")
    if mode == "snapin":
        return {"mode": "snapin"}
    if mode != "remote":
        raise HostOpError("Unknown Exchange Management Shell mode %r" % (mode,), "System.ArgumentException")
    username, password = ems.get("username"), ems.get("password")
    if not username or not password:
        raise HostOpError(SECOND_HOP_TEXT.format(fqdn=fqdn),
                          "System.Management.Automation.Remoting.PSRemotingTransportException")
    if not ctx.lab.host_backend.authenticate(server["name"], username, password):
        raise HostOpError(ACCESS_DENIED_TEXT.format(fqdn=fqdn),
                          "System.Management.Automation.Remoting.PSRemotingTransportException")
    return {"mode": "remote", "uri": "http://%s/PowerShell" % fqdn}
