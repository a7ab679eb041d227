# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.report_share_fetch: one file read back
from a folder of a file share by a Windows host of the inventory, written to
a file on the controller.

Delegate it to that host: Get-ReportFile reads the file (mapping the share
with its account for that call, the second hop) and answers with its bytes
and SHA256; the controller checks them and writes the file atomically. A file
not on the share yet is found=false, not an error. The checks and the request
are in plugin_utils/_report_share.py.
"""
from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import HostCallError, run_host_operation
from ansible_collections.onprem.exchange.plugins.plugin_utils._report.writer import (
    ReportError, prepare_dir, write_atomically)
from ansible_collections.onprem.exchange.plugins.plugin_utils._report_share import (
    ReportShareError,
    bounds_problem,
    check_fetched,
    fetch_request,
    location,
)

ARGUMENT_SPEC = {
    "share": {"type": "str", "required": True},
    "path": {"type": "str", "required": True},
    "dest": {"type": "path", "required": True},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
}


class ActionModule(ActionBase):
    # Reads only; the file written is the controller's working copy, written in check mode too.
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        host = self._task.delegate_to or (task_vars or {}).get("inventory_hostname")
        try:
            # Bounds first (NUL, control characters, length), naming the option.
            problem = bounds_problem(args["share"], args["path"], "path", args["username"], {"dest": args["dest"]})
            if problem:
                raise ReportShareError("%s; nothing was sent" % problem)
            request = fetch_request(args["share"], args["path"], args["username"], args["password"])
            where = location(args["share"], request["folder"]) + request["name"]
            try:
                answer = run_host_operation(self._connection, "Get-ReportFile", request)
            except HostCallError as error:
                raise ReportShareError("could not read %s through %s: %s" % (where, host, error)) from None
            content = check_fetched(answer.get("data"), request)
        except ReportShareError as error:
            raise AnsibleActionFail("%s (host %s)" % (error, host)) from None
        dest = os.path.abspath(os.path.expanduser(args["dest"]))
        if content is not None:
            try:
                write_atomically(os.path.join(prepare_dir(os.path.dirname(dest)), os.path.basename(dest)), content)
            except (ReportError, OSError) as error:
                raise AnsibleActionFail("cannot write %s on the controller: %s" % (dest, error)) from None
        # changed stays False: reading a report back changes no managed host.
        result.update(changed=False, found=content is not None, location=where,
                      path=dest if content is not None else None)
        return result
