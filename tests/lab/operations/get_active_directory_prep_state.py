"""Model of Get-ActiveDirectoryPrepState.ps1: schema and organisation
levels and the build of every Exchange server of the organisation."""
from __future__ import annotations

from .. import builds
from ..ems import open_exchange_session
from . import operation

# Lab stand-ins for rangeUpper / objectVersion: any numbers would do, the
# controller only reports them.
_SCHEMA_BASE, _ORG_BASE = 15000, 16000


@operation("Get-ActiveDirectoryPrepState")
def get_active_directory_prep_state(ctx, args):
    open_exchange_session(ctx, args)
    org = ctx.state.organization(ctx.server["organization"])
    servers = [{"name": s["name"].upper(), "build": builds.cu_release_build(s["build"])}
               for s in ctx.state.servers() if s["organization"] == org["name"]]
    runs = len(org.get("ad_prep_runs") or [])
    return {"changed": False, "data": {
        "organization": org["name"],
        "schema_version": _SCHEMA_BASE + runs,
        "organization_version": _ORG_BASE + runs,
        "servers": servers,
    }}
