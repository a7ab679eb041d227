# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.remediation_report: before and after a remediation run (two sets of build_facts results), written on the controller.

It contacts no host. What the report says is plugin_utils/_remediation_report.py; how
every report is run and written is plugin_utils/_report.
"""
from __future__ import annotations

from ansible_collections.onprem.exchange.plugins.plugin_utils._remediation_report import KIND
from ansible_collections.onprem.exchange.plugins.plugin_utils._report.action import ReportActionBase

ARGUMENT_SPEC = KIND.argument_spec


class ActionModule(ReportActionBase):
    kind = KIND
