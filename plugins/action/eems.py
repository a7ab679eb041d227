# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.eems: EEMS switched on, and seen working.

Read (Get-EemsState) -> difference (_eems_settings, pure) -> in check mode
stop and predict -> apply only the difference (organisation flag, server
settings, service) -> read again and fail if not converged -> force a check
(restart the Mitigation Service) and wait, bounded, for its evidence -> the
verdict with its cause and remedy (_eems_status).
"""
from __future__ import annotations

import time

from ansible_collections.onprem.exchange.plugins.plugin_utils import _edge as edge
from ansible_collections.onprem.exchange.plugins.plugin_utils._bounds import MAX_LOCATION
from ansible_collections.onprem.exchange.plugins.plugin_utils import _eems_task as decide
from ansible_collections.onprem.exchange.plugins.plugin_utils._edge import is_edge_transport
from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_settings import (
    EemsSettingsError, desired_settings, diff_for, legacy_blocked_args, plan_changes, settings_view)
from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_status import judge_check, judge_eems
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import ExchangeBuildError
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import CatalogError
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import (
    CONNECTION_LOST,
    EMS_ARGUMENT_SPEC,
    HostActionBase,
    lost_after,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._update_planner import PlanInputError, plan_update

_IDS = {"type": "list", "elements": "str"}
ARGUMENT_SPEC = dict(EMS_ARGUMENT_SPEC, **{
    "organization_mitigations_enabled": {"type": "bool"},
    "mitigations_enabled": {"type": "bool"},
    # The shape of microsoft.ad's list options (add/remove/set).
    "mitigations_blocked": {"type": "dict", "options": {"add": dict(_IDS), "remove": dict(_IDS), "set": dict(_IDS)}},
    "data_collection_enabled": {"type": "bool"},
    "internet_web_proxy": {"type": "str"},
    "service_running": {"type": "bool"},
    "verify": {"type": "bool", "default": False},
    "verify_timeout": {"type": "int", "default": 900},
    "verify_interval": {"type": "float", "default": 15.0},
    "esu_enrolled": {"type": "bool", "default": False},
    "today": {"type": "str"},
})


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    # A proxy URL's host part has no length limit in its pattern: bounded as
    # any location given to a host.
    TEXT_BOUNDS = {"internet_web_proxy": MAX_LOCATION}

    def _ex_validate(self):
        # The pre-1.0 form (a list with mitigations_blocked_mode) still works,
        # rewritten to the current one before validation, with a deprecation.
        self._ex_vars = getattr(self, "_ex_vars", None) or {}
        with self._ex_failing(EemsSettingsError):
            args, deprecation = legacy_blocked_args(dict(self._task.args))
        if deprecation:
            self._task.args = args
            self._display.deprecated(deprecation, version="2.0.0", collection_name="onprem.exchange")
        return super()._ex_validate()

    def _ex_run(self, args, result):
        host = self._ex_host
        with self._ex_failing(EemsSettingsError):
            desired = desired_settings(args)
        today = self._ex_today(args.get("today"))
        with self._ex_failing(EemsSettingsError):
            decide.check_verify_options(args["verify"], args["verify_timeout"], args["verify_interval"])
        ems = self._ex_ems_args(args)

        before = self._ex_host_call("Get-EemsState", {"ems": ems})["data"]
        if is_edge_transport(before):
            # Not applicable, not a failure: no Mitigation Service on Edge.
            result.update(edge.eems_result(host, judge_eems(before), (before.get("setup") or {}).get("exsetup_version")))
            return result
        classification, plan = self._ex_classify(before, args, today)
        with self._ex_failing(EemsSettingsError):
            change_plan = plan_changes(before, desired)
        before_verdict = judge_eems(before, classification)
        wants_check = decide.wants_forced_check(before, change_plan, before_verdict, classification,
                                                args["verify"], args["verify_timeout"])

        result.update(
            changed=bool(change_plan["changes"]) or wants_check,
            changes=change_plan["changes"],
            left_alone=change_plan["left_alone"],
            organization=decide.organization_entry(before, desired, change_plan, host, None),
        )
        if self._task.diff:
            result["diff"] = diff_for(before, change_plan["changes"])
        if self._task.check_mode:
            verdict = decide.final_verdict(before, classification, plan)
            result.update(settings=settings_view(before), eems=verdict,
                          verification={"performed": False, "forced_check": wants_check,
                                        "reason": "check mode: the check would be forced" if wants_check
                                        else "check mode"})
            result["msg"] = decide.run_message(host, result["changes"], verdict, check_mode=True)
            return result

        done = []
        try:
            return self._ex_apply(result, before, change_plan, wants_check, classification, plan, desired, args, ems,
                                  done)
        except CONNECTION_LOST as error:
            if not done:
                raise
            raise lost_after(error, done, "run again to confirm that EEMS works") from None

    def _ex_apply(self, result, before, change_plan, wants_check, classification, plan, desired, args, ems, done):
        """The writes, the re-read and the verification; ``done`` collects
        what was applied, for a connection lost part-way."""
        host = self._ex_host
        org_outcome = None
        if change_plan["organization"] is not None:
            org_outcome = self._ex_host_call("Set-EemsOrganizationConfig", dict(change_plan["organization"], ems=ems))
            done.append("organisation settings written")
        if change_plan["server"]:
            self._ex_host_call("Set-EemsServerConfig", {
                "ems": ems, "settings": change_plan["server"],
                "expected_blocked": (before.get("exchange") or {}).get("mitigations_blocked")
                if "mitigations_blocked" in change_plan["server"] else None})
            done.append("server settings written (%s)" % ", ".join(sorted(change_plan["server"])))
        service_outcome = None
        if change_plan["service"] is not None or wants_check:
            wanted = change_plan["service"] or {}
            service_outcome = self._ex_host_call("Set-MitigationServiceState", {
                "start_mode": wanted.get("start_mode"), "start": bool(wanted.get("start")),
                "restart": wants_check and not wanted.get("start")})["data"]
            if service_outcome.get("started") or service_outcome.get("restarted"):
                done.append("Mitigation Service %s" % ("started" if service_outcome.get("started") else "restarted"))
            elif wanted.get("start_mode"):
                done.append("Mitigation Service start type set to %s" % wanted["start_mode"])

        after = self._ex_host_call("Get-EemsState", {"ems": ems})["data"]
        result["organization"] = decide.organization_entry(after, desired, change_plan, host, org_outcome)
        result["settings"] = settings_view(after)
        result["changes"] = decide.without_raced_organization(result["changes"], org_outcome)
        result["changed"] = bool(result["changes"]) or wants_check
        start_error = (service_outcome or {}).get("start_error")
        remaining = plan_changes(after, desired)["changes"]
        if remaining:
            verdict = decide.final_verdict(after, classification, plan, start_error=start_error)
            result.update(failed=True, eems=verdict, verification={"performed": False, "forced_check": False,
                                                                   "reason": "settings did not converge"})
            result["msg"] = decide.not_converged_message(host, remaining, verdict, start_error)
            return result

        verification = {"performed": False, "forced_check": False, "reason": "nothing changed and verify is false"}
        fresh = None
        if service_outcome is not None and (service_outcome.get("started") or service_outcome.get("restarted")):
            fresh, verification = self._ex_wait_for_check(after, service_outcome, args, ems, classification)
        elif wants_check:
            verification["reason"] = "the check could not be forced (service not running)"
        verdict = decide.final_verdict(after, classification, plan, fresh=fresh)
        result.update(eems=verdict, verification=verification)
        result["msg"] = decide.run_message(host, result["changes"], verdict)
        return result

    # -- steps ----------------------------------------------------------------
    def _ex_classify(self, state, args, today):
        """The catalog's view of the build and the planner's route to both EEMS
        cut-offs (for the remedy)."""
        facts = decide.route_facts(state)
        if not facts["build"]:
            raise self._ex_error("Exchange is not installed (no ExSetup.exe under the MsiInstallPath)")
        catalog = self._ex_catalog()
        with self._ex_failing(ExchangeBuildError, PlanInputError, CatalogError):
            classification = catalog.classify(facts["build"], today).to_dict()
            # The remedy names the smallest change that restores EEMS.
            plan = plan_update(facts, {"target": "eems_minimal", "esu_enrolled": args["esu_enrolled"]},
                               today=today, catalog=catalog)
        return classification, plan

    def _ex_wait_for_check(self, state, service_outcome, args, ems, classification=None):
        """Poll the events the forced check writes, at most verify_timeout seconds."""
        since = service_outcome["checked_from"]
        deadline = time.monotonic() + args["verify_timeout"]
        polls = 0
        while True:
            polls += 1
            events = self._ex_host_call("Get-MitigationServiceEvent", {"since": since})["data"]["events"]
            finished = time.monotonic() >= deadline
            verdict = judge_check(events, checked_from=since, finished=False, classification=classification)
            if verdict is None and finished:
                applied_before = (state.get("exchange") or {}).get("mitigations_applied")
                latest = self._ex_host_call("Get-EemsState", {"ems": ems})["data"]
                verdict = judge_check(events, applied_before, (latest.get("exchange") or {}).get("mitigations_applied"),
                                      checked_from=since, finished=True, classification=classification)
            if verdict is not None:
                return verdict, {"performed": True, "forced_check": True, "checked_from": since, "polls": polls,
                                 "reason": "service %s" % ("started" if service_outcome.get("started")
                                                           else "restarted to force a check")}
            time.sleep(min(args["verify_interval"], max(0.0, deadline - time.monotonic())))
