# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.mitigation: interim URL Rewrite mitigations.

Read (Get-RewriteConfiguration) -> judge and plan on the controller
(_mitigations, the build catalog) -> in check mode stop and report -> install
URL Rewrite if allowed and needed -> block EEMS-owned rules' IDs before they
are removed -> apply the change list (Set-RewriteRules backs up first and
restores on failure) -> read again and fail unless nothing is left to do.
"""
from __future__ import annotations

from ansible_collections.onprem.exchange.plugins.plugin_utils._bounds import MAX_LOCATION
from ansible_collections.onprem.exchange.plugins.plugin_utils import _edge as edge
from ansible_collections.onprem.exchange.plugins.plugin_utils import _mitigation_plan as task
from ansible_collections.onprem.exchange.plugins.plugin_utils import _mitigations as mit
from ansible_collections.onprem.exchange.plugins.plugin_utils._edge import is_edge_transport
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import ExchangeBuild, ExchangeBuildError
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import (
    CONNECTION_LOST,
    EMS_ARGUMENT_SPEC,
    HostActionBase,
    lost_after,
)

ARGUMENT_SPEC = dict(EMS_ARGUMENT_SPEC, **{
    "name": {"type": "str", "aliases": ["cve"]},
    "state": {"type": "str", "choices": ["present", "absent", "auto", "restored"], "default": "auto"},
    "repair": {"type": "bool", "default": False},
    "remove_after_fix": {"type": "bool", "default": False},
    # Names the backup to put back; "backup" alone reads, in Ansible, as
    # "make a backup", so that spelling is only a deprecated alias.
    "restore_from": {"type": "str", "default": "latest", "aliases": ["backup"],
                     "deprecated_aliases": [{"name": "backup", "version": "2.0.0",
                                             "collection_name": "onprem.exchange"}]},
    "install_url_rewrite": {"type": "bool", "default": False},
    "repository_url": {"type": "str"},
    "url_rewrite_package": {"type": "str"},
})


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    # The repository as update_stage bounds it; a package file name and a
    # backup's name as resume_installer (one file name).
    TEXT_BOUNDS = {"repository_url": MAX_LOCATION, "url_rewrite_package": 255, "restore_from": 255}

    def _ex_run(self, args, result):
        if args["state"] == "restored":
            result.update(self._ex_restore(args))
            return result
        if not args.get("name"):
            raise self._ex_error(task.NAME_REQUIRED)
        with self._ex_failing(mit.MitigationError):
            data = mit.load_definitions()
            definitions = mit.select(data, args["name"])

        raw = self._ex_host_call("Get-RewriteConfiguration", {})["data"]
        if is_edge_transport(raw):
            # Not applicable, not a failure: no IIS site on Edge.
            result.update(edge.mitigation_result(self._ex_host, raw.get("exsetup_version")))
            return result
        config = mit.configuration_from_host(raw)
        build = raw.get("exsetup_version")
        if not build:
            raise self._ex_error("Exchange is not installed (no ExSetup.exe), so no mitigation applies")
        catalog = self._ex_catalog()
        with self._ex_failing(ExchangeBuildError):
            fixes = task.code_fixes(definitions, ExchangeBuild.parse(build), catalog)
        with self._ex_failing(mit.MitigationError, suffix=". Nothing was changed."):
            planned = task.task_plan(data, definitions, fixes, config, args["state"], args["remove_after_fix"],
                                     args["repair"], build=build)
        changes, blocks, targets = planned["changes"], planned["blocks"], planned["targets"]
        requirements = data["url_rewrite"]
        rewrite = raw.get("url_rewrite") or {}
        with self._ex_failing(mit.MitigationError):
            need = task.url_rewrite_decision(changes, rewrite, requirements, args["install_url_rewrite"],
                                             args.get("repository_url"), args.get("url_rewrite_package"))
        install = need["install"]
        warnings = ["%s: %s" % (self._ex_host, w) for w in planned["warnings"] + task.eems_block_warnings(blocks)]

        changed = bool(changes) or install
        result.update(
            changed=changed,
            build=build,
            rule_changes=changes,
            changes=[mit.describe_change(config["site"], c) for c in changes],
            eems_blocked=blocks,
            backup=None,
            url_rewrite=task.rewrite_summary(rewrite, requirements, install),
        )
        if changed and self._task.diff:
            result["diff"] = mit.render_diff(config["site"], config, planned["planned"], changes)
        if not changed or self._task.check_mode:
            result["mitigations"] = task.protection_entries(data, definitions, fixes, targets, config,
                                                            planned["planned"])
            result["findings"] = task.all_findings(result["mitigations"], planned["planned"])
            if warnings and changed:
                result["warnings"] = warnings
            return result

        done = []
        try:
            if install:
                self._ex_host_call("Install-UrlRewriteModule", {
                    "repository_url": args["repository_url"], "package": need["package"],
                    "min_version": requirements["min_version"], "min_file_version": requirements["min_file_version"],
                    "signers": requirements.get("signers") or []})
                done.append("URL Rewrite installed")
            if blocks:
                self._ex_block(blocks, args)
                done.append("EEMS mitigation(s) %s blocked" % ", ".join(blocks))
            if changes:
                reason = "onprem.exchange.mitigation %s state=%s" % (args["name"], args["state"])
                applied = self._ex_host_call("Set-RewriteRules", {"changes": changes, "reason": reason})
                result["backup"] = applied["data"].get("backup")
                done.append("rewrite rules changed (%s; backup %s)" % (
                    "; ".join(result["changes"]), (result["backup"] or {}).get("id") or "none"))

            after_raw = self._ex_host_call("Get-RewriteConfiguration", {})["data"]
        except CONNECTION_LOST as error:
            if not done:
                raise
            raise lost_after(error, done, "run again to confirm the configuration") from None
        after = mit.configuration_from_host(after_raw)
        result["url_rewrite"] = task.rewrite_summary(after_raw.get("url_rewrite"), requirements, install)
        leftover = task.leftover_changes(data, definitions, targets, after, repair=args["repair"])
        if leftover:
            raise self._ex_error(task.not_converged_message(after["site"], leftover, result["backup"]))
        result["mitigations"] = task.protection_entries(data, definitions, fixes, targets, config, after)
        result["findings"] = task.all_findings(result["mitigations"], after)
        if warnings:
            result["warnings"] = warnings
        return result

    # -- steps ---------------------------------------------------------------

    def _ex_block(self, blocks, args):
        ems = self._ex_ems_args(args)
        state = self._ex_host_call("Get-EemsState", {"ems": ems})["data"]
        with self._ex_failing(mit.MitigationError):
            lists = task.blocked_list_with(state, blocks)
        if lists:
            self._ex_host_call("Set-EemsServerConfig", {"ems": ems, "settings": {"mitigations_blocked": lists["wanted"]},
                                                        "expected_blocked": lists["current"]})

    def _ex_restore(self, args):
        raw = self._ex_host_call("Get-RewriteConfiguration", {})["data"]
        if is_edge_transport(raw):
            return edge.mitigation_result(self._ex_host, raw.get("exsetup_version"))
        with self._ex_failing(mit.MitigationError):
            outcome = task.choose_backup(raw.get("backups"), args["restore_from"])
        chosen = outcome["backup"]
        outcome["restored_files"] = []
        if not outcome["changed"] or self._task.check_mode:
            return outcome
        restored = self._ex_host_call("Restore-RewriteConfiguration", {"backup": chosen["id"]})["data"]
        outcome["restored_files"] = restored.get("restored_files") or []
        again = self._ex_host_call("Get-RewriteConfiguration", {})["data"]
        with self._ex_failing(mit.MitigationError):
            task.restore_verified(again.get("backups"), chosen["id"])
        return outcome
