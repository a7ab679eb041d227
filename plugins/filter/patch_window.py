# Copyright: Contributors to the onprem.exchange collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters of the exchange_patch role and playbooks/patch.yml.

The logic lives in plugin_utils/_patch_window.py (no Ansible imports there);
this file turns a wrong option into ``AnsibleFilterError``. Documentation:
the .yml file of each filter beside this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.exchange.plugins.plugin_utils._patch_window import (
    WindowError,
    check_window_end,
    check_window_minutes,
    stopped_services,
    sweep_conclusion,
    unreachable_message,
    window_closed,
    window_end,
)


def patch_window_end(end, minutes=0, start=None):
    """The window's end from an end or a length in minutes counted from start."""
    try:
        if start is None and not check_window_end(end) and check_window_minutes(minutes) > 0:
            raise AnsibleFilterError("patch_window_end: a window given in minutes needs its start")
        return window_end(end, minutes, start)
    except WindowError as err:
        raise AnsibleFilterError(str(err))


def patch_window_closed(end, now):
    """True when the window has an end and now is at or past it."""
    try:
        return window_closed(end, now)
    except WindowError as err:
        raise AnsibleFilterError(str(err))


class FilterModule:
    def filters(self):
        return {
            "patch_window_end": patch_window_end,
            "patch_window_closed": patch_window_closed,
            "unreachable_message": unreachable_message,
            "stopped_services": stopped_services,
            "patch_sweep_conclusion": sweep_conclusion,
        }
