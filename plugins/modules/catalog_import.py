# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/catalog_import.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: catalog_import
short_description: Add Exchange builds from a CSV to an extra build catalog file
version_added: 0.1.0
description:
  - The build catalog ships inside the collection; the next update Microsoft releases makes it stale
    until a new release. This module writes the builds of a CSV that the shipped catalog lacks (or has
    differently) to an extra catalog file on the controller.
  - Name that file in the inventory variable C(exchange_catalog_files) (a path or a list of paths);
    every module and filter of the collection then reads it merged over the shipped catalog, and
    refuses a bad file with a message naming the file and the entry.
  - The file is checked merged over the shipped catalog before it is written; a bad CSV row fails
    the task naming the CSV line and nothing is written.
  - Runs on the controller and contacts no host. A second run with the same CSV changes nothing.
options:
  csv:
    description:
      - CSV with the columns C(product), C(update_name), C(kind), C(cu_level), C(build),
        C(release_date), C(kb), C(source) (the reference build table's form).
    type: path
    required: true
  dest:
    description: The extra catalog file to create or update.
    type: path
    required: true
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: partial
  platform:
    platforms: posix
notes:
  - The same import is C(python scripts/update_catalog.py builds.csv --overlay FILE) in a checkout.
seealso:
  - module: onprem.exchange.build_facts
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Add next month's SU to the extra catalog
  onprem.exchange.catalog_import:
    csv: /srv/exchange/new-builds.csv
    dest: /srv/exchange/catalog-extra.yml
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
dest:
  description: The extra catalog file.
  returned: always
  type: str
  sample: /srv/exchange/catalog-extra.yml
added:
  description: Builds added to the file.
  returned: always
  type: int
  sample: 1
updated:
  description: Builds of the file that the CSV changed.
  returned: always
  type: int
  sample: 0
unchanged:
  description: CSV rows already known (in the shipped catalog or the file).
  returned: always
  type: int
  sample: 210
total:
  description: Builds in the file after the import.
  returned: always
  type: int
  sample: 1
report:
  description: One line per added or changed build, then a summary.
  returned: always
  type: list
  elements: str
  sample: ["added:   15.2.2562.57 Exchange Server SE RTM Nov26SU (2026-11-10, KB5999001)"]
"""
