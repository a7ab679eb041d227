# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.catalog_import: add builds from a CSV to an extra catalog file.

Runs on the controller and contacts no host; plugin_utils/_catalog_import.py
does the work (the same code as scripts/update_catalog.py --overlay).
"""
from __future__ import annotations

import io

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.onprem.exchange.plugins.plugin_utils._bounds import controller_path_problem
from ansible_collections.onprem.exchange.plugins.plugin_utils._catalog_import import run_overlay
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import ExchangeBuildError

ARGUMENT_SPEC = {
    "csv": {"type": "path", "required": True},
    "dest": {"type": "path", "required": True},
}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        # Both are controller paths: bounds first, naming the option, before
        # either file is opened (a NUL byte would otherwise surface as open()'s
        # bare "embedded null byte").
        for option in ("csv", "dest"):
            problem = controller_path_problem(args[option], option)
            if problem:
                raise AnsibleActionFail("catalog_import: %s; nothing was read or written" % problem)
        out = io.StringIO()
        try:
            counts = run_overlay(args["csv"], args["dest"], dry_run=bool(self._task.check_mode), out=out)
        except (OSError, ValueError, ExchangeBuildError) as error:
            raise AnsibleActionFail("catalog_import: %s" % error) from None
        changed = counts["added"] + counts["changed"] > 0
        result.update(changed=changed, dest=args["dest"], added=counts["added"], updated=counts["changed"],
                      unchanged=counts["unchanged"], total=counts["total"], report=out.getvalue().splitlines())
        if changed and self._task.diff:
            result["diff"] = {"after_header": args["dest"], "after": out.getvalue()}
        return result
