# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.mitigation_report: per server and CVE, what protects it.

It contacts no host: the registered onprem.exchange.mitigation results are
its whole input; plugin_utils/_protection_report.py builds and renders it.
"""
from __future__ import annotations

import datetime

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.onprem.exchange.plugins.plugin_utils._audit_report import AuditReportError
from ansible_collections.onprem.exchange.plugins.plugin_utils._protection_report import (
    FORMATS,
    build_report,
    write_report,
)

ARGUMENT_SPEC = {
    "results": {"type": "dict", "required": True},
    "dest": {"type": "path", "required": True},
    "formats": {"type": "list", "elements": "str", "choices": ["html", "json", "csv", "markdown"],
                "default": ["html", "json", "csv", "markdown"]},
    "title": {"type": "str", "default": "Exchange mitigation report"},
    "generated_on": {"type": "str"},
}


class ActionModule(ActionBase):
    # The report is output on the controller, not managed state: check mode writes it too.
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        generated_on = args["generated_on"] or datetime.date.today().isoformat()
        try:
            report = build_report(args["results"], generated_on=generated_on, title=args["title"])
            files = write_report(report, args["dest"], args["formats"] or list(FORMATS))
        except AuditReportError as error:
            raise AnsibleActionFail(str(error)) from None
        result.update(changed=False, summary=report["summary"], servers=report["servers"], files=files)
        return result
