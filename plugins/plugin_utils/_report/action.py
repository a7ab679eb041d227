# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one run() of every report action plugin.

For internal collection use only; the interface may change in any release.

An action plugin says only which report it writes::

    from ..plugin_utils._audit_report import KIND
    ARGUMENT_SPEC = KIND.argument_spec

    class ActionModule(ReportActionBase):
        kind = KIND

The run validates the arguments, reads the date at the boundary, loads the
build catalog (with the inventory's extra catalog files) so builds carry the
names admins use, finds each server's organisation and DAG in the facts
Ansible already holds, builds and writes the report, and returns
``changed=false`` (a report on the controller is output, not managed state).
"""
from __future__ import annotations

import datetime
from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from .._exchange_catalog import CatalogError, catalog_files_from, load_catalog
from .writer import ReportError


def _mapping(value):
    return value if isinstance(value, Mapping) else {}


def placement_from_hostvars(hostvars, names):
    """{host: (organisation, DAG)} from the facts build_facts left on each
    host (ansible_facts.exchange.exchange), for reports whose input does not
    carry them; hosts without such facts are left out."""
    placement = {}
    for name in names:
        try:
            host = hostvars[name]
        except (KeyError, TypeError):
            continue
        exchange = _mapping(_mapping(_mapping(_mapping(host).get("ansible_facts")).get("exchange")).get("exchange"))
        if exchange.get("organization_name") or exchange.get("dag"):
            placement[str(name)] = (exchange.get("organization_name"), exchange.get("dag"))
    return placement


class ReportActionBase(ActionBase):
    # The report is output on the controller, not managed state: check mode writes it too.
    _supports_check_mode = True
    _supports_async = False

    kind = None  # a _report.kind.ReportKind

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        kind = self.kind
        args = self.validate_argument_spec(argument_spec=kind.argument_spec)[1]
        # The clock is read here, at the boundary, and nowhere below it.
        generated_on = args["generated_on"] or datetime.date.today().isoformat()
        try:
            catalog = load_catalog(extra=catalog_files_from(task_vars, self._templar))
        except CatalogError as error:
            raise AnsibleActionFail("exchange_catalog_files: %s" % error) from None
        names = set()
        for name in kind.inputs:
            names.update(_mapping(args[name]))
        placement = placement_from_hostvars(_mapping((task_vars or {}).get("hostvars")), sorted(map(str, names)))
        options = {name: args[name] for name in kind.options}
        try:
            report = kind.build(*(args[name] for name in kind.inputs), generated_on=generated_on,
                                title=args["title"], catalog=catalog, placement=placement, **options)
            files = kind.write(report, args["dest"], args["formats"] or list(kind.renderers))
        except ReportError as error:
            raise AnsibleActionFail(str(error)) from None
        result.update(changed=False, summary=report["summary"], servers=report["servers"], files=files)
        if kind.extra:
            result.update(kind.extra(report))
        return result
