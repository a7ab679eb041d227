# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared base for the collection's action plugins that call host operations.

For internal collection use only; the interface may change in any release.

It validates arguments once against the plugin's spec, resolves the Exchange
Management Shell credential (defaulting to the connection's own), and turns
host-call failures into task failures that name the host.
"""
from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ._host_call import HostCallError, run_host_operation

# Options every Exchange-cmdlet-using plugin accepts; documented once in
# plugins/doc_fragments/ems.py.
EMS_ARGUMENT_SPEC = {
    "ems_mode": {"type": "str", "choices": ["remote", "snapin"], "default": "remote"},
    "ems_username": {"type": "str"},
    "ems_password": {"type": "str", "no_log": True},
}


class HostActionBase(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    # Subclasses set this to their literal spec.
    ARGUMENT_SPEC = {}

    def _ex_validate(self):
        """Validated, defaulted arguments; raises on bad input."""
        args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)[1]
        return args

    def _ex_connection_option(self, name):
        try:
            return self._connection.get_option(name)
        except (KeyError, AttributeError):
            return None

    def _ex_ems_args(self, args):
        """The EMS part of a host operation's arguments.  Without an explicit
        credential the connection's own user and password are used: the usual
        case, where the WinRM account is also the Exchange administrator."""
        username = args.get("ems_username") or self._ex_connection_option("remote_user")
        password = args.get("ems_password") or self._ex_connection_option("remote_password")
        return {"mode": args.get("ems_mode", "remote"), "username": username, "password": password}

    def _ex_host_call(self, operation, op_args, task_vars):
        try:
            return run_host_operation(self._connection, operation, op_args)
        except HostCallError as error:
            raise AnsibleActionFail("%s: %s" % ((task_vars or {}).get("inventory_hostname", "host"), error)) from None
