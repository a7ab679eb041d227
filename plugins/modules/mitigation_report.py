# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/mitigation_report.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: mitigation_report
short_description: Write the fleet's protection report from onprem.exchange.mitigation results
version_added: 0.2.0
description:
  - For every server and CVE, says what protects it - the code fix, an interim mitigation, or
    nothing - with the findings about stale or dangerous rules, in HTML, JSON, CSV and Markdown.
  - Runs on the controller and contacts no host. A rerun over unchanged results writes the same
    bytes and leaves the files untouched.
  - Writes C(exchange-protection.html), C(.json), C(.csv) and C(.md) into O(dest) (as chosen in O(formats)).
options:
  results:
    description:
      - Maps each inventory host to its registered M(onprem.exchange.mitigation) result (or a loop of
        them), a failed or unreachable result, or null when the task did not run for it.
    type: dict
    required: true
  title:
    description: Report title.
    type: str
    default: Exchange mitigation report
extends_documentation_fragment:
  - onprem.exchange.report
  - action_common_attributes
  - action_common_attributes.flow
seealso:
  - module: onprem.exchange.mitigation
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Write the protection report
  onprem.exchange.mitigation_report:
    results: "{{ dict(groups['exchange'] | zip(groups['exchange'] | map('extract', hostvars, 'exchange_mitigation'))) }}"
    dest: reports
  register: protection

- name: Name the servers nothing protects
  ansible.builtin.debug:
    msg: "{{ protection.summary.hosts.unprotected }}"
"""

RETURN = r"""
summary:
  description: C(total), C(by_state) (checked, unreachable, failed, not_run),
    C(by_protection) (server/CVE pairs by code_fix, mitigation, nothing) and C(hosts) (unprotected, failed, unreachable).
  returned: success
  type: dict
  sample: {total: 2, by_protection: {code_fix: 4, mitigation: 1, nothing: 1}, hosts: {unprotected: [EX16A]}}
servers:
  description: One entry per server with C(name), C(status), C(error) and C(cves)
    (each with C(cve), C(mitigation), C(protected_by), C(code_fix), C(mitigation_present), C(findings)).
  returned: success
  type: list
  elements: dict
files:
  description: Format to absolute path of each file written.
  returned: success
  type: dict
  sample: {html: /srv/reports/exchange-protection.html}
"""
