# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.host_info: a connection check that
proves the whole host-call path (bootstrap, canonical script, JSON on stdin,
one JSON answer) works for a host."""
from __future__ import annotations

import secrets

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import HostCallError, run_host_operation

ARGUMENT_SPEC = {}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        token = secrets.token_hex(8)
        try:
            answer = run_host_operation(self._connection, "Get-HostIdentity", {"token": token})
        except HostCallError as error:
            raise AnsibleActionFail("%s (host %s)" % (error, task_vars.get("inventory_hostname"))) from None
        data = answer["data"]
        if data.get("token") != token:
            raise AnsibleActionFail("host %s answered with a stale or foreign result (token mismatch)"
                                    % task_vars.get("inventory_hostname"))
        data.pop("token", None)
        result.update(changed=False, host=data)
        return result
