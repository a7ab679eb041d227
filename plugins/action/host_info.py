# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.host_info: a connection check that
proves the whole host-call path (bootstrap, canonical script, JSON on stdin,
one JSON answer) works for a host."""
from __future__ import annotations

import secrets

from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import HostActionBase

ARGUMENT_SPEC = {}


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _ex_run(self, args, result):
        token = secrets.token_hex(8)
        data = self._ex_host_call("Get-HostIdentity", {"token": token})["data"]
        if data.get("token") != token:
            raise self._ex_error("answered with a stale or foreign result (token mismatch)")
        data.pop("token", None)
        result.update(changed=False, host=data)
        return result
