# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/eems_observe.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: eems_observe
short_description: Read what the Exchange Emergency Mitigation Service shows on one server, in one host call
version_added: 0.2.0
description:
  - Reads, in one host call, the organisation and server C(MitigationsEnabled) flags, the server's
    C(MitigationsApplied) and C(MitigationsBlocked) lists, the C(MSExchangeMitigation) service's start mode and
    state, and the newest Mitigation Service events (Application log, IDs 1005, 1006 and 1008).
  - Returns a compact observation for M(onprem.exchange.eems_watch), which compares it with the previous run.
    Each error event carries the cause its text names.
  - Changes nothing on the host.
options: {}
extends_documentation_fragment:
  - action_common_attributes
  - onprem.exchange.ems
  - onprem.exchange.read_only
notes:
  - When the Exchange cmdlets cannot be used, the flags and lists are null and RV(observation.exchange_error) says
    why; the service and events are still read.
seealso:
  - module: onprem.exchange.eems_watch
  - module: onprem.exchange.eems
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Read the Mitigation Service's state and recent events
  onprem.exchange.eems_observe:
  register: observed
"""

RETURN = r"""
observation:
  description: What EEMS shows on the server.
  returned: success
  type: dict
  contains:
    observed_at:
      description: The host's time of the reading (UTC).
      type: str
    build:
      description: The ExSetup.exe version.
      type: str
    service:
      description: C(start_mode) and C(state) of MSExchangeMitigation; null when it is not installed.
      type: dict
    organization:
      description: The organisation's name.
      type: str
    organization_enabled:
      description: The organisation's MitigationsEnabled; null when it could not be read.
      type: bool
    server_enabled:
      description: The server's MitigationsEnabled; null when it could not be read.
      type: bool
    applied:
      description: MitigationsApplied (the IDs EEMS applied), sorted; null when it could not be read.
      type: list
      elements: str
    blocked:
      description: MitigationsBlocked, sorted; null when it could not be read.
      type: list
      elements: str
    events:
      description: The newest Mitigation Service events, newest first (C(id), C(time), C(message) shortened to 600
        characters, and for a 1008 the C(cause) its text names).
      type: list
      elements: dict
    last_success:
      description: Time of the newest event 1005 (a successful check), null when none is in the log.
      type: str
    exchange_error:
      description: Why the Exchange cmdlets could not be used; null when they could.
      type: str
  sample:
    observed_at: "2026-11-26T08:00:00+00:00"
    build: 15.02.2562.053
    service: {start_mode: Automatic, state: Running}
    organization: Contoso
    organization_enabled: true
    server_enabled: true
    applied: [PING1]
    blocked: []
    events: [{id: 1005, time: "2026-11-26T07:58:00+00:00", message: "..."}]
    last_success: "2026-11-26T07:58:00+00:00"
    exchange_error: null
"""
