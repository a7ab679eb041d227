# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report package: what every report of this collection shares.

For internal collection use only; the interface may change in any release.

- ``escape``: plain text of host values, the CSV formula guard and the
  Markdown escaper (the HTML escaping is Jinja2's autoescape, in ``page``).
- ``page``: HTML pages from the templates in ``_data/report_templates``, one
  stylesheet and one small sorting script inlined, servers grouped by
  organisation and DAG.
- ``writer``: the one atomic writer of every format, with fixed file names.
- ``action``: the one ``run()`` of every report action plugin.

Each report keeps its own builder (``_audit_report``, ``_patch_report``,
``_remediation_report``, ``_protection_report``, ``_readiness_report``): what
a report says lives there, how it is written lives here.
"""
