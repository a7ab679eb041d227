# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only; the logic runs on the controller in
# plugins/action/audit_report.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_report
short_description: Write a fleet audit report of Exchange servers in HTML, JSON, CSV and Markdown
version_added: 0.1.0
description:
  - Turns the registered results of M(onprem.exchange.build_facts) for a whole fleet into one report and
    writes it on the controller.
  - The report counts servers by state, by EEMS status, by lifecycle and by product, lists the servers
    that need updates, and gives each server its build, EEMS verdict with cause and remedy, the next
    update steps and every finding with its remedy.
  - A host that could not be reached, or whose task failed, is in the report with its error message; a
    host with no result is listed as not run. None of them is left out.
  - The HTML file is one standalone page; see the notes for how host text is escaped.
  - Output is deterministic. For an unchanged estate and the same O(generated_on), a second run writes
    byte-identical files, and files whose content has not changed are not rewritten.
  - Contacts no host.
  - Writes C(exchange-audit.html), C(.json), C(.csv) and C(.md) into O(dest) (as chosen in O(formats)).
options:
  results:
    description:
      - Host name to the registered result of M(onprem.exchange.build_facts) for that host.
      - A value may be null for a host where the task did not run; the host is then reported as not run.
      - Any other value that is not a dictionary fails the task, naming the host.
    type: dict
    required: true
  title:
    description:
      - Title of the report.
    type: str
    default: Exchange fleet audit
extends_documentation_fragment:
  - onprem.exchange.report
  - action_common_attributes
  - action_common_attributes.flow
notes:
  - The audit changes nothing on any server. The files are its purpose, and AWX "check" job templates run
    audits in check mode to be sure of that, so the report is written in check mode too.
  - Use C(run_once) so one host writes the report for the whole play.
seealso:
  - module: onprem.exchange.build_facts
  - module: ansible.builtin.set_stats
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Gather facts and plans on every Exchange server
  onprem.exchange.build_facts:
  register: exchange_audit
  ignore_unreachable: true
  ignore_errors: true

# A host whose task never ran has no registered variable; default(None)
# turns it into a null entry, which the report lists as not run.
- name: Write the fleet report on the controller
  onprem.exchange.audit_report:
    results: >-
      {% set results = {} %}{% for host in ansible_play_hosts_all %}{%
      set _ = results.update({host: hostvars[host].exchange_audit | default(None)}) %}{% endfor %}{{ results }}
    dest: "{{ playbook_dir }}/reports"
    title: Contoso Exchange audit
  run_once: true
  register: audit_report

- name: Hand the summary to AWX
  ansible.builtin.set_stats:
    data:
      exchange_audit: "{{ audit_report.summary }}"
  run_once: true

- name: Only the machine-readable files, for a fixed date
  onprem.exchange.audit_report:
    results: "{{ collected_results }}"
    dest: /var/lib/exchange-audit
    formats: [json, csv]
    generated_on: "2026-11-26"
  run_once: true
"""

RETURN = r"""
servers:
  description:
    - One entry per host, sorted by name, as in the JSON file; among its keys C(name), C(status),
      C(build), C(display_name) (the build as admins name it, for example C(Exchange 2019 CU14 Nov24SU)),
      C(organization), C(dag), C(eems_status), C(next_steps) and C(findings).
  returned: success
  type: list
  elements: dict
changed:
  description: Always false; the report is output on the controller, not managed state.
  returned: always
  type: bool
  sample: false
files:
  description: Format to the absolute path of the file written for it. Returned in check mode too.
  returned: success
  type: dict
  sample:
    html: /srv/ansible/reports/exchange-audit.html
    json: /srv/ansible/reports/exchange-audit.json
    csv: /srv/ansible/reports/exchange-audit.csv
    markdown: /srv/ansible/reports/exchange-audit.md
summary:
  description: Fleet counts, small enough for M(ansible.builtin.set_stats).
  returned: success
  type: dict
  contains:
    total:
      description: Number of hosts in O(results).
      type: int
      sample: 14
    by_state:
      description: Hosts per state, C(audited), C(unreachable), C(failed) and C(not_run); every key is present.
      type: dict
      sample: {audited: 12, unreachable: 1, failed: 1, not_run: 0}
    unreachable:
      description: Hosts that could not be reached; the same count as in RV(summary.by_state).
      type: int
      sample: 1
    failed:
      description: Hosts whose build_facts task failed; the same count as in RV(summary.by_state).
      type: int
      sample: 1
    not_run:
      description: Hosts with no result (skipped or never run); the same count as in RV(summary.by_state).
      type: int
      sample: 0
    by_eems_status:
      description:
        - Audited servers per EEMS status, C(working), C(not_working), C(disabled), C(not_applicable)
          (Exchange 2013) and C(unknown); every key is present.
      type: dict
      sample: {working: 3, not_working: 7, disabled: 1, not_applicable: 1, unknown: 0}
    by_lifecycle:
      description: Audited servers per lifecycle state of their build.
      type: dict
      sample: {end_of_life: 10, supported: 2}
    by_product:
      description: Audited servers per product.
      type: dict
      sample: {Exchange 2013: 1, Exchange 2016: 3, Exchange 2019: 6, Exchange SE: 2}
    needing_update:
      description: Audited servers whose plan has at least one step.
      type: int
      sample: 9
    critical_findings:
      description: Critical findings over all audited servers.
      type: int
      sample: 37
    findings_by_severity:
      description: Findings over all audited servers per severity, C(critical), C(warning) and C(info).
      type: dict
      sample: {critical: 37, warning: 11, info: 0}
    hosts:
      description:
        - Host names, sorted, for C(needing_update), C(eems_not_working), C(unreachable), C(failed) and
          C(not_run).
      type: dict
      sample: {needing_update: [EX16A, EX16B], eems_not_working: [EX16A], unreachable: [EX99X], failed: [],
               not_run: []}
"""
