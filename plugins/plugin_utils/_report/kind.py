# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one report is, for the shared action: its inputs, builder, renderers and file name.

For internal collection use only; the interface may change in any release.
Plain Python, no Ansible imports: each builder module declares its ``KIND``.
"""
from __future__ import annotations

import datetime

from .writer import FORMATS, ReportError, write_report

# Options every report action has besides its inputs and title (the doc
# fragment onprem.exchange.report documents exactly these).
COMMON_SPEC = {
    "dest": {"type": "path", "required": True},
    "formats": {"type": "list", "elements": "str", "choices": list(FORMATS), "default": list(FORMATS)},
    "generated_on": {"type": "str"},
}


def report_day(generated_on):
    """``generated_on`` as an ISO date text; ReportError when it is not one."""
    try:
        return datetime.date.fromisoformat(str(generated_on)).isoformat()
    except ValueError:
        raise ReportError("generated_on=%r is not an ISO date (YYYY-MM-DD)" % (generated_on,)) from None


class ReportKind:
    """One report.

    ``build(*inputs, generated_on=, title=, catalog=, placement=, **options)``
    returns the report dict (with ``summary`` and ``servers``);
    ``renderers`` maps each format to ``function(report) -> str``;
    ``inputs`` names the required dict options handed to ``build`` in order;
    ``options`` are further options ({name: spec}) passed by name;
    ``extra(report)`` adds keys to the task result besides changed, summary,
    servers and files.
    """

    def __init__(self, name, basename, title, build, renderers, inputs=("results",), options=None, extra=None):
        self.name = name
        self.basename = basename
        self.title = title
        self.build = build
        self.renderers = renderers
        self.inputs = tuple(inputs)
        self.options = dict(options or {})
        self.extra = extra

    @property
    def argument_spec(self):
        spec = {name: {"type": "dict", "required": True} for name in self.inputs}
        spec.update(COMMON_SPEC)
        spec["title"] = {"type": "str", "default": self.title}
        spec.update(self.options)
        return spec

    def write(self, report, dest_dir, formats):
        return write_report(report, dest_dir, formats, basename=self.basename, renderers=self.renderers)
