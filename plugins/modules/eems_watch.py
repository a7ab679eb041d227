# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/eems_watch.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: eems_watch
short_description: Compare this run's EEMS observations with the previous run and raise what changed
version_added: 0.2.0
description:
  - Runs on the controller and contacts no host. Takes every server's registered
    M(onprem.exchange.eems_observe) result, compares it with the record the previous run left in
    O(history_dir), and returns what changed.
  - "Alerts: a new Mitigation Service error event (1008) - not the same failure repeated by the hourly check;
    the service stopped, disabled or removed; the organisation or server flag switched off; a mitigation newly
    applied by EEMS (its ID, and the event that names it when there is one) or newly blocked; a server that stopped
    reporting (unreachable or failed; raised once, until it reports again)."
  - "Notices: a flag switched on, the service started again, a mitigation removed or unblocked, a server reporting
    again, a server first seen, a server in the history but not in this run."
  - The first run (no history file) records a baseline and raises nothing.
  - Writes the new record to C(eems-watch-history.json) in O(history_dir) atomically (a temporary file renamed
    into place), never in check mode. A server that does not report keeps its last observation, so its return is
    compared with what it last showed; a server left out of the run (C(--limit)) is kept unchanged.
options:
  results:
    description:
      - Every server of the run mapped to its registered M(onprem.exchange.eems_observe) result, or null for a
        server that left none. Failed and unreachable results count as "not reporting".
    type: dict
    required: true
  history_dir:
    description:
      - Folder on the controller for the history file. Created when missing.
    type: path
    required: true
  run_at:
    description:
      - Time stamp of this run (ISO 8601); defaults to the controller's current UTC time.
    type: str
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
    details: Compares and reports, writes no history.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - C(changed) is always false - the history is the watch's own record, not state of a managed host.
seealso:
  - module: onprem.exchange.eems_observe
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Compare with the history and record this run
  onprem.exchange.eems_watch:
    results: "{{ dict(servers | zip(servers | map('extract', hostvars, 'observed') | map('default', none))) }}"
    history_dir: /var/lib/exchange-reports
  register: watch
"""

RETURN = r"""
summary:
  description: The run at a glance, for AWX notifications (published by C(playbooks/eems_watch.yml) as
    C(exchange_eems_watch_summary)).
  returned: always
  type: dict
  contains:
    run_at:
      description: This run's time stamp.
      type: str
    previous_run_at:
      description: The previous run's time stamp; null on the first run.
      type: str
    baseline:
      description: True on the first run (nothing compared).
      type: bool
    servers:
      description: Servers in the run.
      type: int
    observed:
      description: Servers that reported.
      type: int
    not_reporting:
      description: Servers that did not report this run.
      type: list
      elements: str
    alerts:
      description: Number of alerts.
      type: int
    notices:
      description: Number of notices.
      type: int
    by_kind:
      description: Count per kind of change.
      type: dict
    changes:
      description: Each change with C(server), C(kind), C(severity) (C(alert) or C(notice)), C(message) and
        details (C(cause) and C(text) of a new error event, C(mitigation), C(error)).
      type: list
      elements: dict
    history:
      description: The history file.
      type: str
    history_written:
      description: Whether it was written (false in check mode).
      type: bool
  sample:
    run_at: "2026-11-26T09:00:00+00:00"
    previous_run_at: "2026-11-26T08:00:00+00:00"
    baseline: false
    servers: 3
    observed: 3
    not_reporting: []
    alerts: 1
    notices: 0
    by_kind: {service_stopped: 1}
    changes: [{server: EX1, kind: service_stopped, severity: alert, message: "MSExchangeMitigation is Stopped (was Running)"}]
    history: /var/lib/exchange-reports/eems-watch-history.json
    history_written: true
servers:
  description: Per server C(status) (C(observed), C(unreachable), C(failed), C(not_in_run)), C(error) and its
    C(changes).
  returned: always
  type: dict
lines:
  description: The summary as lines a person reads, alerts first.
  returned: always
  type: list
  elements: str
"""
