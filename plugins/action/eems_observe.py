# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.eems_observe: what EEMS shows on one server, in one host call.

One Get-EemsState call (flags, lists, service, recent Mitigation Service
events), reduced by plugin_utils/_eems_watch.observe to a compact
observation.  Reads only; the comparison happens on the controller in
onprem.exchange.eems_watch.
"""
from __future__ import annotations

from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_watch import observe
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import EMS_ARGUMENT_SPEC, HostActionBase

ARGUMENT_SPEC = dict(EMS_ARGUMENT_SPEC)


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _ex_run(self, args, result):
        state = self._ex_host_call("Get-EemsState", {"ems": self._ex_ems_args(args)})["data"]
        result.update(changed=False, observation=observe(state))
        return result
