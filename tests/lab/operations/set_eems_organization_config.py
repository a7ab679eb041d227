"""Model of Set-EemsOrganizationConfig.ps1: the organisation-wide EEMS flag.

Every real write is counted in the organisation's ``mitigations_set_count``
so tests can prove the flag was set once per organisation, not per host.
"""
from __future__ import annotations

from .. import value_forms
from ..ems import open_exchange_session
from . import HostOpError, operation


@operation("Set-EemsOrganizationConfig")
def set_eems_organization_config(ctx, args):
    open_exchange_session(ctx, args)
    org = ctx.state.organization(ctx.server["organization"])
    if not value_forms.has_eems_properties(ctx.server["build"]):
        raise HostOpError("This Exchange build has no organisation MitigationsEnabled setting (it came with the "
                          "September 2021 CUs); open the session on a newer server. Nothing was changed.")
    wanted = bool(args.get("mitigations_enabled"))
    before = bool(org["mitigations_enabled"])
    changed = before != wanted
    if changed:
        org["mitigations_enabled"] = wanted
        org["mitigations_set_count"] = int(org.get("mitigations_set_count") or 0) + 1
    return {"changed": changed,
            "data": {"organization_name": org["name"], "before": before, "after": bool(org["mitigations_enabled"])},
            "steps": [{"step": "Set-OrganizationConfig -MitigationsEnabled",
                       "outcome": "done" if changed else "already set"}]}
