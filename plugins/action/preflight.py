# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.preflight: is this server ready, and what to fix.

Runs every read-only host operation and Test-ExchangePrerequisite on one
server; each answer goes through the controller's contract check like any
other, and a failed or off-contract answer becomes a finding of this server
instead of failing the task.  The judgement lives in plugin_utils/_readiness.
Nothing on the host changes, in check mode or not.
"""
from __future__ import annotations

import secrets

from ansible.errors import AnsibleActionFail

from ansible_collections.onprem.exchange.plugins.plugin_utils._bounds import MAX_LOCATION, MAX_WINDOWS_FOLDER, host_argument_problem
from ansible_collections.onprem.exchange.plugins.plugin_utils._edge import is_edge_transport
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import EMS_ARGUMENT_SPEC, HostActionBase
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import ExchangeBuildError
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import CatalogError
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import HostCallError, run_host_operation
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_facts import planner_facts
from ansible_collections.onprem.exchange.plugins.plugin_utils._readiness import (
    DEFAULT_MIN_FREE_DISK_GB,
    DEFAULT_OCS_URL,
    READ_OPERATIONS,
    all_cmdlets,
    eems_proxy,
    judge,
    option_problem,
    read_calls,
    server_summary,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._staging import manifest_url
from ansible_collections.onprem.exchange.plugins.plugin_utils._update_planner import PlanInputError, check_target, plan_update

ARGUMENT_SPEC = dict(EMS_ARGUMENT_SPEC, **{
    "repository_url": {"type": "str"},
    "repository_username": {"type": "str"},
    "repository_password": {"type": "str", "no_log": True},
    "ocs_url": {"type": "str", "default": DEFAULT_OCS_URL},
    "staging_dir": {"type": "str", "default": "C:\\ExchangeUpdates"},
    "min_free_disk_gb": {"type": "float", "default": DEFAULT_MIN_FREE_DISK_GB},
    # The patch job's target: whether patching runs Exchange Setup here (a CU
    # or the SE upgrade) decides how a missing Setup prerequisite counts.
    "target": {"type": "str", "default": "latest"},
    "esu_enrolled": {"type": "bool", "default": False},
})


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    # The bounds update_stage applies to the same options.
    TEXT_BOUNDS = {"staging_dir": MAX_WINDOWS_FOLDER, "repository_url": MAX_LOCATION, "repository_username": 256,
                   "ocs_url": MAX_LOCATION}

    def _ex_read(self, operation, op_args):
        # The same backstop as every other host call (_ex_host_call): these
        # reads are sent directly so that one failing read does not stop the others.
        problem = host_argument_problem(op_args)
        if problem:
            raise self._ex_error("the %s argument %s; nothing was sent to the server" % (operation, problem))
        try:
            answer = run_host_operation(self._connection, operation, op_args)
        except HostCallError as error:
            return {"ok": False, "data": None, "error": str(error), "kind": error.kind}
        return {"ok": True, "data": answer["data"], "error": None, "kind": None}

    def _ex_plan(self, args, target, facts):
        """The planner's output toward the patch target, or None when it
        cannot be made (no Exchange build read, a catalog or build it
        refuses): the judge then treats Setup as possibly planned."""
        if not facts or not (facts.get("setup") or {}).get("exsetup_version"):
            return None
        try:
            catalog = self._ex_catalog()
        except AnsibleActionFail:
            return None
        policy = {"target": target, "esu_enrolled": args["esu_enrolled"], "installer_format": "msp"}
        try:
            return plan_update(planner_facts(facts), policy, today=self._ex_today(None), catalog=catalog)
        except (PlanInputError, CatalogError, ExchangeBuildError):
            return None

    def _ex_run(self, args, result):
        problem = option_problem(args)
        if problem:
            raise self._ex_error(problem)
        try:
            target = check_target(args["target"])
        except PlanInputError as error:
            raise self._ex_error("option target: %s" % error) from None
        ems = self._ex_ems_args(args)
        repository = {"url": args.get("repository_url") or "", "username": args.get("repository_username"),
                      "password": args.get("repository_password")}
        token = secrets.token_hex(8)
        calls = read_calls(ems, args["staging_dir"], repository, token)
        answers = {}
        for operation in READ_OPERATIONS:
            if operation == "Get-RepositoryManifest" and not repository["url"]:
                continue
            if operation == "Get-ActiveDirectoryPrepState" and is_edge_transport(
                    (answers.get("Get-ExchangeFacts") or {}).get("data")):
                continue  # an Edge server is outside the domain: no AD preparation is ever read for it
            answers[operation] = self._ex_read(operation, calls[operation])
        identity = answers["Get-HostIdentity"]
        if identity["ok"] and identity["data"].get("token") != token:
            identity.update(ok=False, data=None, kind="malformed",
                            error="host operation Get-HostIdentity answered with a stale or foreign token")
        endpoints = [{"name": "ocs", "url": args["ocs_url"], "use_credential": False,
                      "proxy": eems_proxy(answers)}]
        if repository["url"]:
            endpoints.insert(0, {"name": "repository", "url": manifest_url(repository["url"]),
                                 "use_credential": True, "proxy": None})
        prereq = self._ex_read("Test-ExchangePrerequisite", {
            "ems": ems, "cmdlets": all_cmdlets(), "endpoints": endpoints, "repository": repository})
        answers["Test-ExchangePrerequisite"] = prereq
        facts_answer = answers["Get-ExchangeFacts"]
        plan = self._ex_plan(args, target, facts_answer["data"] if facts_answer["ok"] else None)
        verdict = judge(answers, prereq["data"], repository_url=repository["url"] or None,
                        min_free_disk_gb=args["min_free_disk_gb"], plan=plan)
        facts = answers["Get-ExchangeFacts"]["data"] or {}
        result.update(
            changed=False,
            readiness=verdict["status"],
            jobs=verdict["jobs"],
            findings=verdict["findings"],
            server=server_summary(facts, prereq["data"]),
            answers={name: {"ok": a["ok"], "error": a["error"]} for name, a in answers.items()},
        )
        return result
