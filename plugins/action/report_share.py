# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.report_share: report files written into
a folder of a file share by a Windows host of the inventory.

Delegate it to that host: the controller reads each file and sends its bytes
as data (Publish-ReportFile); the host writes them to the share, mapping it
with the share's account for that call (the second hop). The checks and the
request are in plugin_utils/_report_share.py.
"""
from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import HostCallError, run_host_operation
from ansible_collections.onprem.exchange.plugins.plugin_utils._report_share import (
    ReportShareError,
    bounds_problem,
    check_answer,
    location,
    publish_request,
)

ARGUMENT_SPEC = {
    "share": {"type": "str", "required": True},
    "folder": {"type": "str", "default": ""},
    "files": {"type": "dict", "required": True},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
}


class ActionModule(ActionBase):
    # Reports are output, not managed state: published in check mode too.
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        # Delegated from the report play: the writer is the delegate, not localhost.
        host = self._task.delegate_to or (task_vars or {}).get("inventory_hostname")
        published = {}
        try:
            # Bounds first (NUL, control characters, length), naming the option.
            problem = bounds_problem(args["share"], args["folder"], "folder", args.get("username"),
                                     {"files.%s" % kind: path for kind, path in args["files"].items()})
            if problem:
                raise ReportShareError("%s; nothing was sent" % problem)
            where = location(args["share"], args["folder"])
            for kind, path in sorted(args["files"].items()):
                if not os.path.isfile(str(path)):
                    raise ReportShareError("files.%s: %s is not a file on the controller" % (kind, path))
                with open(str(path), "rb") as handle:
                    content = handle.read()
                request = publish_request(args["share"], args["folder"], os.path.basename(str(path)), content,
                                          args["username"], args["password"])
                try:
                    answer = run_host_operation(self._connection, "Publish-ReportFile", request)
                except HostCallError as error:
                    raise ReportShareError("could not write %s to %s through %s: %s"
                                           % (request["name"], where, host, error)) from None
                published[kind] = check_answer(answer.get("data"), request, content)
        except ReportShareError as error:
            raise AnsibleActionFail("%s (host %s)" % (error, host)) from None
        # changed stays False: the files are reports, not state of a managed host.
        result.update(changed=False, location=where, files=published)
        return result
