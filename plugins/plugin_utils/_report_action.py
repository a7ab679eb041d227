# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared run() for report action plugins that only build and write a report.

For internal collection use only; the interface may change in any release.

A subclass sets ``argument_spec`` (results, dest, formats, title,
generated_on), ``formats`` (what its writer knows) and two static hooks,
``build(results, generated_on=, title=)`` and ``write(report, dest, formats)``.
"""
from __future__ import annotations

import datetime

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ._audit_report import AuditReportError


class ReportActionBase(ActionBase):
    # The report is output on the controller, not managed state: check mode writes it too.
    _supports_check_mode = True
    _supports_async = False

    argument_spec = {}
    formats = ()

    @staticmethod
    def build(results, generated_on, title):
        raise NotImplementedError

    @staticmethod
    def write(report, dest, formats):
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=self.argument_spec)[1]
        generated_on = args["generated_on"] or datetime.date.today().isoformat()
        try:
            report = self.build(args["results"], generated_on=generated_on, title=args["title"])
            files = self.write(report, args["dest"], args["formats"] or list(self.formats))
        except AuditReportError as error:
            raise AnsibleActionFail(str(error)) from None
        result.update(changed=False, summary=report["summary"], servers=report["servers"], files=files)
        return result
