# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/readiness_report.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: readiness_report
short_description: Write the preflight readiness report of Exchange servers
version_added: 0.2.0
description:
  - Takes the results that M(onprem.exchange.preflight) registered on each server and writes, on the
    controller, one report in HTML, JSON, CSV and Markdown.
  - Server by server it says whether the server is ready, which later jobs (audit, stage, patch,
    mitigate, eems) are blocked, and for every finding what to fix.
  - Servers that were unreachable or gave no result are listed too, with the reason.
  - Contacts no host.
  - Writes C(exchange-preflight.html), C(.json), C(.csv) and C(.md) into O(dest) (as chosen in O(formats)).
options:
  results:
    description: Host name to the registered preflight result (null when there is none).
    type: dict
    required: true
  title:
    description: Report title.
    type: str
    default: Exchange preflight
extends_documentation_fragment:
  - onprem.exchange.report
  - action_common_attributes
  - action_common_attributes.flow
seealso:
  - module: onprem.exchange.preflight
  - module: onprem.exchange.audit_report
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Write the readiness report
  onprem.exchange.readiness_report:
    results: "{{ {'EX01': hostvars['EX01'].preflight} }}"
    dest: reports
  register: readiness

- name: Name the servers that are not ready
  ansible.builtin.debug:
    msg: "{{ readiness.summary.hosts.not_ready }}"
"""

RETURN = r"""
summary:
  description: Counts per readiness, host lists per readiness and, per job, the servers it is blocked on.
  returned: success
  type: dict
  sample:
    total: 2
    ready: 1
    by_status: {ready: 1, ready_with_warnings: 0, not_ready: 1, failed: 0, unreachable: 0}
    blocked_by_job: {audit: [], stage: [EX02], patch: [EX02], mitigate: [], eems: []}
servers:
  description: Per server its C(status), C(jobs), C(findings) (id, severity, jobs, message, fix), C(server) summary and C(error).
  returned: success
  type: list
  elements: dict
files:
  description: Format to the absolute path written.
  returned: success
  type: dict
  sample: {html: /srv/reports/exchange-preflight.html}
"""
