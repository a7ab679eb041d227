# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/remediation_report.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: remediation_report
short_description: Write the before/after report of a remediation run
version_added: 0.1.0
description:
  - Compares, per server, the build_facts result registered before a remediation run with the one
    registered after it, and writes the comparison on the controller as HTML, JSON, CSV and Markdown.
  - Every server ends either C(working) (EEMS proved working) or with the reason it is not and the
    remedy, for example Exchange 2013 (no EEMS; migrate) or Exchange 2016 without ESU enrolment.
  - Contacts no host.
  - Writes C(exchange-remediation.html), C(.json), C(.csv) and C(.md) into O(dest) (as chosen in O(formats)).
options:
  before:
    description: Host name to the build_facts result registered before the run (null when none).
    type: dict
    required: true
  after:
    description: Host name to the build_facts result registered after the run (null when none).
    type: dict
    required: true
  title:
    description: Report title.
    type: str
    default: Exchange remediation
extends_documentation_fragment:
  - onprem.exchange.report
  - action_common_attributes
  - action_common_attributes.flow
seealso:
  - module: onprem.exchange.audit_report
  - module: onprem.exchange.build_facts
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Write the before/after report
  onprem.exchange.remediation_report:
    before: "{{ {'EX01': before_result} }}"
    after: "{{ {'EX01': after_result} }}"
    dest: reports
  register: remediation

- name: Name the servers still not working
  ansible.builtin.debug:
    msg: "{{ remediation.summary.hosts.not_working }}"
"""

RETURN = r"""
summary:
  description: Counts and host lists.
  returned: success
  type: dict
  sample: {total: 2, working_before: 0, working_after: 1, updated: 1, by_verdict: {working: 1, not_applicable: 1}}
servers:
  description: Per server, C(before) and C(after) (status, build, product, update, lifecycle, eems_status, eems_cause, error), C(verdict), C(reason), C(remedy).
  returned: success
  type: list
  elements: dict
files:
  description: Format to the absolute path written.
  returned: success
  type: dict
  sample: {html: /srv/reports/exchange-remediation.html}
"""
