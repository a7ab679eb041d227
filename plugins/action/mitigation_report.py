# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.mitigation_report: per server and CVE, what protects it.

It contacts no host: the registered onprem.exchange.mitigation results are
its whole input; plugin_utils/_protection_report.py builds and renders it.
"""
from __future__ import annotations

from ansible_collections.onprem.exchange.plugins.plugin_utils._protection_report import (
    FORMATS,
    build_report,
    write_report,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._report_action import ReportActionBase

ARGUMENT_SPEC = {
    "results": {"type": "dict", "required": True},
    "dest": {"type": "path", "required": True},
    "formats": {"type": "list", "elements": "str", "choices": ["html", "json", "csv", "markdown"],
                "default": ["html", "json", "csv", "markdown"]},
    "title": {"type": "str", "default": "Exchange mitigation report"},
    "generated_on": {"type": "str"},
}


class ActionModule(ReportActionBase):
    argument_spec = ARGUMENT_SPEC
    formats = FORMATS
    build = staticmethod(build_report)
    write = staticmethod(write_report)
