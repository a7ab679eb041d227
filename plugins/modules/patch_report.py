# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/patch_report.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: patch_report
short_description: Write the patch window report (HTML, JSON, CSV, Markdown) on the controller
version_added: 0.2.0
description:
  - Renders, per server, the outcome of a patch window run by the C(onprem.exchange.exchange_patch)
    role - build before and after, steps done, time taken, whether it was left in maintenance, and
    anything left undone with why - plus a summary with the window's makespan.
  - What is left undone is the server's state after the window - its service state as the role's final
    sweep read it and, where the window changed the build, what the target still lacks at the new
    build - not the plan made before the window.
  - Contacts no host. Writes files only when their content changed, so it reports C(changed=false).
  - Writes C(exchange-patch.html), C(.json), C(.csv) and C(.md) into O(dest) (as chosen in O(formats)).
options:
  results:
    description:
      - Each server's C(exchange_patch_result) fact, by inventory name; null for a server that has none.
    type: dict
    required: true
  title:
    description: Report title.
    type: str
    default: Exchange patch window
  window_end:
    description: The window end, printed in the report.
    type: str
extends_documentation_fragment:
  - onprem.exchange.report
  - action_common_attributes
  - action_common_attributes.flow
seealso:
  - module: onprem.exchange.update_install
  - module: onprem.exchange.audit_report
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Write the patch report
  onprem.exchange.patch_report:
    results: "{{ dict(groups['exchange'] | zip(groups['exchange'] | map('extract', hostvars, 'exchange_patch_result'))) }}"
    dest: reports
  register: patch_report

- name: Show where the HTML report is
  ansible.builtin.debug:
    msg: "{{ patch_report.files.html }}"
"""

RETURN = r"""
servers:
  description:
    - One entry per server, sorted by name, as in the JSON file; among its keys C(name), C(status),
      C(build_before), C(build_after), C(change) (the builds as admins name them, with a product change
      said plainly), C(maintenance) and C(left_undone) (each C(step) with C(why), as the server stands
      after the window).
  returned: success
  type: list
  elements: dict
summary:
  description:
    - C(total), C(by_status) (failed_in_maintenance, failed, unreachable, no_result,
      not_started_window_closed, patched, maintained, returned_to_service, up_to_date; maintained is a server
      whose Exchange was already at its target, taken out of service only for the admin's hook tasks and put
      back, see the role option exchange_patch_hooks_on_every_server), C(problems), C(hosts) (patched, maintained,
      problems, in_maintenance (every server in maintenance or possibly out of service),
      possibly_out_of_service (could not be reached at the end of the window), not_started),
      C(window_started), C(window_finished), C(makespan_seconds).
  returned: success
  type: dict
  sample:
    total: 3
    by_status: {patched: 2, failed_in_maintenance: 1}
    problems: 1
    hosts: {in_maintenance: [EX19C]}
    makespan_seconds: 5400.0
out_of_service:
  description: One line per server the window left in maintenance or possibly out of service, with what was
    last done; empty when every server is in service.
  returned: success
  type: list
  elements: str
  sample: ["EX19C: possibly out of service (could not be reached); last done: entering maintenance"]
files:
  description: Path of each file written, by format.
  returned: success
  type: dict
  sample: {html: /srv/reports/exchange-patch.html, json: /srv/reports/exchange-patch.json}
"""
