# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/eems.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: eems
short_description: Switch the Exchange Emergency Mitigation Service on and prove it works
version_added: 0.1.0
description:
  - Sets the desired state of the Exchange Emergency Mitigation Service (EEMS) on one server - the
    organisation flag (C(Set-OrganizationConfig -MitigationsEnabled)), the server flag, the server's
    C(MitigationsBlocked) list, C(DataCollectionEnabled), C(InternetWebProxy), and the
    C(MSExchangeMitigation) service (startup type Automatic and running).
  - Every setting is optional; a setting left out is neither read for change nor touched. With no
    setting at all the module only reads and judges, which makes it the "before" snapshot of a run.
  - The blocked list is a set. C(Set-ExchangeServer -MitigationsBlocked) replaces the whole list, so
    the module computes the new list from the current one (O(mitigations_blocked.add),
    O(mitigations_blocked.remove) or O(mitigations_blocked.set)) and never sends the task's list as it
    stands; the write is refused when the list changed since it was read.
  - The organisation flag is organisation-wide. The module reads it and writes it only when it
    differs, and the host script reads it again just before writing, so when many hosts of one
    organisation run the task, one host sets it and the others report C(changed=false) with a message
    saying so. C(playbooks/eems.yml) goes further and sends the write from one host per organisation.
  - After a change (or with O(verify=true)) the module forces a check by starting or restarting the
    Mitigation Service, waits at most O(verify_timeout) seconds for the service's own evidence (event
    1005 or 1006 after the restart, or a grown applied list) and reports C(working), or the cause read
    from event 1008 with its remedy. Reaching C(officeclient.microsoft.com) alone is no proof - an
    outdated server reaches it and still fails.
  - A check is also forced when the newest event blames a build cut-off that the installed build now
    meets (a server patched since its last hourly check), so a re-run after patching reports the
    current truth.
  - For causes the build is to blame for, the remedy names the updates the update planner picks to meet
    both EEMS cut-offs (for example C(Install CU23 then Mar23SU)).
options:
  organization_mitigations_enabled:
    description:
      - Wanted value of the organisation's C(MitigationsEnabled). C(false) stops EEMS on every server
        of the organisation, whatever the server flag says.
      - Omit it to leave the organisation alone.
    type: bool
  mitigations_enabled:
    description:
      - Wanted value of the server's C(MitigationsEnabled). Omit it to leave it alone.
    type: bool
  mitigations_blocked:
    description:
      - Changes to the server's C(MitigationsBlocked) list of mitigation IDs (for example C(M1.1),
        C(M2.1.0), C(PING1)), in the shape of the list options of C(microsoft.ad) (C(members) of
        C(microsoft.ad.group)). IDs compare case-insensitively.
      - Blocking does not remove a mitigation already applied; it stops EEMS from applying it again.
      - Omit it to leave the list alone.
      - The form before 1.0, a list with C(mitigations_blocked_mode=add|remove|exact), still works and
        is deprecated (removed in version 2.0.0); C(exact) is now O(mitigations_blocked.set).
    type: dict
    suboptions:
      add:
        description:
          - Block these IDs as well, keeping every other blocked ID.
          - May go with O(mitigations_blocked.remove); an ID in both is refused.
        type: list
        elements: str
      remove:
        description:
          - Unblock these IDs, keeping every other blocked ID.
        type: list
        elements: str
      set:
        description:
          - Make the list exactly these IDs; C([]) clears it. Only this key drops IDs the task did not
            name, and it cannot go with O(mitigations_blocked.add) or O(mitigations_blocked.remove).
        type: list
        elements: str
  data_collection_enabled:
    description:
      - Wanted value of the server's C(DataCollectionEnabled) (diagnostic data sent to Microsoft through
        the Office Config Service). Omit it to leave it alone.
    type: bool
  internet_web_proxy:
    description:
      - Wanted C(InternetWebProxy) of the server, an http(s) URL such as C(http://proxy.contoso.com:8080/).
        An empty string clears it. Omit it to leave it alone.
      - A proxy that inspects TLS breaks EEMS; point this at one that does not inspect
        C(officeclient.microsoft.com).
    type: str
  service_running:
    description:
      - C(true) sets C(MSExchangeMitigation) to start automatically and starts it.
      - Left alone while an interrupted Exchange Setup is unfinished (its watermark is present), because
        Setup disables Exchange services on purpose; the result says so.
      - C(false) is refused; omit the option to leave the service alone.
    type: bool
  verify:
    description:
      - Force a check even when nothing changed. After a change a check is always forced unless
        O(verify_timeout) is C(0).
      - A forced check restarts C(MSExchangeMitigation), which counts as a change.
    type: bool
    default: false
  verify_timeout:
    description:
      - Seconds to wait for the forced check's evidence. The service checks as it starts, but its
        events can take minutes on a busy server.
      - C(0) never forces a check; the verdict then rests on the newest events.
    type: int
    default: 900
  verify_interval:
    description:
      - Seconds between two reads of the Mitigation Service's events while waiting.
    type: float
    default: 15.0
  esu_enrolled:
    description:
      - Whether the organisation is enrolled in Extended Security Updates for Exchange 2016/2019; the
        remedy names ESU-only updates only when it is.
    type: bool
    default: false
  today:
    description:
      - The date (YYYY-MM-DD) the cut-off rules are judged for. Defaults to today on the controller.
    type: str
extends_documentation_fragment:
  - action_common_attributes
  - onprem.exchange.ems
attributes:
  check_mode:
    support: full
    details: Reads the state and reports the changes (and the forced check) a real run would make; sends nothing that writes.
  diff_mode:
    support: full
  platform:
    platforms: windows
notes:
  - Changing the organisation flag needs the Organization Management role; the server settings need
    Server Management or Organization Management.
  - Exchange 2013, Edge Transport servers and builds older than Exchange 2016 CU22 or 2019 CU11 have no
    Mitigation Service; the module then changes nothing and says so in RV(left_alone).
  - The verdict reports a server that cannot work even though every flag is on, for example a build
    older than the March 2023 SU (Office Config Service certificate) or the June 2026 SU.
  - Event 1008 texts are recognised from the texts Microsoft and field reports published (kept with
    their sources in the collection's C(plugin_utils/_data/eems_events.yml)), ignoring case and line
    wrapping; an error text that matches none gives cause C(unknown_error) with the raw text in
    RV(eems.event_text).
seealso:
  - module: onprem.exchange.build_facts
  - name: Exchange Emergency Mitigation (EM) service
    description: Microsoft's description of the service, its settings and its events.
    link: https://learn.microsoft.com/exchange/exchange-emergency-mitigation-service
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Switch EEMS on for the server and make sure its service runs
  onprem.exchange.eems:
    mitigations_enabled: true
    service_running: true
  register: eems

- name: Tell the operator when EEMS is not working, and why
  ansible.builtin.debug:
    msg: "{{ eems.eems.cause }}: {{ eems.eems.remedy }}"
  when: eems.eems.status != 'working'

- name: Switch EEMS on for the organisation (once is enough; other hosts report no change)
  onprem.exchange.eems:
    organization_mitigations_enabled: true

- name: Block the ProxyNotShell mitigation before removing its rewrite rule, keeping other blocks
  onprem.exchange.eems:
    mitigations_blocked:
      add: [M1.1]

- name: Unblock it again after the rule is gone for good
  onprem.exchange.eems:
    mitigations_blocked:
      remove: [M1.1]

- name: Route EEMS through a proxy that does not inspect TLS and prove it works
  onprem.exchange.eems:
    internet_web_proxy: http://proxy-noinspect.contoso.com:8080/
    verify: true
    verify_timeout: 900
"""

RETURN = r"""
changed:
  description: Whether a setting changed or the service was started or restarted to force a check.
  returned: always
  type: bool
  sample: true
changes:
  description:
    - One entry per setting that differed, with C(scope) (C(organization), C(server) or C(service)),
      C(setting) (the Exchange or service property), C(before) and C(after).
    - In check mode, the changes a real run would make.
  returned: always
  type: list
  elements: dict
  sample: [{scope: server, setting: MitigationsBlocked, before: [M2.1.0], after: [M2.1.0, M1.1]}]
left_alone:
  description: Managed settings that were left alone, each with C(setting) and C(reason).
  returned: always
  type: list
  elements: dict
  sample: [{setting: service, reason: "Exchange Setup did not finish (watermark MailboxRole: ...); finish Setup before starting MSExchangeMitigation"}]
organization:
  description: The organisation-wide flag and what this host did about it.
  returned: always
  type: dict
  contains:
    name:
      description: The organisation's name (null when the Exchange cmdlets could not be used).
      type: str
    mitigations_enabled:
      description: The organisation's C(MitigationsEnabled) after the task (before it, in check mode).
      type: bool
    managed:
      description: Whether the task set O(organization_mitigations_enabled).
      type: bool
    changed:
      description: Whether this host wrote the organisation flag.
      type: bool
    set_by:
      description: This host, when it was the one that wrote the flag.
      type: str
      returned: when this host changed the flag
    message:
      description: What happened, for example that another host had already set it.
      type: str
  sample:
    name: Contoso
    mitigations_enabled: true
    managed: true
    changed: true
    set_by: EX16A
    message: "organisation Contoso: MitigationsEnabled set to True by EX16A, once for the whole organisation"
settings:
  description: The managed settings as read after the task (before it, in check mode).
  returned: always
  type: dict
  sample:
    organization: {name: Contoso, MitigationsEnabled: true}
    server: {MitigationsEnabled: true, MitigationsBlocked: [], DataCollectionEnabled: false, InternetWebProxy: ""}
    service: {name: MSExchangeMitigation, StartType: Automatic, Status: Running}
eems:
  description: The verdict.
  returned: always
  type: dict
  contains:
    status:
      description: C(working), C(not_working), C(disabled), C(not_applicable) (no Mitigation Service on this
        build) or C(unknown).
      type: str
    cause:
      description:
        - Why it is not working, null when it works. One of C(build_before_march_2023),
          C(build_before_june_2026), C(tls_inspecting_proxy), C(signing_certificate_untrusted),
          C(endpoint_unreachable), C(fetch_failed),
          C(service_not_running), C(service_will_not_start), C(setup_incomplete),
          C(disabled_at_organization), C(disabled_at_server), C(not_applicable),
          C(exchange_cmdlets_unavailable), C(no_evidence), C(no_evidence_after_check), C(unknown_error).
      type: str
    remedy:
      description: What to do about the cause; for build causes it names the updates to install.
      type: str
    evidence:
      description: What the verdict rests on (event id, time and text, build, service state).
      type: str
    event_text:
      description: The full text of the Mitigation Service error event the verdict rests on (at most 4000
        characters); present only when an event 1008 decided it.
      type: str
      returned: when an error event decided the verdict
    build:
      description: The installed build (ExSetup.exe version), normalised.
      type: str
  sample:
    status: not_working
    cause: build_before_march_2023
    remedy: "Install CU23 then Mar23SU (to 15.1.2507.23): builds older than the March 2023 SU can no longer fetch ..."
    evidence: "event 1008 at 2026-11-26T08:03:00+00:00 after the forced check: An unexpected exception occurred. ..."
    build: 15.1.2375.37
verification:
  description: Whether a check was forced and waited for.
  returned: always
  type: dict
  contains:
    performed:
      description: Whether a forced check's evidence was waited for.
      type: bool
    forced_check:
      description: Whether the service was started or restarted to force a check (in check mode, whether it would be).
      type: bool
    checked_from:
      description: Host time just before the start or restart; only events from then on count.
      type: str
      returned: when a check was performed
    polls:
      description: How many times the events were read.
      type: int
      returned: when a check was performed
    reason:
      description: Why a check was or was not forced.
      type: str
  sample: {performed: true, forced_check: true, checked_from: "2026-11-26T08:02:10+00:00", polls: 2,
           reason: restarted to force a check}
diff:
  description: Before and after of the managed settings, when run with C(--diff).
  returned: when diff mode is on
  type: dict
msg:
  description: One line for people - the host, the status, the cause and how many settings changed.
  sample: "EX16A: EEMS not working (build before march 2023); 2 setting(s) changed"
  returned: always
  type: str
"""
