# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/build_facts.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: build_facts
short_description: Find an Exchange server's exact build, judge it and plan its updates
version_added: 0.1.0
description:
  - Collects, in one PowerShell call on the host, everything later steps need about an Exchange
    server - the ExSetup.exe file version (the only place the installed SU shows), the MSI CU
    level, installed update packages, roles, edition, DAG and database copies, component states,
    .NET release, operating system, free disk, pending reboot, an interrupted Setup's watermark,
    EEMS organisation and server flags, the Mitigation Service's state and recent events,
    the IIS URL Rewrite module and rewrite rules.
  - On the controller, the build catalog classifies the build (product, CU, exact update,
    lifecycle, both EEMS cut-offs, hybrid baseline, fixed CVEs), the planner turns facts and
    policy into ordered steps, and the EEMS state is judged from build, flags, service and
    event text.
  - Changes nothing on the host; check mode runs it the same way.
options:
  target:
    description:
      - What the plan aims for.
      - C(latest) is the newest build the server can reach (Exchange 2019 goes on to SE).
      - C(eems) restores the Emergency Mitigation Service (both cut-offs, March 2023 SU and June 2026 SU) with
        the newest update on the server's own product line when that line can, else on the line it can reach
        (Exchange 2019 without ESU goes to SE); nothing when EEMS already works. Where no build meets both
        cut-offs it plans the newest one that meets March 2023 and says the target is out of reach.
      - C(eems_minimal) is the smallest change that meets both EEMS cut-offs.
      - Any build string, for example C(15.2.1748.53), asks for that exact catalog build.
      - Any other value fails before the host is contacted, naming the allowed values.
    type: str
    default: latest
  esu_enrolled:
    description:
      - Whether the organisation is enrolled in Extended Security Updates for Exchange 2016/2019.
        ESU-only updates are planned only when this is true.
    type: bool
    default: false
  min_free_disk_gb:
    description:
      - Free space the system drive must have before an install. Default 30 GB when a CU or SE
        upgrade is planned, 10 GB when only SUs are.
    type: float
  installer_format:
    description:
      - Package type planned for SUs. C(msp) suits unattended installs; C(exe) elevates itself.
    type: str
    choices: [msp, exe]
    default: msp
  available_media:
    description:
      - Installer file names the installer repository holds (for example C(ExchangeServer2016-x64-CU22.iso)).
      - A CU whose media Microsoft no longer offers is planned only when its file is listed here; otherwise the
        plan leaves it out and a C(media_missing) or C(dotnet_then_cu_directly) finding names the file.
      - Omitted means the repository's content is unknown; only CUs Microsoft still offers are planned.
    type: list
    elements: str
  today:
    description:
      - The date (YYYY-MM-DD) lifecycle and cut-off rules are judged for. Defaults to today on the
        controller. Set it to reproduce an earlier audit.
    type: str
  services_meant_off:
    description:
      - Exchange services the admin keeps disabled on purpose (for example C(MSExchangePOP3),
        C(MSExchangeImap4)); no finding is raised for them. A disabled service is never read as an
        interrupted Setup on its own; the Setup watermark decides that.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - action_common_attributes
  - onprem.exchange.ems
  - onprem.exchange.read_only
notes:
  - The ExSetup.exe version is authoritative; AdminDisplayVersion shows only the CU.
  - Extra catalog files named in the inventory variable C(exchange_catalog_files) (see
    M(onprem.exchange.catalog_import)) are merged over the shipped build catalog; a bad one fails the task
    before the host is contacted, naming the file and the entry.
  - The operating system is read from the WMI caption, or its version number when the caption does not name a
    Windows Server release; the plan never installs a CU the OS does not support or a .NET the OS cannot have.
  - Without a usable Exchange Management Shell credential the module still returns every local
    fact and says plainly, in C(findings), why the Exchange facts are missing.
seealso:
  - module: onprem.exchange.host_info
  - plugin: onprem.exchange.exchange_build
    plugin_type: filter
  - plugin: onprem.exchange.exchange_plan
    plugin_type: filter
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Gather facts and plan the smallest change that restores EEMS
  onprem.exchange.build_facts:
    target: eems
    esu_enrolled: false
  register: audit

- name: Show what the server needs
  ansible.builtin.debug:
    msg: "{{ ansible_facts.exchange.build_info.description }}: {{ audit.plan.steps | map(attribute='action') | list }}"

- name: Stop when a server cannot reach its target
  ansible.builtin.fail:
    msg: "{{ audit.findings | selectattr('severity', 'equalto', 'critical') | map(attribute='message') | list }}"
  when: not audit.plan.reachable
"""

RETURN = r"""
ansible_facts:
  description: Facts about the server.
  returned: success
  type: dict
  contains:
    exchange:
      description:
        - Everything gathered, plus C(build) (normalised, e.g. C(15.2.1748.53)), C(build_info)
          (the catalog's classification), C(eems_status) and C(gathered_on).
        - C(exchange) inside it is null when the Exchange cmdlets could not be used; C(ems.error)
          then says why.
      type: dict
      sample:
        build: 15.2.1748.53
        build_info: {product: Exchange 2019, cu: CU15, update: Sep26SUv2, lifecycle: esu}
        eems_status: {status: working, cause: null, remedy: null, evidence: "event 1005 at 2026-11-26T08:00:00Z"}
plan:
  description: The ordered update path for the policy given.
  returned: success
  type: dict
  contains:
    steps:
      description: Ordered steps, each with C(order), C(action), C(from_build), C(to_build), C(update), C(kb), C(installer), C(reason), C(esu_only).
      type: list
      elements: dict
    reachable:
      description: Whether the target can be reached (or already is).
      type: bool
    meets_eems:
      description: Whether each EEMS cut-off (C(march_2023), C(june_2026)) is met once the plan is carried out; null on Exchange 2013.
      type: dict
    target:
      description: The target the plan aims for.
      type: dict
findings:
  description: What needs attention, each with C(id), C(severity) (info, warning, critical), C(message) and C(remedy).
  returned: success
  type: list
  elements: dict
  sample:
    - id: eems_build_before_march_2023
      severity: critical
      message: "The Emergency Mitigation Service is not working: build before march 2023 (build 15.1.2375.37)."
      remedy: Install the update the plan names.
"""
