"""Model of Get-HostIdentity.ps1: the connection check."""
from ..fleet import is_edge
from . import operation

_OS_VERSIONS = {
    "Windows Server 2012 R2": "6.3.9600",
    "Windows Server 2016": "10.0.14393",
    "Windows Server 2019": "10.0.17763",
    "Windows Server 2022": "10.0.20348",
    "Windows Server 2025": "10.0.26100",
}


@operation("Get-HostIdentity")
def get_host_identity(ctx, args):
    server = ctx.server
    caption = "Microsoft " + server["os"]
    version = next((v for k, v in _OS_VERSIONS.items() if server["os"].startswith(k)), "10.0.17763")
    return {
        "changed": False,
        "data": {
            "computer_name": server["name"].upper(),
            # The fleet's domain is the primary DNS suffix; an Edge server is
            # outside the domain, so Win32_ComputerSystem.Domain is its workgroup.
            "fqdn": "%s.%s" % (server["name"].upper(), server["domain"]),
            "domain": "WORKGROUP" if is_edge(server) else server["domain"],
            "os_caption": caption,
            "os_version": version,
            "last_boot": server["last_boot"],
            "local_time": ctx.clock.iso(),
            "powershell_version": "5.1.17763.1",
            "token": str((args or {}).get("token", "")),
        },
    }
