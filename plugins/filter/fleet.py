# Copyright: Contributors to the onprem.exchange collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters the playbooks use across the fleet: results for a report, remediate.yml's
groups, eems.yml's writer per organisation, the remediation outcome's lines.

The logic lives in plugin_utils/_fleet.py (no Ansible imports there); this
file only turns input errors into ``AnsibleFilterError``. Documentation: the
.yml file of each filter beside this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.exchange.plugins.plugin_utils import _fleet


def host_results(hosts, hostvars, name, only_with=None):
    """``{host: hostvars[host][name] or None}`` for the hosts given."""
    try:
        return _fleet.host_results(hosts, hostvars, name, only_with=only_with)
    except TypeError as err:
        raise AnsibleFilterError("host_results: %s" % err)


def eems_org_writers(hosts, hostvars, read="exchange_eems_before"):
    """One host per organisation to write the organisation-wide EEMS flag."""
    try:
        return _fleet.eems_org_writers(hosts, hostvars, read=read)
    except TypeError as err:
        raise AnsibleFilterError("eems_org_writers: %s" % err)


class FilterModule:
    def filters(self):
        return {
            "host_results": host_results,
            "remediation_groups": _fleet.remediation_groups,
            "eems_org_writers": eems_org_writers,
            "remediation_lines": _fleet.remediation_lines,
        }
