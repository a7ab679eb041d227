# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # Options and behaviour every report module shares (plugin_utils/_report).
    DOCUMENTATION = r"""
options:
  dest:
    description:
      - Directory on the controller to write the report files to. It is created if it does not exist.
      - The file names are fixed by the report and never come from host data.
    type: path
    required: true
  formats:
    description:
      - Which report files to write.
    type: list
    elements: str
    choices: [html, json, csv, markdown]
    default: [html, json, csv, markdown]
  generated_on:
    description:
      - Date the report is for, ISO C(YYYY-MM-DD). It is the only date the report shows.
      - Defaults to the controller's current date.
    type: str
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: The report is written in check mode too; it is output, not managed state.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Runs on the controller and contacts no host. Always returns C(changed=false) and writes the
    report in check mode too; the files are output, not state of a managed host.
  - Every file is written to a temporary file and renamed, so a reader never sees a partly written
    report; a file whose content has not changed is left alone. Output is deterministic.
  - The HTML file is one standalone page (inline stylesheet and a small inline script that sorts
    tables; no external asset, so it opens from a share or an AWX artifact). A summary at the top
    counts servers by verdict and says what to do next; servers are grouped by organisation and
    DAG; builds carry the names admins use (for example C(Exchange 2019 CU14 Nov24SU)), including
    the extra catalog files named by C(exchange_catalog_files).
  - Everything that came from a host is escaped for each format. HTML is escaped by the template
    engine and a Content-Security-Policy allows only the report's own style and script. In CSV a
    cell that a spreadsheet would read as a formula (starting, after blanks, with C(=), C(+), C(-),
    C(@), a tab or carriage return, or their full-width forms) gets a leading C('). In Markdown,
    HTML, links, code and table separators are neutralised and line breaks removed.
"""
