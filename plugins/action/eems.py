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

import datetime
import time

from ansible.errors import AnsibleActionFail

from ansible_collections.onprem.exchange.plugins.plugin_utils import _edge as edge
from ansible_collections.onprem.exchange.plugins.plugin_utils._edge import is_edge_transport
from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_settings import (
    EemsSettingsError, check_is_due, desired_settings, diff_for, eems_installed, mitigation_service,
    plan_changes, settings_view, stale_disabled_notice)
from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_status import (
    REMEDIES, judge_check, judge_eems, remedy_with_plan)
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import ExchangeBuildError
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import (
    CatalogError,
    catalog_files_from,
    load_catalog,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import (
    CONNECTION_LOST,
    EMS_ARGUMENT_SPEC,
    HostActionBase,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._update_planner import PlanInputError, plan_update

ARGUMENT_SPEC = dict(EMS_ARGUMENT_SPEC, **{
    "organization_mitigations_enabled": {"type": "bool"},
    "mitigations_enabled": {"type": "bool"},
    "mitigations_blocked": {"type": "list", "elements": "str"},
    "mitigations_blocked_mode": {"type": "str", "choices": ["add", "remove", "exact"], "default": "add"},
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

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self._ex_validate()
        host = (task_vars or {}).get("inventory_hostname", "host")
        try:
            desired = desired_settings(args)
            today = datetime.date.fromisoformat(args["today"]) if args.get("today") else datetime.date.today()
        except EemsSettingsError as error:
            raise AnsibleActionFail("%s: %s" % (host, error)) from None
        except ValueError:
            raise AnsibleActionFail("%s: today=%r is not an ISO date (YYYY-MM-DD)" % (host, args["today"])) from None
        if args["verify_timeout"] < 0 or args["verify_interval"] <= 0:
            raise AnsibleActionFail("%s: verify_timeout must be 0 or more and verify_interval more than 0" % host)
        if args["verify"] and args["verify_timeout"] == 0:
            raise AnsibleActionFail("%s: verify=true needs a verify_timeout above 0 to wait for the check" % host)
        ems = self._ex_ems_args(args)

        before = self._ex_host_call("Get-EemsState", {"ems": ems}, task_vars)["data"]
        if is_edge_transport(before):
            # Not applicable, not a failure: no Mitigation Service on Edge.
            result.update(edge.eems_result(host, judge_eems(before), (before.get("setup") or {}).get("exsetup_version")))
            return result
        classification, plan = self._ex_classify(before, args, today, host, task_vars)
        try:
            change_plan = plan_changes(before, desired)
        except EemsSettingsError as error:
            raise AnsibleActionFail("%s: %s" % (host, error)) from None
        before_verdict = judge_eems(before, classification)
        wants_check = self._ex_wants_check(args, before, change_plan, before_verdict, classification)

        result.update(
            changed=bool(change_plan["changes"]) or wants_check,
            changes=change_plan["changes"],
            left_alone=change_plan["left_alone"],
            organization=self._ex_org_result(before, desired, change_plan, host, None),
        )
        if self._task.diff:
            result["diff"] = diff_for(before, change_plan["changes"])
        if self._task.check_mode:
            verdict = self._ex_final_verdict(before, classification, plan)
            result.update(settings=settings_view(before), eems=verdict,
                          verification={"performed": False, "forced_check": wants_check,
                                        "reason": "check mode: the check would be forced" if wants_check
                                        else "check mode"})
            result["msg"] = self._ex_message(host, result, verdict, check_mode=True)
            return result

        done = []
        try:
            return self._ex_apply(result, before, change_plan, wants_check, classification, plan, desired, args, ems,
                                  host, task_vars, done)
        except CONNECTION_LOST as error:
            # The same kind (unreachable or failed), now saying what this run
            # had already applied, so the summary does not read as "nothing done".
            if not done:
                raise
            raise type(error)("%s. Applied before the connection was lost: %s; run again to confirm that EEMS "
                              "works" % (error, "; ".join(done)))._ex_lost(error.operation, error.tries) from None

    def _ex_apply(self, result, before, change_plan, wants_check, classification, plan, desired, args, ems, host,
                  task_vars, done):
        """The writes, the re-read and the verification; ``done`` collects
        what was applied, for a connection lost part-way."""
        org_outcome = None
        if change_plan["organization"] is not None:
            org_outcome = self._ex_host_call(
                "Set-EemsOrganizationConfig", dict(change_plan["organization"], ems=ems), task_vars)
            done.append("organisation settings written")
        if change_plan["server"]:
            self._ex_host_call("Set-EemsServerConfig", {
                "ems": ems, "settings": change_plan["server"],
                "expected_blocked": (before.get("exchange") or {}).get("mitigations_blocked")
                if "mitigations_blocked" in change_plan["server"] else None}, task_vars)
            done.append("server settings written (%s)" % ", ".join(sorted(change_plan["server"])))
        service_outcome = None
        if change_plan["service"] is not None or wants_check:
            wanted = change_plan["service"] or {}
            service_outcome = self._ex_host_call("Set-MitigationServiceState", {
                "start_mode": wanted.get("start_mode"), "start": bool(wanted.get("start")),
                "restart": wants_check and not wanted.get("start")}, task_vars)["data"]
            if service_outcome.get("started") or service_outcome.get("restarted"):
                done.append("Mitigation Service %s" % ("started" if service_outcome.get("started") else "restarted"))
            elif wanted.get("start_mode"):
                done.append("Mitigation Service start type set to %s" % wanted["start_mode"])

        after = self._ex_host_call("Get-EemsState", {"ems": ems}, task_vars)["data"]
        result["organization"] = self._ex_org_result(after, desired, change_plan, host, org_outcome)
        result["settings"] = settings_view(after)
        if org_outcome is not None and not org_outcome["changed"]:
            # Another host of this organisation set it between our read and write.
            result["changes"] = [c for c in result["changes"] if c["scope"] != "organization"]
            result["changed"] = bool(result["changes"]) or wants_check
        start_error = (service_outcome or {}).get("start_error")
        remaining = plan_changes(after, desired)["changes"]
        if remaining:
            verdict = self._ex_final_verdict(after, classification, plan, start_error=start_error)
            result.update(failed=True, eems=verdict, verification={"performed": False, "forced_check": False,
                                                                   "reason": "settings did not converge"})
            result["msg"] = "%s: EEMS settings did not converge: %s.%s%s" % (
                host, "; ".join("%s %s is %r, wanted %r" % (c["scope"], c["setting"], c["before"], c["after"])
                                for c in remaining),
                " %s" % start_error if start_error else "",
                " Remedy: %s" % verdict["remedy"] if verdict.get("remedy") else "")
            return result

        verification = {"performed": False, "forced_check": False, "reason": "nothing changed and verify is false"}
        fresh = None
        if service_outcome is not None and (service_outcome.get("started") or service_outcome.get("restarted")):
            fresh, verification = self._ex_wait_for_check(after, service_outcome, args, ems, task_vars,
                                                          classification)
        elif wants_check:
            verification["reason"] = "the check could not be forced (service not running)"
        verdict = self._ex_final_verdict(after, classification, plan, fresh=fresh)
        result.update(eems=verdict, verification=verification)
        result["msg"] = self._ex_message(host, result, verdict)
        return result

    # -- steps ----------------------------------------------------------------
    def _ex_classify(self, state, args, today, host, task_vars=None):
        """The catalog's view of the build and the planner's route to both EEMS
        cut-offs (for the remedy); (None, None) when there is no build."""
        build = (state.get("setup") or {}).get("exsetup_version")
        if not build:
            raise AnsibleActionFail("%s: Exchange is not installed (no ExSetup.exe under the MsiInstallPath)" % host)
        try:
            catalog = load_catalog(extra=catalog_files_from(task_vars, self._templar))
            classification = catalog.classify(build, today).to_dict()
            facts = {"build": build, "roles": (state.get("exchange") or {}).get("roles") or ["Mailbox"],
                     "setup_watermark": state.get("setup_watermark")}
            # The remedy names the smallest change that restores EEMS.
            plan = plan_update(facts, {"target": "eems_minimal", "esu_enrolled": args["esu_enrolled"]},
                               today=today, catalog=catalog)
        except (ExchangeBuildError, PlanInputError, CatalogError) as error:
            raise AnsibleActionFail("%s: %s" % (host, error)) from None
        return classification, plan

    @staticmethod
    def _ex_wants_check(args, state, change_plan, verdict, classification):
        """Whether this run forces a Mitigation Service check.  Only where one
        can run: EEMS installed, Setup finished, service running (or about to)."""
        if not eems_installed(state) or state.get("setup_watermark") or args["verify_timeout"] == 0:
            return False
        service = mitigation_service(state) or {}
        will_run = service.get("state") == "Running" or bool((change_plan["service"] or {}).get("start"))
        if not will_run:
            return False
        exchange = state.get("exchange") or {}
        org_on = dict((c["setting"], c["after"]) for c in change_plan["changes"] if c["scope"] == "organization") \
            .get("MitigationsEnabled", exchange.get("organization_mitigations_enabled"))
        server_on = change_plan["server"].get("mitigations_enabled", exchange.get("server_mitigations_enabled"))
        if exchange and not (org_on and server_on):
            return False  # switched off: a check would only say so
        return bool(args["verify"] or change_plan["changes"] or check_is_due(state, verdict, classification))

    def _ex_wait_for_check(self, state, service_outcome, args, ems, task_vars, classification=None):
        """Poll the events the forced check writes, at most verify_timeout seconds."""
        since = service_outcome["checked_from"]
        deadline = time.monotonic() + args["verify_timeout"]
        polls = 0
        while True:
            polls += 1
            events = self._ex_host_call("Get-MitigationServiceEvent", {"since": since}, task_vars)["data"]["events"]
            finished = time.monotonic() >= deadline
            verdict = judge_check(events, checked_from=since, finished=False, classification=classification)
            if verdict is None and finished:
                applied_before = (state.get("exchange") or {}).get("mitigations_applied")
                latest = self._ex_host_call("Get-EemsState", {"ems": ems}, task_vars)["data"]
                verdict = judge_check(events, applied_before, (latest.get("exchange") or {}).get("mitigations_applied"),
                                      checked_from=since, finished=True, classification=classification)
            if verdict is not None:
                return verdict, {"performed": True, "forced_check": True, "checked_from": since, "polls": polls,
                                 "reason": "service %s" % ("started" if service_outcome.get("started")
                                                           else "restarted to force a check")}
            time.sleep(min(args["verify_interval"], max(0.0, deadline - time.monotonic())))

    @staticmethod
    def _ex_final_verdict(state, classification, plan, fresh=None, start_error=None):
        if start_error:
            verdict = {"status": "not_working", "cause": "service_will_not_start",
                       "remedy": REMEDIES["service_will_not_start"], "evidence": start_error}
        elif state.get("setup_watermark") and eems_installed(state):
            verdict = {"status": "not_working", "cause": "setup_incomplete", "remedy": REMEDIES["setup_incomplete"],
                       "evidence": "Setup watermark %s" % state["setup_watermark"]}
        elif fresh is not None:
            verdict = dict(fresh)
        else:
            verdict = judge_eems(state, classification)
            if verdict["status"] == "working" and stale_disabled_notice(state):
                verdict = {"status": "unknown", "cause": "no_evidence", "remedy": REMEDIES["no_evidence"],
                           "evidence": "the newest event predates switching EEMS on: %s"
                                       % state["mitigation_events"][0].get("message")}
        if verdict["cause"]:
            verdict["remedy"] = remedy_with_plan(verdict["cause"], plan)
        verdict["build"] = classification.get("build") if classification else None
        return verdict

    @staticmethod
    def _ex_org_result(state, desired, change_plan, host, outcome):
        exchange = state.get("exchange") or {}
        name = exchange.get("organization_name")
        wanted = desired.get("organization_mitigations_enabled")
        entry = {"name": name, "mitigations_enabled": exchange.get("organization_mitigations_enabled"),
                 "managed": wanted is not None, "changed": False}
        if wanted is None:
            entry["message"] = "organisation-wide flag not managed by this task"
        elif entry["mitigations_enabled"] is None:
            # A build before the September 2021 CUs has no such property: this
            # server can neither read nor set the flag.
            entry["message"] = ("organisation %s: this server's Exchange build has no MitigationsEnabled setting; a "
                                "server from 2016 CU22 / 2019 CU11 on reads and sets it" % (name,))
        elif change_plan["organization"] is None:
            entry["message"] = ("organisation %s already has MitigationsEnabled=%s; it is organisation-wide, so "
                                "nothing was sent" % (name, wanted))
        elif outcome is None:
            entry["message"] = "organisation %s: MitigationsEnabled would be set to %s by %s" % (name, wanted, host)
        elif outcome["changed"]:
            entry.update(changed=True, set_by=host,
                         message="organisation %s: MitigationsEnabled set to %s by %s, once for the whole "
                                 "organisation" % (name, wanted, host))
        else:
            entry["message"] = ("organisation %s: MitigationsEnabled was already %s when %s came to set it "
                                "(set meanwhile by another host)" % (name, wanted, host))
        return entry

    @staticmethod
    def _ex_message(host, result, verdict, check_mode=False):
        text = "%s: EEMS %s" % (host, verdict["status"].replace("_", " "))
        if verdict.get("cause"):
            text += " (%s)" % verdict["cause"].replace("_", " ")
        if result.get("changes"):
            text += "; %d setting(s) %s" % (len(result["changes"]), "would change" if check_mode else "changed")
        return text
