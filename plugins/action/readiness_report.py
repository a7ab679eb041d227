# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.readiness_report: the preflight report, on the controller."""
from __future__ import annotations

from ansible_collections.onprem.exchange.plugins.plugin_utils._readiness_report import (
    FORMATS,
    build_readiness_report,
    write_readiness_report,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._report_action import ReportActionBase

ARGUMENT_SPEC = {
    "results": {"type": "dict", "required": True},
    "dest": {"type": "path", "required": True},
    "formats": {"type": "list", "elements": "str", "choices": ["html", "json", "csv", "markdown"],
                "default": ["html", "json", "csv", "markdown"]},
    "title": {"type": "str", "default": "Exchange preflight"},
    "generated_on": {"type": "str"},
}


class ActionModule(ReportActionBase):
    argument_spec = ARGUMENT_SPEC
    formats = FORMATS
    build = staticmethod(build_readiness_report)
    write = staticmethod(write_readiness_report)
