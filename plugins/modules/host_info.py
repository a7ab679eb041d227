# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only; the logic runs on the controller in
# plugins/action/host_info.py because Windows hosts cannot run Python.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_info
short_description: Check the connection to an Exchange server and identify it
version_added: 0.1.0
description:
  - Runs one small, constant PowerShell script on the host through its Ansible connection and
    returns the computer name, domain, operating system, last boot time and PowerShell version.
  - Sends a fresh random token and requires it back, so a stale or replayed answer fails the task.
  - Use it as the first task of a play to prove that WinRM, authentication and the collection's
    host-call path work before anything else runs.
  - Changes nothing on the host.
options: {}
extends_documentation_fragment:
  - action_common_attributes
  - onprem.exchange.read_only
notes:
  - Works over the C(winrm) connection, and over C(psrp) or C(ssh) with the PowerShell shell.
  - Needs no Exchange Management Shell and no administrative rights.
seealso:
  - module: ansible.builtin.raw
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Check that every Exchange server answers
  onprem.exchange.host_info:
  register: identity

- name: Show which server answered
  ansible.builtin.debug:
    msg: "{{ identity.host.fqdn }} up since {{ identity.host.last_boot }}"
"""

RETURN = r"""
host:
  description: What the host reported about itself.
  returned: success
  type: dict
  contains:
    computer_name:
      description: NetBIOS computer name.
      type: str
      sample: EX19B
    fqdn:
      description: Fully qualified name built from the computer name and its domain.
      type: str
      sample: EX19B.corp.contoso.com
    domain:
      description: DNS domain the computer belongs to.
      type: str
      sample: corp.contoso.com
    os_caption:
      description: Operating system name.
      type: str
      sample: Microsoft Windows Server 2019 Datacenter
    os_version:
      description: Operating system version.
      type: str
      sample: 10.0.17763
    last_boot:
      description: Last boot time, UTC, ISO 8601.
      type: str
      sample: "2026-11-23T08:00:00+00:00"
    local_time:
      description: The host's current time, UTC, ISO 8601.
      type: str
      sample: "2026-11-26T08:01:00+00:00"
    powershell_version:
      description: Windows PowerShell version.
      type: str
      sample: 5.1.17763.1
"""
