# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only; the logic runs on the controller in
# plugins/action/report_share.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: report_share
short_description: Publish report files to a Windows file share through a Windows host
version_added: 0.1.0
description:
  - Writes report files from the controller into a folder of a file share (SMB), so they outlive an AWX
    job whose working folder is deleted when it ends.
  - Delegate the task to a Windows host of the inventory (an Exchange server). The controller reads each
    file and sends its bytes as data; the host writes them to the share and answers with their SHA256,
    which must match what was sent.
  - A WinRM network logon cannot pass its credential on to a file server, so the share's account, when
    the share needs one, is given here and travels as data for that one call.
  - Used by the C(onprem.exchange.exchange_report_publish) role when C(exchange_report_publish_url) is a UNC path.
options:
  share:
    description:
      - The share and base folder, C(\\\\server\\share) or C(\\\\server\\share\\folder).
    type: str
    required: true
  folder:
    description:
      - A folder below O(share) for these files, with C(/) or C(\\) between parts (C(31/before)). Created
        when missing. No C(.) or C(..) parts.
    type: str
    default: ""
  files:
    description:
      - Report format to the file's path on the controller (a report module's RV(files)); each file keeps
        its name.
    type: dict
    required: true
  username:
    description:
      - Account that may write to the share (C(DOMAIN\\user) or C(user@domain)). Omit to use the host's
        own access, which a WinRM logon normally lacks.
    type: str
  password:
    description:
      - Password of O(username). Never logged.
    type: str
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details:
      - Publishes in check mode too; reports are output, not state of a managed host.
  diff_mode:
    support: none
  platform:
    platforms: windows
notes:
  - Always returns C(changed=false). The files are reports, not state of a managed host.
  - The whole file travels in one host call; files above 32 MiB are refused (publish those to an HTTP
    endpoint).
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Publish the audit report to a share through the first Exchange server
  onprem.exchange.report_share:
    share: \\fs01.corp.contoso.com\reports\exchange
    folder: "{{ awx_job_id | default('manual') }}"
    files: "{{ exchange_report.files }}"
    username: CORP\svc-exreports
    password: "{{ vault_exchange_report_password }}"
  delegate_to: "{{ groups['exchange'] | first }}"
"""

RETURN = r"""
location:
  description: The folder the files were written to, ending in C(\\).
  returned: success
  type: str
  sample: \\fs01.corp.contoso.com\reports\exchange\31\
files:
  description: Report format to the file's UNC path.
  returned: success
  type: dict
  sample: {"html": "\\\\fs01.corp.contoso.com\\reports\\exchange\\31\\exchange-audit.html"}
"""
