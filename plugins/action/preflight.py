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

import re
import secrets

from ansible.errors import AnsibleActionFail

from ansible_collections.onprem.exchange.plugins.plugin_utils._edge import is_edge_transport
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import EMS_ARGUMENT_SPEC, HostActionBase
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import HostCallError, run_host_operation
from ansible_collections.onprem.exchange.plugins.plugin_utils._readiness import (
    DEFAULT_MIN_FREE_DISK_GB,
    DEFAULT_OCS_URL,
    READ_OPERATIONS,
    all_cmdlets,
    judge,
)

ARGUMENT_SPEC = dict(EMS_ARGUMENT_SPEC, **{
    "repository_url": {"type": "str"},
    "repository_username": {"type": "str"},
    "repository_password": {"type": "str", "no_log": True},
    "ocs_url": {"type": "str", "default": DEFAULT_OCS_URL},
    "staging_dir": {"type": "str", "default": "C:\\ExchangeUpdates"},
    "min_free_disk_gb": {"type": "float", "default": DEFAULT_MIN_FREE_DISK_GB},
})

# The same rule update_stage applies to the folder.
_STAGING_DIR = re.compile(r"^[A-Za-z]:\\(?:[^\\/:*?\"<>|%]+\\?)*$")
_URL = re.compile(r"^(?:https?://[^\s]+|\\\\[^\\\s]+\\[^\s]+)$", re.IGNORECASE)


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _ex_check_args(self, args, host):
        if not _STAGING_DIR.match(args["staging_dir"]) or ".." in args["staging_dir"].split("\\"):
            raise AnsibleActionFail("%s: staging_dir %r must be an absolute local folder such as C:\\ExchangeUpdates"
                                    % (host, args["staging_dir"]))
        for option in ("repository_url", "ocs_url"):
            if args.get(option) and not _URL.match(args[option]):
                raise AnsibleActionFail("%s: %s %r must be an http(s):// URL or a \\\\server\\share path"
                                        % (host, option, args[option]))
        if bool(args.get("repository_username")) != bool(args.get("repository_password")):
            raise AnsibleActionFail("%s: repository_username and repository_password go together" % host)
        if args["min_free_disk_gb"] < 0:
            raise AnsibleActionFail("%s: min_free_disk_gb must not be negative" % host)

    def _ex_read(self, operation, op_args):
        try:
            answer = run_host_operation(self._connection, operation, op_args)
        except HostCallError as error:
            return {"ok": False, "data": None, "error": str(error), "kind": error.kind}
        return {"ok": True, "data": answer["data"], "error": None, "kind": None}

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        host = (task_vars or {}).get("inventory_hostname", "host")
        args = self._ex_validate()
        self._ex_check_args(args, host)
        ems = self._ex_ems_args(args)
        repository = {"url": args.get("repository_url") or "", "username": args.get("repository_username"),
                      "password": args.get("repository_password")}
        token = secrets.token_hex(8)
        calls = {
            "Get-HostIdentity": {"token": token},
            "Get-ExchangeFacts": {"ems": ems},
            "Get-EemsState": {"ems": ems},
            "Get-MaintenanceState": {"ems": ems},
            "Get-RewriteConfiguration": {},
            "Get-ActiveDirectoryPrepState": {"ems": ems},
            "Test-ExchangeInstallHealth": {"ems": ems},
            "Get-MitigationServiceEvent": {"since": "2000-01-01T00:00:00Z", "max_events": 20},
            "Get-InstallerTaskState": {"staging_dir": args["staging_dir"], "tail_lines": 20},
            "Get-StagedFile": {"staging_dir": args["staging_dir"], "files": []},
            "Get-RepositoryManifest": {"repository": repository},
        }
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
                      "proxy": self._ex_proxy(answers)}]
        if repository["url"]:
            endpoints.insert(0, {"name": "repository", "url": self._ex_manifest_url(repository["url"]),
                                 "use_credential": True, "proxy": None})
        prereq = self._ex_read("Test-ExchangePrerequisite", {
            "ems": ems, "cmdlets": all_cmdlets(), "endpoints": endpoints, "repository": repository})
        answers["Test-ExchangePrerequisite"] = prereq
        verdict = judge(answers, prereq["data"], repository_url=repository["url"] or None,
                        min_free_disk_gb=args["min_free_disk_gb"])
        facts = answers["Get-ExchangeFacts"]["data"] or {}
        result.update(
            changed=False,
            readiness=verdict["status"],
            jobs=verdict["jobs"],
            findings=verdict["findings"],
            server=self._ex_summary(facts, prereq["data"]),
            answers={name: {"ok": a["ok"], "error": a["error"]} for name, a in answers.items()},
        )
        return result

    @staticmethod
    def _ex_manifest_url(url):
        if url.lower().startswith(("http://", "https://")):
            return url.rstrip("/") + "/manifest.json"
        return url.rstrip("\\") + "\\manifest.json"

    @staticmethod
    def _ex_proxy(answers):
        """EEMS goes out through the server's InternetWebProxy when one is set."""
        eems = answers.get("Get-EemsState") or {}
        exchange = (eems.get("data") or {}).get("exchange") or {}
        return exchange.get("internet_web_proxy") or None

    @staticmethod
    def _ex_summary(facts, prereq):
        exchange = facts.get("exchange") or {}
        roles = (prereq or {}).get("roles") or {}
        rewrite = facts.get("url_rewrite") or {}
        return {
            "computer_name": facts.get("computer_name"),
            "build": (facts.get("setup") or {}).get("exsetup_version"),
            "os": (facts.get("os") or {}).get("caption"),
            "dotnet_release": facts.get("dotnet_release"),
            "free_disk_gb": facts.get("free_disk_gb"),
            "url_rewrite": next((rewrite[key] for key in ("product_version", "file_version")
                                 if rewrite.get(key)), None),
            "pending_reboot": (facts.get("pending_reboot") or {}).get("pending"),
            "dag": exchange.get("dag"),
            "organization": exchange.get("organization_name"),
            "account": roles.get("account"),
            "role_groups": roles.get("role_groups") or [],
        }
