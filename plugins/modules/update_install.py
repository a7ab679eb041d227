# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/update_install.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: update_install
short_description: Install the planned Exchange CU, SU or .NET update, reboot and verify
version_added: 0.2.0
description:
  - Carries out the install steps of a plan from M(onprem.exchange.build_facts) on one Exchange
    server, with installers that M(onprem.exchange.update_stage) has already put on the server.
  - "Pre-flight: a pending restart is done first; an interrupted Setup (its watermark) is reported
    and finished with Setup from the same CU media (O(resume_installer)); an SU is refused when the
    server is not on the CU the SU was built for; a CU is refused when the .NET Framework is too old
    for it; Active Directory preparation runs once for the organisation when O(allow_ad_prep=true)
    and no server of the organisation runs the new CU line yet."
  - Each installer runs as a scheduled task under O(setup_username), because Setup needs Active
    Directory, which a WinRM network logon cannot reach on the user's behalf, and because a task
    survives a dropped WinRM connection. A CU runs C(Setup.exe /Mode:Upgrade) from the mounted ISO
    with the licence switch that CU expects; an SU runs C(msiexec /p) with the C(.msp), quiet and
    elevated.
  - The task is polled with short read-only calls. The result is judged from the exit code and the
    installer's log together - C(0) succeeded, C(3010) succeeded and needs a restart, C(1603) and any
    other code failed, and an installer that vanished (for example killed by a restart) failed too.
    A failure returns the relevant log lines.
  - After each installer the server is restarted, the module waits for WinRM (a fresh token and a new
    boot time prove the restart) and then for the Exchange services, and checks the build.
  - At the end it verifies the build equals the plan's last step, every service that was Automatic
    before the install runs again and none of them is left disabled, Setup left no watermark and its
    log's last verdict is not "didn't complete" (an interrupted Setup is read from those, not from
    service states), no web.config file still holds
    the C(%ExchangeInstallDir%) token (the mark of an SU installed without elevation), and no
    component is inactive for any reason other than maintenance.
  - A server already at the planned build reports C(changed=false) after the same verification.
options:
  plan:
    description:
      - The C(plan) returned by M(onprem.exchange.build_facts). Its C(install_dotnet), C(install_cu),
        C(upgrade_to_se), C(install_su) and C(resume_setup) steps are carried out in order; steps the
        server has already reached are skipped, and C(reboot) steps are implied.
      - Mutually exclusive with O(step).
    type: dict
  step:
    description:
      - One plan step, as an alternative to O(plan).
    type: dict
  staging_dir:
    description:
      - Folder on the server holding the staged installers (SU files carry their CU in front of the
        name, for example C(CU14-Exchange2019-KB5066369-x64-en.msp)).
    type: str
    default: C:\ExchangeUpdates
  setup_username:
    description:
      - Account the installer task runs as. Installing a CU needs Organization Management and local
        administrator rights; preparing Active Directory also needs Schema Admins and Enterprise Admins.
      - Defaults to the connection's user (C(ansible_user)).
    type: str
  setup_password:
    description:
      - Password of O(setup_username), given to Task Scheduler as data. Never returned or logged.
      - Defaults to the connection's password.
    type: str
  allow_ad_prep:
    description:
      - Run C(Setup /PrepareSchema) and C(Setup /PrepareAD) before a CU when no Exchange server of the
        organisation runs that CU line yet (so this is the first server). With C(false) the module only
        notes it in RV(steps_done) and Setup decides.
    type: bool
    default: false
  resume_installer:
    description:
      - File name, in O(staging_dir), of the CU ISO whose Setup was interrupted. Needed only when the
        server shows Setup's watermark; Setup is then run again from it to finish, and RV(replan) asks
        the caller to gather facts and plan again.
    type: str
  install_timeout:
    description:
      - Seconds to wait for one installer. When it is exceeded the module fails but the installer keeps
        running on the server; running the task again picks the running installer up.
    type: int
    default: 14400
  reboot_timeout:
    description:
      - Seconds to wait for the server to come back after each restart.
    type: int
    default: 1800
  services_timeout:
    description:
      - Seconds to wait, after a restart, for every automatic Exchange service to run.
    type: int
    default: 900
  poll_interval:
    description:
      - Seconds between two polls of the installer task.
    type: float
    default: 15.0
  services_meant_off:
    description:
      - Services the admin keeps off on purpose (for example C(MSExchangePOP3), C(MSExchangePOP3BE),
        C(MSExchangeImap4), C(MSExchangeIMAP4BE), C(MSExchangeUM)). They are never waited for nor judged.
      - Independently of this list, each service is compared with its own start mode read before the
        install, so a service that was already C(Disabled) or C(Manual) is not expected to run after it.
    type: list
    elements: str
    default: []
  extended_protection:
    description:
      - What CU Setup does about Windows Extended Protection. C(setup_default) lets Setup decide
        (Exchange 2019 CU14 and later, and SE, turn it on). C(off) passes C(/DoNotEnableEP) and
        C(off_frontend_ews) passes C(/DoNotEnableEP_FEEWS) (not on the front-end EWS virtual directory),
        for sites that offload or bridge SSL.
      - The switches are passed only to Setup media that knows them (2019 CU14 and later, SE), read
        from the media's own version; older Setup never turns Extended Protection on.
    type: str
    choices: [setup_default, "off", off_frontend_ews]
    default: setup_default
extends_documentation_fragment:
  - action_common_attributes
  - onprem.exchange.ems
attributes:
  check_mode:
    support: full
    details: Reads the server and reports the steps a real run would carry out, without starting
      any installer or restart.
  diff_mode:
    support: full
    details: The build and the pending-restart flag before and after.
  platform:
    platforms: windows
notes:
  - Put the server in maintenance first (M(onprem.exchange.maintenance_mode)); the role
    C(onprem.exchange.exchange_patch) does the whole window.
  - A CU overwrites IIS configuration; RV(reapply_mitigations) tells the caller to apply interim
    mitigations again.
  - Self-extracting C(.exe) SU packages are made for manual installs; plan SUs with
    C(installer_format=msp).
seealso:
  - module: onprem.exchange.build_facts
  - module: onprem.exchange.update_stage
  - module: onprem.exchange.maintenance_mode
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Plan the updates
  onprem.exchange.build_facts:
    target: latest
  register: exchange_facts

- name: Install what the plan says, from the staged installers
  onprem.exchange.update_install:
    plan: "{{ exchange_facts.plan }}"
    setup_username: CONTOSO\exsetup
    setup_password: "{{ vault_exsetup_password }}"
    poll_interval: 30
  register: exchange_install

- name: Say what changed
  ansible.builtin.debug:
    msg: "{{ exchange_install.build_before }} -> {{ exchange_install.build_after }} with {{ exchange_install.reboots }} restart(s)"
  when: exchange_install is changed

- name: Finish an interrupted CU Setup from its ISO
  onprem.exchange.update_install:
    plan: "{{ exchange_facts.plan }}"
    resume_installer: ExchangeServer2019-x64-CU15.ISO
  when: exchange_facts.plan.steps | selectattr('action', 'equalto', 'resume_setup') | list | length > 0
"""

RETURN = r"""
build_before:
  description: The build (ExSetup.exe version, short form) before the task.
  returned: always
  type: str
  sample: 15.2.1544.39
build_after:
  description: The build after the task; in check mode, the build the plan leads to.
  returned: always
  type: str
  sample: 15.2.1748.10
steps_done:
  description:
    - What was carried out, in order. In check mode, what would be (C(result=predicted)).
    - C(action) is C(reboot), C(prepare_schema), C(prepare_ad), C(ad_prep) (skipped), or a plan action.
    - A CU Setup run (C(install_cu), C(upgrade_to_se), C(resume_setup)) also carries C(setup_switches), the
      switches Setup was given (licence form, Extended Protection opt-out).
  returned: always
  type: list
  elements: dict
  sample:
    - {action: install_cu, update: CU15, rc: 0, result: succeeded, log_excerpt: [], reboot: true,
       setup_switches: [/Mode:Upgrade, /IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF]}
reboots:
  description: Restarts made (or predicted in check mode).
  returned: always
  type: int
  sample: 1
verified:
  description: Post-install verdicts; null when the task failed before it got there or in check mode.
  returned: always
  type: dict
  contains:
    build_ok:
      description: ExSetup.exe is at the planned build.
      type: bool
    services_ok:
      description: Every service that was Automatic before the install runs, and none was left disabled
        (services in I(services_meant_off) and those already off before are not judged).
      type: bool
    setup_ok:
      description: No Setup watermark is left and the Setup log's last verdict is not a failed run.
      type: bool
    web_config_ok:
      description: No web.config holds an unexpanded C(%ExchangeInstallDir%).
      type: bool
    components_ok:
      description: No component is inactive except by the maintenance requester.
      type: bool
  sample: {build_ok: true, services_ok: true, web_config_ok: true, components_ok: true}
installer_started:
  description:
    - True once an installer was started. When the task fails with this true, the server may be half
      way through an install and must stay out of service until someone looks at it.
  returned: always
  type: bool
  sample: false
unreachable_during_install:
  description:
    - True when the connection was lost (after short retries) once an installer had started or the server had
      restarted; the task fails, the build and services are not verified and the server stays out of service.
  returned: when that happened
  type: bool
  sample: true
replan:
  description: True after an interrupted Setup was finished; gather facts and plan again.
  returned: always
  type: bool
  sample: false
reapply_mitigations:
  description: True when a CU was installed, which overwrites IIS configuration and so interim mitigations.
  returned: success
  type: bool
  sample: true
log_excerpt:
  description: The installer log lines that explain a failure.
  returned: when an installer failed
  type: list
  elements: str
  sample: ["Action ended: INSTALL. Return value 3.", "MSI (s) (0C:10): MainEngineThread is returning 1603"]
"""
