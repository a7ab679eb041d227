# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.readiness_report: the preflight report, on the controller."""
from __future__ import annotations

import datetime

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.onprem.exchange.plugins.plugin_utils._audit_report import AuditReportError
from ansible_collections.onprem.exchange.plugins.plugin_utils._readiness_report import (
    FORMATS,
    build_readiness_report,
    write_readiness_report,
)

ARGUMENT_SPEC = {
    "results": {"type": "dict", "required": True},
    "dest": {"type": "path", "required": True},
    "formats": {"type": "list", "elements": "str", "choices": ["html", "json", "csv", "markdown"],
                "default": ["html", "json", "csv", "markdown"]},
    "title": {"type": "str", "default": "Exchange preflight"},
    "generated_on": {"type": "str"},
}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        generated_on = args["generated_on"] or datetime.date.today().isoformat()
        try:
            report = build_readiness_report(args["results"], generated_on=generated_on, title=args["title"])
            files = write_readiness_report(report, args["dest"], args["formats"] or list(FORMATS))
        except AuditReportError as error:
            raise AnsibleActionFail(str(error)) from None
        # A report on the controller is output, not managed state.
        result.update(changed=False, summary=report["summary"], servers=report["servers"], files=files)
        return result
