# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/update_stage.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: update_stage
short_description: Put the verified Exchange installers a plan needs on the server before the patch window
version_added: 0.2.0
description:
  - Stages the installer of every C(install_cu), C(upgrade_to_se), C(install_su) and C(install_dotnet) step of a
    plan from M(onprem.exchange.build_facts), or the files named in O(installers), into a staging folder on the server.
  - The server downloads each file itself, from an internal HTTP(S) repository or a UNC share; nothing large
    travels over WinRM.
  - Every file is checked against the repository's C(manifest.json) (size and SHA256) and its Authenticode
    signer on the server. A disk image has no signature of its own, so C(Setup.exe) inside it is checked.
    A file that does not match is deleted and the task fails; nothing can be installed from it.
  - Security updates are staged under a name that starts with the CU they belong to (for example
    C(CU14-Exchange2019-KB5094139-x64-en.msp)), because Microsoft reuses one KB file name for the packages
    of different CUs.
  - Free disk is checked before anything is downloaded. Files already staged and verified are left alone
    (C(changed=false)).
options:
  plan:
    description:
      - The C(plan) returned by M(onprem.exchange.build_facts). Mutually exclusive with O(installers).
    type: dict
  installers:
    description:
      - File names in the repository to stage, as an alternative to O(plan).
      - An element may be a mapping C({name, cu}) so a security update is staged under its CU's name.
    type: list
    elements: raw
  repository_url:
    description:
      - Where the installers and C(manifest.json) are, as the server sees it -
        C(http(s)://server/path/) or C(\\\\server\\share\\path).
      - Build the manifest with C(scripts/build_manifest.py) from the folder of installers.
    type: str
    required: true
  repository_username:
    description:
      - Account for the repository (HTTP authentication, or the share). A WinRM network logon cannot pass
        its own credential on to a share, so a UNC repository usually needs this.
    type: str
  repository_password:
    description:
      - Password of O(repository_username). Sent to the host as data, never returned or logged.
    type: str
  staging_dir:
    description:
      - Local folder on the server that receives the installers.
    type: str
    default: C:\ExchangeUpdates
  min_free_disk_gb:
    description:
      - Free space that must remain on the staging drive after the downloads, for Setup.
      - Default 30 when a disk image (a CU) is staged, 10 otherwise.
    type: float
  allowed_signers:
    description:
      - Accepted names of the Authenticode signing certificate (its simple name).
    type: list
    elements: str
    default: [Microsoft Corporation]
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the manifest and the staging folder and reports what would be downloaded.
  diff_mode:
    support: full
    details: The staged file names before and after.
  platform:
    platforms: windows
notes:
  - The repository must be reachable from the server. Invoke-WebRequest is used for HTTP(S) rather than BITS,
    because BITS refuses jobs from a WinRM network logon.
  - A file is downloaded under a C(.partial) name and renamed only after it verified.
seealso:
  - module: onprem.exchange.build_facts
  - module: onprem.exchange.update_install
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Plan the updates
  onprem.exchange.build_facts:
    target: latest
  register: exchange_facts

- name: Stage the plan's installers from the internal repository
  onprem.exchange.update_stage:
    plan: "{{ exchange_facts.plan }}"
    repository_url: "{{ exchange_repository_url }}"
    staging_dir: D:\ExchangeUpdates
  register: exchange_staged

- name: Stage from a share with its own account
  onprem.exchange.update_stage:
    installers:
      - ExchangeServer2019-x64-CU15.ISO
      - {name: Exchange2019-KB5094139-x64-en.msp, cu: CU15}
    repository_url: \\files.contoso.com\exchange$
    repository_username: CONTOSO\svc-exrepo
    repository_password: "{{ vault_exrepo_password }}"
"""

RETURN = r"""
staged:
  description: Every installer the task is responsible for, in plan order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: File name in the repository.
      type: str
      sample: Exchange2019-KB5094139-x64-en.msp
    staged_name:
      description: File name in the staging folder (SUs start with their CU).
      type: str
      sample: CU15-Exchange2019-KB5094139-x64-en.msp
    cu:
      description: The CU an SU belongs to; null for other files.
      type: str
      sample: CU15
    step:
      description: The plan step's C(order), when staged from a plan.
      type: int
      sample: 3
    path:
      description: Full path on the server; null in check mode for a file not yet there.
      type: str
      sample: C:\ExchangeUpdates\CU15-Exchange2019-KB5094139-x64-en.msp
    size:
      description: Size in bytes, from the manifest.
      type: int
      sample: 161304576
    sha256:
      description: SHA256, from the manifest (the staged file matched it).
      type: str
      sample: 3f0c9d1e4b2a8f6e5d7c9b1a3e5f7d9c1b3a5e7f9d1c3b5a7e9f1d3c5b7a9e1f
    signer:
      description: Authenticode signer seen on the server; null in check mode for a file not yet there.
      type: str
      sample: Microsoft Corporation
    verified:
      description: True when the file on the server matched; false only in check mode for files to download.
      type: bool
      sample: true
    action:
      description: C(present) (already staged), C(downloaded), or in check mode C(would_download).
      type: str
      sample: downloaded
free_disk_gb:
  description: Free space on the staging drive after staging (before, in check mode); null when nothing was to stage.
  returned: always
  type: float
  sample: 61.4
staging_dir:
  description: The staging folder.
  returned: always
  type: str
  sample: C:\ExchangeUpdates
"""
