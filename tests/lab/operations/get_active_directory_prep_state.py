"""Model of Get-ActiveDirectoryPrepState.ps1: the organisation container's
objectVersion and the CU build of every Exchange server of the organisation,
read through Exchange cmdlets only; the schema level is not readable that
way and is answered as null with the reason."""
from __future__ import annotations

from .. import builds, value_forms
from ..ems import open_exchange_session
from . import operation

SCHEMA_UNREADABLE = (
    "The schema level (rangeUpper of ms-Exch-Schema-Version-Pt) is shown by no Exchange cmdlet; reading it needs an "
    "LDAP bind, which from a WinRM logon is the second hop. Setup checks it itself; compare it with Microsoft's table "
    "\"Exchange Server Active Directory versions\" if you need it.")


@operation("Get-ActiveDirectoryPrepState")
def get_active_directory_prep_state(ctx, args):
    open_exchange_session(ctx, args)
    org = ctx.state.organization(ctx.server["organization"])
    members = [s for s in ctx.state.servers() if s["organization"] == org["name"]]
    # AdminDisplayVersion names the CU; ConvertTo-VersionText makes it dotted.
    servers = [{"name": s["name"].upper(), "build": builds.cu_release_build(s["build"])} for s in members]
    # objectVersion follows the newest CU that prepared AD: the servers' own
    # CUs and every /PrepareAD the lab's Setup ran (real values per CU).
    prepared = [s["build"] for s in members] + [run["build"] for run in org.get("ad_prep_runs") or [] if run.get("build")]
    return {"changed": False, "data": {
        "organization": org["name"],
        "schema_version": None,
        "organization_version": value_forms.organization_object_version(prepared),
        "servers": servers,
        "unreadable": {"schema_version": SCHEMA_UNREADABLE},
    }}
