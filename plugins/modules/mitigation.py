# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/mitigation.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: mitigation
short_description: Apply, verify, repair and roll back interim IIS URL Rewrite mitigations on Exchange
version_added: 0.2.0
description:
  - Keeps an interim mitigation (an IIS URL Rewrite rule) in place while a server lacks the code fix,
    and removes it once the fix is installed. Known mitigations are data in the collection
    (CVE-2022-41040 ProxyNotShell, CVE-2021-26855 ProxyLogon, CVE-2026-42897 OWA CSP).
  - Reads the rewrite configuration of Default Web Site and every application under it, including
    C(<remove>) and C(<clear/>) entries that stop an inherited rule, and recognises a mitigation by
    behaviour (input, pattern, match, action, precondition), not by name. An equivalent rule made by
    the Emergency Mitigation Service (C(EEMS M1.1 ...)), by EOMT or by hand counts as present and
    nothing is added beside it.
  - Reports rules that are dangerous or stale - C(match url="*") (HTTP 500 on every path below it),
    superseded ProxyNotShell patterns, C({REQUEST_URI}) without C(UrlDecode), disabled copies,
    duplicates - and with O(repair=true) removes them. Child paths that remove or clear the site rule
    are always put right when the mitigation must be present.
  - Every change is made by one host call that first copies the web.config files to a timestamped
    backup on the server and restores that backup itself if a change fails half-way.
    O(state=restored) puts a backup back exactly.
  - Before an EEMS-owned rule is removed, its mitigation ID is added to the server's
    C(MitigationsBlocked), otherwise EEMS writes the rule again within the hour; a warning says so.
options:
  name:
    description:
      - The mitigation, by name (C(proxynotshell), C(proxylogon), C(owa_csp)), by CVE (for example
        C(CVE-2022-41040)), or C(all) for every known mitigation.
      - Required unless O(state=restored).
    type: str
    aliases: [cve]
  state:
    description:
      - C(present) makes sure the mitigation protects the server; C(absent) removes every rule that
        belongs to it.
      - C(auto) is C(present) while the server's build lacks the code fix (by the build catalog) and
        C(absent) once it has it, except for a mitigation Microsoft advises keeping after the fix
        (CVE-2026-42897's OWA CSP rule, per the June 2026 SU release notes). That one is kept where it
        is in place (and repaired), and not added where it is not, unless O(remove_after_fix=true).
      - C(restored) puts back the rewrite configuration of O(restore_from) exactly, whatever mitigation it was.
        A backup that holds applicationHost.config is refused (nothing is restored) when something other
        than that backup's own change has changed the file since, because restoring the whole file would
        undo those changes too.
    type: str
    choices: [present, absent, auto, restored]
    default: auto
  repair:
    description:
      - Also remove rules of this mitigation that are dangerous, stale, disabled or duplicated.
        Without it they are only reported in RV(findings).
    type: bool
    default: false
  remove_after_fix:
    description:
      - With O(state=auto), also remove a mitigation Microsoft advises keeping after its code fix
        (CVE-2026-42897) once the server has the fix. Without it such a mitigation stays in place.
      - O(state=absent) removes it whatever this option says.
    type: bool
    default: false
  restore_from:
    description:
      - With O(state=restored), the backup ID to restore (as returned in RV(backup)), or C(latest).
      - The alias C(backup) is deprecated and will be removed in version 2.0.0. In Ansible an option
        called C(backup) usually means "make a backup first"; this one names a backup to put back.
    type: str
    default: latest
    aliases: [backup]
  install_url_rewrite:
    description:
      - Install the IIS URL Rewrite module from O(repository_url) when it is missing or older than
        URL Rewrite 2.1 and a rule must be added. Without it the task fails and changes nothing.
      - The installed product's version (its Uninstall entry, 7.2.1993 for 2.1) is compared with
        7.2.1993; only when no such entry exists is C(rewrite.dll)'s own file version (7.1.1993.2351
        for 2.1) compared with 7.1.1993.
    type: bool
    default: false
  repository_url:
    description:
      - The internal package repository (HTTP or HTTPS) holding the URL Rewrite MSI and its
        C(manifest.json) with size and SHA256. The server downloads from it itself.
    type: str
  url_rewrite_package:
    description:
      - File name of the URL Rewrite MSI in the repository. Defaults to the collection's data
        (C(rewrite_amd64_en-US.msi)).
    type: str
extends_documentation_fragment:
  - action_common_attributes
  - onprem.exchange.ems
attributes:
  check_mode:
    support: full
    details: Check mode reads the configuration and reports the exact rule changes (and the EEMS IDs it would block) without writing.
  diff_mode:
    support: partial
    details: The diff shows each touched location's rewrite section before and after. O(state=restored) reports the backup but no diff.
  platform:
    platforms: windows
notes:
  - The Exchange cmdlets (and so O(ems_username)/O(ems_password)) are needed only to block an EEMS
    mitigation before its rule is removed.
  - The installer is run only when its size and SHA256 match the repository manifest and its
    Authenticode signer is accepted.
  - Rules are read from the web.config files and from applicationHost.config (its server-level section and its
    C(<location path="Default Web Site/...">) sections), in the order IIS merges them. A stale or dangerous rule (or a C(<remove>) that drops
    the site rule) that lives in applicationHost.config is removed there, after applicationHost.config is
    copied into the same backup; rules are only ever added to web.config files.
  - A server using IIS shared configuration (applicationHost.config redirected to a share) is not
    supported for rules that live in applicationHost.config.
seealso:
  - module: onprem.exchange.build_facts
  - module: onprem.exchange.mitigation_report
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Keep every known mitigation exactly as long as the build needs it
  onprem.exchange.mitigation:
    name: all
    state: auto
    repair: true
    install_url_rewrite: true
    repository_url: "{{ exchange_repository_url }}"
  register: mitigations

- name: Show what protects the server
  ansible.builtin.debug:
    msg: "{{ mitigations.mitigations | map(attribute='protected_by') | list }}"

- name: Remove the CVE-2026-42897 OWA mitigation after the fix, against Microsoft's advice to keep it
  onprem.exchange.mitigation:
    cve: CVE-2026-42897
    state: auto
    remove_after_fix: true

- name: Apply the ProxyNotShell mitigation now
  onprem.exchange.mitigation:
    cve: CVE-2022-41040
    state: present
  register: proxynotshell

- name: Roll back the change that task made
  onprem.exchange.mitigation:
    state: restored
    restore_from: "{{ proxynotshell.backup.id }}"
  when: proxynotshell.backup is not none
"""

RETURN = r"""
mitigations:
  description: One entry per mitigation handled.
  returned: unless O(state=restored)
  type: list
  elements: dict
  contains:
    name:
      description: Mitigation name.
      type: str
    cve:
      description: The CVE it covers.
      type: str
    state:
      description:
        - The state aimed for (C(auto) resolved to C(present) or C(absent), or C(keep) for a mitigation kept
          after its code fix).
      type: str
    kept_after_fix:
      description: Whether the mitigation stays in place although the build has the code fix, as Microsoft advises.
      type: bool
    code_fix:
      description: Whether the build carries the code fix; null when it cannot be told.
      type: bool
    present:
      description: Whether the mitigation protects the server after the run (predicted in check mode).
      type: bool
    protected_by:
      description: C(code_fix), C(mitigation) or C(nothing).
      type: str
    providers:
      description: The rules in force that provide it, with their C(owner) (eems, eomt, onprem.exchange, manual).
      type: list
      elements: dict
    findings:
      description: Dangerous, stale, disabled or duplicated rules of this mitigation, after the run.
      type: list
      elements: dict
  sample:
    - name: proxynotshell
      cve: CVE-2022-41040
      state: present
      code_fix: false
      present: true
      protected_by: mitigation
      providers: [{name: EEMS M1.1 PowerShell - inbound, owner: eems}]
      findings: []
findings:
  description: Every finding, each with C(id), C(severity), C(cve), C(rule), C(path) and C(message);
    also rules matching C(url="*") that belong to no mitigation.
  returned: unless O(state=restored)
  type: list
  elements: dict
  sample:
    - id: match_url_star
      severity: critical
      cve: CVE-2022-41040
      rule: ZeroDay_Mitigation
      path: /
      message: "rule 'ZeroDay_Mitigation' at / matches url=\"*\", an invalid regular expression: every request below it fails with HTTP 500"
changes:
  description: The rule-level changes, one line each (made, or predicted in check mode).
  returned: unless O(state=restored)
  type: list
  elements: str
  sample: ["add inbound rule 'onprem.exchange CVE-2022-41040 - inbound' at Default Web Site"]
rule_changes:
  description: The same changes as data, as sent to the host.
  returned: unless O(state=restored)
  type: list
  elements: dict
eems_blocked:
  description: EEMS mitigation IDs added (or, in check mode, to be added) to MitigationsBlocked before their rules are removed.
  returned: unless O(state=restored)
  type: list
  elements: str
  sample: [M1.1]
backup:
  description: The backup taken on the server before the change (C(id), C(time), C(path)), or with O(state=restored)
    the backup restored. Null when nothing was written.
  returned: always
  type: dict
  sample: {id: 20261126T080010Z-001, time: "2026-11-26T08:00:10+00:00",
           path: 'C:\Windows\System32\inetsrv\config\onprem.exchange\rewrite-backups\20261126T080010Z-001'}
restored_files:
  description: The files put back by O(state=restored).
  returned: when O(state=restored)
  type: list
  elements: str
url_rewrite:
  description:
    - The URL Rewrite module (C(installed), C(product_version) from its Uninstall entry, C(file_version) of
      C(rewrite.dll)), the minimums they are compared with (C(min_version), C(min_file_version)) and whether
      this run installs it (C(install)).
  returned: unless O(state=restored)
  type: dict
  sample: {installed: true, product_version: 7.2.1993, file_version: 7.1.1993.2351, min_version: 7.2.1993,
           min_file_version: 7.1.1993, install: false}
build:
  description: The ExSetup.exe build the code-fix decision was made on.
  returned: unless O(state=restored)
  type: str
  sample: 15.02.1118.026
"""
