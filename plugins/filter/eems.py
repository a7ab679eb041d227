# Copyright: Contributors to the onprem.exchange collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that summarise playbooks/eems.yml across the fleet.

The logic lives in plugin_utils/_eems_summary.py (no Ansible imports there);
documentation: ``eems_summary.yml`` and ``eems_summary_lines.yml`` beside
this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_summary import summarize, summary_lines


def eems_summary(hosts, hostvars):
    """The fleet summary from every host's record, whatever exists."""
    if isinstance(hosts, (str, bytes)) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError("eems_summary: the input must be the list of the play's hosts, got %s"
                                 % type(hosts).__name__)
    return summarize(list(hosts), hostvars)


def eems_summary_lines(summary):
    """The summary as the lines a person reads."""
    return summary_lines(summary)


class FilterModule:
    def filters(self):
        return {
            "eems_summary": eems_summary,
            "eems_summary_lines": eems_summary_lines,
        }
