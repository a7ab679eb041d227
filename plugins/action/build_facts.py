# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.build_facts: gather, classify, plan.

One host call (Get-ExchangeFacts) collects the facts; everything after that
happens on the controller: the catalog classifies the build, the planner
turns facts and policy into steps, and the EEMS judge says whether the
Mitigation Service can work.  Nothing on the host changes.
"""
from __future__ import annotations

from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_status import judge_eems
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import CatalogError
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import ExchangeBuildError
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import EMS_ARGUMENT_SPEC, HostActionBase
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_facts import (
    local_findings,
    plan_policy,
    planner_facts,
    setup_prerequisite_findings,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._update_planner import (
    PlanInputError,
    check_target,
    plan_update,
)

ARGUMENT_SPEC = dict(EMS_ARGUMENT_SPEC, **{
    "target": {"type": "str", "default": "latest"},
    "esu_enrolled": {"type": "bool", "default": False},
    "min_free_disk_gb": {"type": "float"},
    "installer_format": {"type": "str", "choices": ["msp", "exe"], "default": "msp"},
    "available_media": {"type": "list", "elements": "str"},
    "today": {"type": "str"},
    "services_meant_off": {"type": "list", "elements": "str", "default": []},
})


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _ex_run(self, args, result):
        today = self._ex_today(args.get("today"))
        # A target nobody can plan for fails here, before the host is contacted.
        try:
            target = check_target(args["target"])
        except PlanInputError as error:
            raise self._ex_error("option target: %s" % error) from None
        policy = plan_policy(args, target)
        # The catalog (with the inventory's extra catalog files) is checked before the host is contacted.
        catalog = self._ex_catalog()

        raw = self._ex_host_call("Get-ExchangeFacts", {"ems": self._ex_ems_args(args)})["data"]
        facts = planner_facts(raw)
        if not facts["build"]:
            raise self._ex_error("Exchange is not installed (no ExSetup.exe under the MsiInstallPath)")
        with self._ex_failing(ExchangeBuildError, PlanInputError, CatalogError):
            classification = catalog.classify(facts["build"], today).to_dict()
            plan = plan_update(facts, policy, today=today, catalog=catalog)
        eems = judge_eems(raw, classification)
        findings = (list(plan.get("findings") or []) + local_findings(raw, eems, args["services_meant_off"])
                    + setup_prerequisite_findings(raw, plan))
        exchange = dict(raw)
        exchange.update(build=classification.get("build"), build_info=classification, eems_status=eems,
                        gathered_on=today.isoformat())
        result.update(changed=False, ansible_facts={"exchange": exchange}, findings=findings, plan=plan)
        return result
