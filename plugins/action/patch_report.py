# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.patch_report: the patch window report, written on the controller.

It contacts no host: each server's exchange_patch_result (set by the
exchange_patch role) is its whole input; plugin_utils/_patch_report.py
builds and renders the report.
"""
from __future__ import annotations

import datetime

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.onprem.exchange.plugins.plugin_utils._patch_report import (
    FORMATS,
    PatchReportError,
    build_report,
    out_of_service_lines,
    write_report,
)

ARGUMENT_SPEC = {
    "results": {"type": "dict", "required": True},
    "dest": {"type": "path", "required": True},
    "formats": {"type": "list", "elements": "str", "choices": ["html", "json", "csv", "markdown"],
                "default": ["html", "json", "csv", "markdown"]},
    "title": {"type": "str", "default": "Exchange patch window"},
    "generated_on": {"type": "str"},
    "window_end": {"type": "str"},
}


class ActionModule(ActionBase):
    # The report is output, not managed state, so check mode writes it too.
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        # The clock is read here, at the boundary, and nowhere below it.
        generated_on = args["generated_on"] or datetime.date.today().isoformat()
        try:
            report = build_report(args["results"], generated_on=generated_on, title=args["title"],
                                  window_end=args["window_end"])
            files = write_report(report, args["dest"], args["formats"] or list(FORMATS))
        except PatchReportError as error:
            raise AnsibleActionFail(str(error)) from None
        result.update(changed=False, summary=report["summary"], files=files,
                      out_of_service=out_of_service_lines(report))
        return result
