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

from ansible.errors import AnsibleActionFail

from ansible_collections.onprem.exchange.plugins.plugin_utils import _edge as edge
from ansible_collections.onprem.exchange.plugins.plugin_utils import _mitigations as mit
from ansible_collections.onprem.exchange.plugins.plugin_utils._edge import is_edge_transport
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

ARGUMENT_SPEC = dict(EMS_ARGUMENT_SPEC, **{
    "name": {"type": "str", "aliases": ["cve"]},
    "state": {"type": "str", "choices": ["present", "absent", "auto", "restored"], "default": "auto"},
    "repair": {"type": "bool", "default": False},
    "remove_after_fix": {"type": "bool", "default": False},
    "backup": {"type": "str", "default": "latest"},
    "install_url_rewrite": {"type": "bool", "default": False},
    "repository_url": {"type": "str"},
    "url_rewrite_package": {"type": "str"},
})


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self._ex_validate()
        host = (task_vars or {}).get("inventory_hostname", "host")
        if args["state"] == "restored":
            result.update(self._ex_restore(args, host, task_vars))
            return result
        if not args.get("name"):
            raise AnsibleActionFail("%s: name (a mitigation, a CVE such as CVE-2022-41040, or all) is required "
                                    "unless state=restored" % host)
        try:
            data = mit.load_definitions()
            definitions = mit.select(data, args["name"])
        except mit.MitigationError as error:
            raise AnsibleActionFail("%s: %s" % (host, error)) from None

        raw = self._ex_host_call("Get-RewriteConfiguration", {}, task_vars)["data"]
        if is_edge_transport(raw):
            # Not applicable, not a failure: no IIS site on Edge.
            result.update(edge.mitigation_result(host, raw.get("exsetup_version")))
            return result
        config = mit.configuration_from_host(raw)
        build = raw.get("exsetup_version")
        if not build:
            raise AnsibleActionFail("%s: Exchange is not installed (no ExSetup.exe), so no mitigation applies" % host)
        try:
            catalog = load_catalog(extra=catalog_files_from(task_vars, self._templar))
            fixes = [mit.code_fix_status(d, build, catalog) for d in definitions]
        except (ExchangeBuildError, CatalogError) as error:
            raise AnsibleActionFail("%s: %s" % (host, error)) from None

        warnings = []
        planned, changes, blocks = config, [], []
        targets = []
        try:
            for definition, fix in zip(definitions, fixes):
                target = mit.resolve_state(args["state"], fix,
                                           mit.keeps_after_fix(definition, args["remove_after_fix"]))
                targets.append(target)
                if args["state"] == "auto" and fix is None:
                    warnings.append("%s: cannot tell from build %s whether the code fix for %s is installed; keeping "
                                    "the mitigation in place" % (host, build, definition["cve"]))
                step = mit.plan(data, [definition], planned, target, repair=args["repair"])
                planned = step["after"]
                changes += step["changes"]
                blocks += [b for b in step["eems_block"] if b not in blocks]
        except mit.MitigationError as error:
            raise AnsibleActionFail("%s: %s. Nothing was changed." % (host, error)) from None

        rewrite = raw.get("url_rewrite") or {}
        minimum = data["url_rewrite"]["min_version"]
        rewrite_ok, rewrite_text = mit.url_rewrite_ready(rewrite, data["url_rewrite"])
        install = any(c["op"].startswith("add") for c in changes) and not rewrite_ok
        package = args.get("url_rewrite_package") or data["url_rewrite"].get("package")
        if install and not args["install_url_rewrite"]:
            raise AnsibleActionFail(
                "%s: the IIS URL Rewrite module is %s; the mitigation needs URL Rewrite 2.1 (product version %s, "
                "rewrite.dll %s) or later. Set install_url_rewrite=true (with repository_url) to install %s from "
                "the internal repository, or install it yourself. Nothing was changed."
                % (host, rewrite_text, minimum, data["url_rewrite"]["min_file_version"], package))
        if install and not args.get("repository_url"):
            raise AnsibleActionFail("%s: install_url_rewrite=true needs repository_url (the internal package "
                                    "repository, e.g. exchange_repository_url). Nothing was changed." % host)

        for ident in blocks:
            warnings.append(
                "%s: the rule for EEMS mitigation %s is owned by the Mitigation Service; %s is added to the server's "
                "MitigationsBlocked before the rule is removed, or EEMS would put it back within the hour. Remove "
                "it from MitigationsBlocked (Set-ExchangeServer -MitigationsBlocked) if EEMS should manage it again."
                % (host, ident, ident))

        changed = bool(changes) or install
        result.update(
            changed=changed,
            build=build,
            rule_changes=changes,
            changes=[mit.describe_change(config["site"], c) for c in changes],
            eems_blocked=blocks,
            backup=None,
            url_rewrite=self._ex_rewrite_summary(rewrite, data, install),
        )
        if changed and self._task.diff:
            result["diff"] = mit.render_diff(config["site"], config, planned, changes)
        if not changed or self._task.check_mode:
            result["mitigations"] = self._ex_report(data, definitions, fixes, targets, config, planned)
            result["findings"] = self._ex_findings(result["mitigations"], planned)
            if warnings and changed:
                result["warnings"] = warnings
            return result

        done = []
        try:
            if install:
                self._ex_host_call("Install-UrlRewriteModule", {
                    "repository_url": args["repository_url"], "package": package, "min_version": minimum,
                    "min_file_version": data["url_rewrite"]["min_file_version"],
                    "signers": data["url_rewrite"].get("signers") or []}, task_vars)
                done.append("URL Rewrite installed")
            if blocks:
                self._ex_block(blocks, args, host, task_vars)
                done.append("EEMS mitigation(s) %s blocked" % ", ".join(blocks))
            if changes:
                reason = "onprem.exchange.mitigation %s state=%s" % (args["name"], args["state"])
                applied = self._ex_host_call("Set-RewriteRules", {"changes": changes, "reason": reason}, task_vars)
                result["backup"] = applied["data"].get("backup")
                done.append("rewrite rules changed (%s; backup %s)" % (
                    "; ".join(result["changes"]), (result["backup"] or {}).get("id") or "none"))

            after_raw = self._ex_host_call("Get-RewriteConfiguration", {}, task_vars)["data"]
        except CONNECTION_LOST as error:
            # The same kind (unreachable or failed), now saying what this run
            # had already applied, so the report does not read as "nothing done".
            if not done:
                raise
            raise type(error)("%s. Applied before the connection was lost: %s; run again to confirm the "
                              "configuration" % (error, "; ".join(done)))._ex_lost(error.operation, error.tries) \
                from None
        after = mit.configuration_from_host(after_raw)
        result["url_rewrite"] = self._ex_rewrite_summary(after_raw.get("url_rewrite"), data, install)
        leftover = []
        for definition, target in zip(definitions, targets):
            leftover += mit.plan(data, [definition], after, target, repair=args["repair"])["changes"]
        if leftover:
            raise AnsibleActionFail(
                "%s: the rewrite configuration did not converge; still to do: %s. Backup %s holds the configuration "
                "from before this run (state=restored, backup=%s puts it back)."
                % (host, "; ".join(mit.describe_change(after["site"], c) for c in leftover),
                   (result["backup"] or {}).get("id"), (result["backup"] or {}).get("id")))
        result["mitigations"] = self._ex_report(data, definitions, fixes, targets, config, after)
        result["findings"] = self._ex_findings(result["mitigations"], after)
        if warnings:
            result["warnings"] = warnings
        return result

    # -- pieces ------------------------------------------------------------

    @staticmethod
    def _ex_rewrite_summary(rewrite, data, install):
        rewrite = rewrite or {}
        return {"installed": bool(rewrite.get("installed")), "product_version": rewrite.get("product_version"),
                "file_version": rewrite.get("file_version"), "min_version": data["url_rewrite"]["min_version"],
                "min_file_version": data["url_rewrite"]["min_file_version"], "install": install}

    @staticmethod
    def _ex_report(data, definitions, fixes, targets, before, after):
        report = []
        for definition, fix, target in zip(definitions, fixes, targets):
            was = mit.assess(data, definition, before)
            now = mit.assess(data, definition, after)
            if fix:
                protected_by = "code_fix"
            elif now["present"]:
                protected_by = "mitigation"
            else:
                protected_by = "nothing"
            report.append({
                "name": definition["name"], "cve": definition["cve"], "title": definition["title"],
                "state": target, "kept_after_fix": target == "keep" and mit.in_place(definition, after),
                "code_fix": fix, "present_before": was["present"], "present": now["present"],
                "protected_by": protected_by,
                "providers": [p for rule in now["rules"] for p in rule["providers"]],
                "findings_before": was["findings"], "findings": now["findings"],
                "side_effects": definition["side_effects"] if now["present"] else [],
            })
        return report

    @staticmethod
    def _ex_findings(report, config):
        findings = [f for entry in report for f in entry["findings"]]
        seen = {(f["rule"], f["path"]) for f in findings}
        findings += [f for f in mit.dangerous_rules(config) if (f["rule"], f["path"]) not in seen]
        return findings

    def _ex_block(self, blocks, args, host, task_vars):
        ems = self._ex_ems_args(args)
        state = self._ex_host_call("Get-EemsState", {"ems": ems}, task_vars)["data"]
        exchange = state.get("exchange")
        if not exchange:
            raise AnsibleActionFail(
                "%s: EEMS mitigation(s) %s must be blocked before their rules are removed, but the Exchange cmdlets "
                "could not be used: %s. Set ems_username/ems_password. Nothing was changed."
                % (host, ", ".join(blocks), (state.get("ems") or {}).get("error") or "no reason given"))
        current = list(exchange.get("mitigations_blocked") or [])
        wanted = current + [b for b in blocks if b.lower() not in {c.lower() for c in current}]
        if wanted != current:
            self._ex_host_call("Set-EemsServerConfig", {"ems": ems, "settings": {"mitigations_blocked": wanted},
                                                        "expected_blocked": current}, task_vars)

    def _ex_restore(self, args, host, task_vars):
        raw = self._ex_host_call("Get-RewriteConfiguration", {}, task_vars)["data"]
        if is_edge_transport(raw):
            return edge.mitigation_result(host, raw.get("exsetup_version"))
        backups = raw.get("backups") or []
        wanted = args["backup"] or "latest"
        if not backups:
            raise AnsibleActionFail("%s: there is no rewrite configuration backup on this server to restore" % host)
        chosen = backups[-1] if wanted == "latest" else next((b for b in backups if b["id"] == wanted), None)
        if chosen is None:
            raise AnsibleActionFail("%s: backup %s does not exist; backups on this server: %s"
                                    % (host, wanted, ", ".join(b["id"] for b in backups)))
        if chosen.get("blocked_by"):
            raise AnsibleActionFail(
                "%s: %s has changed since backup %s was made and changed it; restoring it would undo those other "
                "changes too, so nothing is restored. Compare it with its copy in the backup and put the rewrite "
                "entries back by hand." % (host, chosen["blocked_by"], chosen["id"]))
        outcome = {"changed": not chosen.get("matches_current"), "backup": chosen, "restored_files": []}
        if not outcome["changed"] or self._task.check_mode:
            return outcome
        restored = self._ex_host_call("Restore-RewriteConfiguration", {"backup": chosen["id"]}, task_vars)["data"]
        outcome["restored_files"] = restored.get("restored_files") or []
        again = self._ex_host_call("Get-RewriteConfiguration", {}, task_vars)["data"]
        check = next((b for b in again.get("backups") or [] if b["id"] == chosen["id"]), {})
        if not check.get("matches_current"):
            raise AnsibleActionFail("%s: after restoring backup %s the configuration still differs from it"
                                    % (host, chosen["id"]))
        return outcome
