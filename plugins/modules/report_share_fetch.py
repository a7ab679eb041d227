# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only; the logic runs on the controller in
# plugins/action/report_share_fetch.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: report_share_fetch
short_description: Read one file back from a Windows file share through a Windows host
version_added: 0.1.0
description:
  - Reads a file published earlier with M(onprem.exchange.report_share) (for example the EEMS watch's history)
    from a folder of a file share (SMB) and writes it to a file on the controller, so a job whose own folder
    was deleted with the last AWX job can compare with the last run.
  - Delegate the task to a Windows host of the inventory (an Exchange server). The host reads the file and
    answers with its bytes and SHA256, which must match.
  - A file that is not on the share yet is RV(found=false), not an error; O(dest) is then left as it was.
  - A WinRM network logon cannot pass its credential on to a file server, so the share's account, when
    the share needs one, is given here and travels as data for that one call.
  - Used by the C(onprem.exchange.exchange_report_publish) role (C(tasks_from=fetch)) when
    C(exchange_report_publish_url) is a UNC path.
options:
  share:
    description:
      - The share and base folder, C(\\\\server\\share) or C(\\\\server\\share\\folder).
    type: str
    required: true
  path:
    description:
      - The file below O(share), with C(/) or C(\\) between parts (C(eems-watch/eems-watch-history.json)).
        No C(.) or C(..) parts.
    type: str
    required: true
  dest:
    description:
      - Where to write the file on the controller. Its folder is created when missing.
    type: path
    required: true
  username:
    description:
      - Account that may read the share (C(DOMAIN\\user) or C(user@domain)). Omit to use the host's own
        access, which a WinRM logon normally lacks.
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
      - Reads in check mode too, and writes O(dest) on the controller; nothing on a managed host changes.
  diff_mode:
    support: none
  platform:
    platforms: windows
notes:
  - Always returns C(changed=false).
  - The whole file travels in one host call; files above 32 MiB are not read back.
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Read the EEMS watch's history back from the share through the first Exchange server
  onprem.exchange.report_share_fetch:
    share: \\fs01.corp.contoso.com\reports\exchange
    path: eems-watch/eems-watch-history.json
    dest: "{{ exchange_report_dir }}/eems-watch-history.json"
    username: CORP\svc-exreports
    password: "{{ vault_exchange_report_password }}"
  delegate_to: "{{ groups['exchange'] | first }}"
"""

RETURN = r"""
found:
  description: Whether the file was on the share.
  returned: success
  type: bool
  sample: true
location:
  description: The file's UNC path.
  returned: success
  type: str
  sample: \\fs01.corp.contoso.com\reports\exchange\eems-watch\eems-watch-history.json
path:
  description: The file written on the controller; null when the file was not on the share.
  returned: success
  type: str
  sample: /runner/project/reports/eems-watch-history.json
"""
