# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only; the logic runs on the controller in
# plugins/action/preflight.py because Windows hosts cannot run Python.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: preflight
short_description: Check, reading only, whether an Exchange server is ready for the later jobs
version_added: 0.2.0
description:
  - Runs every read-only host operation of the collection on the server (facts, EEMS state, maintenance
    state, rewrite configuration, Active Directory preparation state, install health, Mitigation Service
    events, installer task, staging folder, repository manifest) and checks each answer against the
    collection's answer contracts. An answer the contracts refuse becomes a finding naming the operation
    and the field, not a failed task.
  - Checks the software Exchange Setup's readiness check needs besides .NET and IIS URL Rewrite (the Visual C++
    2012 and 2013 runtimes and, on Mailbox servers, UCMA 4.0; an Edge Transport server needs only the 2012
    runtime), read by C(Get-ExchangeFacts), against the plan toward O(target).
  - Runs one more read-only operation, C(Test-ExchangePrerequisite), on the server. It checks the WinRM listeners and
    local administrator rights, the Exchange Management Shell session, the account's Exchange roles for
    every cmdlet the later jobs run, and whether the server itself reaches the installer repository and
    the Office Config Service.
  - Judges it all on the controller and returns, per job (audit, stage, patch, mitigate, eems), whether
    it is ready, blocked or ready with warnings, with findings that say what to fix.
  - Changes nothing on the host, in check mode or not; never reports C(changed).
options:
  repository_url:
    description:
      - The internal installer repository (C(https://...) or C(\\server\share\...)) whose C(manifest.json)
        the server should reach. Without it the repository is not checked (a warning says so).
    type: str
  repository_username:
    description: Account for the repository, when it needs one; sent to the host as data.
    type: str
  repository_password:
    description: Password of O(repository_username); never returned or logged.
    type: str
  ocs_url:
    description: The Office Config Service address EEMS fetches mitigations from.
    type: str
    default: https://officeclient.microsoft.com/GetExchangeMitigations
  staging_dir:
    description: The staging folder whose drive's free space is checked (it need not exist yet).
    type: str
    default: C:\ExchangeUpdates
  min_free_disk_gb:
    description: Free space a Cumulative Update needs on the system drive and the staging drive.
    type: float
    default: 30
  target:
    description:
      - The patch job's target (C(latest), C(eems), C(eems_minimal) or a build), as in M(onprem.exchange.build_facts).
      - Only used to learn whether patching this server runs Exchange Setup (a Cumulative Update or the upgrade
        to Exchange SE). A Setup prerequisite that is missing (Visual C++ 2012 or 2013 runtime, UCMA 4.0) then
        blocks the patch job; when the plan installs only Security Updates it is a warning.
    type: str
    default: latest
  esu_enrolled:
    description: Whether the organisation is enrolled in Extended Security Updates (planned like O(target)).
    type: bool
    default: false
extends_documentation_fragment:
  - onprem.exchange.ems
  - action_common_attributes
  - onprem.exchange.read_only
notes:
  - Roles are judged the way Microsoft documents it (Get-ManagementRole -Cmdlet against the account's
    role assignments from Get-ManagementRoleAssignment -RoleAssignee), so custom roles count. Reading role
    assignments needs View-Only Configuration or Role Management; without them the roles are reported as
    unknown.
  - Any HTTP answer (even 401 or 404) shows the path to an address is open; only a connection failure
    counts as unreachable.
seealso:
  - module: onprem.exchange.readiness_report
  - module: onprem.exchange.build_facts
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Check a server before the first audit
  onprem.exchange.preflight:
    repository_url: https://exrepo.corp.contoso.com/exchange/
  register: preflight

- name: Show what blocks the patch job
  ansible.builtin.debug:
    msg: "{{ preflight.findings | selectattr('jobs', 'contains', 'patch') | map(attribute='fix') | list }}"
"""

RETURN = r"""
readiness:
  description: C(ready), C(ready_with_warnings) or C(not_ready).
  returned: success
  type: str
  sample: not_ready
jobs:
  description: Per job (audit, stage, patch, mitigate, eems) C(ready), C(warning) or C(blocked).
  returned: success
  type: dict
  sample: {audit: ready, stage: blocked, patch: blocked, mitigate: ready, eems: ready}
findings:
  description: What was found, blockers first; each with C(id), C(severity) (blocker or warning), C(jobs), C(message) and C(fix).
  returned: success
  type: list
  elements: dict
  sample:
    - id: repository_unreachable
      severity: blocker
      jobs: [stage, patch]
      message: "This server cannot reach the installer repository https://exrepo.corp.contoso.com/exchange/: Unable to connect to the remote server"
      fix: "Allow this server to reach exrepo.corp.contoso.com (firewall, proxy, DNS, certificate trust): ..."
server:
  description: A short summary (computer name, build, OS, .NET release, free disk, URL Rewrite, pending reboot, DAG, organisation, account, role groups).
  returned: success
  type: dict
answers:
  description: Per host operation run, C(ok) and the C(error) it gave (an off-contract answer names the field).
  returned: success
  type: dict
"""
