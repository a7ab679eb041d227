# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.build_facts: gather, classify, plan.

One host call (Get-ExchangeFacts) collects the facts; everything after that
happens on the controller: the catalog classifies the build, the planner
turns facts and policy into steps, and the EEMS judge says whether the
Mitigation Service can work.  Nothing on the host changes.
"""
from __future__ import annotations

import datetime

from ansible.errors import AnsibleActionFail

from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_status import judge_eems
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import (
    CatalogError,
    catalog_files_from,
    load_catalog,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import ExchangeBuildError
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import EMS_ARGUMENT_SPEC, HostActionBase
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


def planner_facts(raw):
    """The planner's input (see _update_planner) from the host's raw facts."""
    exchange = raw.get("exchange") or {}
    watermark = raw.get("setup_watermark") or {}
    os_info = raw.get("os") or {}
    return {
        "build": (raw.get("setup") or {}).get("exsetup_version"),
        "dotnet_release": raw.get("dotnet_release"),
        "pending_reboot": (raw.get("pending_reboot") or {}).get("pending"),
        "setup_watermark": watermark.get("watermark") or None,
        "free_disk_gb": raw.get("free_disk_gb"),
        # The planner reads the caption or the version (_exchange_catalog.normalise_os).
        "os": os_info.get("caption") or None,
        "os_version": os_info.get("version") or None,
        "roles": exchange.get("roles") or [],
    }


def _local_findings(raw, eems, meant_off=()):
    findings = []
    if not (raw.get("ems") or {}).get("available"):
        findings.append({
            "id": "exchange_cmdlets_unavailable", "severity": "warning",
            "message": "Exchange cmdlets could not be used, so roles, DAG, database copies and EEMS flags are "
                       "unknown: %s" % ((raw.get("ems") or {}).get("error") or "no reason given"),
            "remedy": "Set ems_username and ems_password (or the connection's ansible_user/ansible_password) to an "
                      "account with at least View-Only Organization Management; ems_mode=remote is the supported "
                      "way over WinRM.",
        })
    # A disabled Exchange service alone says nothing about Setup: admins turn
    # POP3, IMAP4 or UM off on purpose.  An interrupted Setup is read from its
    # watermark (the planner's setup_interrupted finding); here a disabled
    # service the admin has not named is only worth a look.
    off = {name.lower() for name in meant_off or ()}
    disabled = sorted(s["name"] for s in raw.get("services") or []
                      if s.get("name", "").startswith("MSExchange") and s.get("start_mode") == "Disabled"
                      and s["name"].lower() not in off)
    watermark = (raw.get("setup_watermark") or {}).get("watermark")
    if disabled and watermark:
        findings.append({
            "id": "exchange_services_disabled", "severity": "critical",
            "message": "Exchange services are disabled: %s, and Setup's watermark %r shows a run that stopped "
                       "part-way; Setup disables the services while it runs." % (", ".join(disabled), watermark),
            "remedy": "Finish the interrupted Setup (the plan's resume_setup step), then check every Exchange "
                      "service is back to its start mode.",
        })
    elif disabled:
        findings.append({
            "id": "exchange_services_disabled", "severity": "info",
            "message": "Exchange services are disabled: %s. No Setup watermark is present, so this is not an "
                       "interrupted install; it is usually an admin's choice (POP3, IMAP4, UM)." % ", ".join(disabled),
            "remedy": "If they are off on purpose, list them in services_meant_off (exchange_services_meant_off) "
                      "and this note goes away; otherwise set them back to Automatic.",
        })
    if eems["status"] in ("not_working", "disabled"):
        findings.append({
            "id": "eems_%s" % eems["cause"], "severity": "critical" if eems["status"] == "not_working" else "warning",
            "message": "The Emergency Mitigation Service is %s: %s (%s)." % (
                eems["status"].replace("_", " "), eems["cause"].replace("_", " "), eems["evidence"]),
            "remedy": eems["remedy"],
        })
    return findings


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self._ex_validate()
        host = (task_vars or {}).get("inventory_hostname", "host")
        try:
            today = datetime.date.fromisoformat(args["today"]) if args.get("today") else datetime.date.today()
        except ValueError:
            raise AnsibleActionFail("today=%r is not an ISO date (YYYY-MM-DD)" % args["today"]) from None
        # A target nobody can plan for fails here, before the host is contacted.
        try:
            target = check_target(args["target"])
        except PlanInputError as error:
            raise AnsibleActionFail("%s: option target: %s" % (host, error)) from None
        policy = {"target": target, "esu_enrolled": args["esu_enrolled"],
                  "installer_format": args["installer_format"]}
        if args.get("available_media") is not None:
            policy["available_media"] = args["available_media"]
        # The catalog (with the inventory's extra catalog files) is checked before the host is contacted.
        try:
            catalog = load_catalog(extra=catalog_files_from(task_vars, self._templar))
        except CatalogError as error:
            raise AnsibleActionFail("%s: %s" % (host, error)) from None
        if args.get("min_free_disk_gb") is not None:
            policy["min_free_disk_gb"] = args["min_free_disk_gb"]

        raw = self._ex_host_call("Get-ExchangeFacts", {"ems": self._ex_ems_args(args)}, task_vars)["data"]
        facts = planner_facts(raw)
        if not facts["build"]:
            raise AnsibleActionFail("%s: Exchange is not installed (no ExSetup.exe under the MsiInstallPath)" % host)
        try:
            classification = catalog.classify(facts["build"], today).to_dict()
            plan = plan_update(facts, policy, today=today, catalog=catalog)
        except (ExchangeBuildError, PlanInputError, CatalogError) as error:
            raise AnsibleActionFail("%s: %s" % (host, error)) from None
        eems = judge_eems(raw, classification)
        findings = list(plan.get("findings") or []) + _local_findings(raw, eems, args["services_meant_off"])
        exchange = dict(raw)
        exchange.update(build=classification.get("build"), build_info=classification, eems_status=eems,
                        gathered_on=today.isoformat())
        result.update(changed=False, ansible_facts={"exchange": exchange}, findings=findings, plan=plan)
        return result
