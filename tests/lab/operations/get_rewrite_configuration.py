"""Model of Get-RewriteConfiguration.ps1: the rewrite sections of Default Web
Site and its applications (with remove/clear entries), the URL Rewrite
module, the ExSetup build and the backups kept on the server. Reads only."""
from __future__ import annotations

from .. import builds, iis
from ..fleet import is_edge
from . import operation


@operation("Get-RewriteConfiguration")
def get_rewrite_configuration(ctx, args):
    server = ctx.server
    if is_edge(server):
        # No IIS on Edge: the script answers without reading any site.
        return {"changed": False, "data": {
            "computer_name": server["name"].upper(), "edge_transport": True, "site": "Default Web Site",
            "applications": [], "locations": [], "apphost": None, "url_rewrite": iis.url_rewrite_state(server),
            "exsetup_version": builds.long_form(server["build"]), "backups": []}}
    data = iis.read(server)
    data["edge_transport"] = False
    data["url_rewrite"] = iis.url_rewrite_state(server)
    data["exsetup_version"] = builds.long_form(server["build"])
    data["computer_name"] = server["name"].upper()
    return {"changed": False, "data": data}
