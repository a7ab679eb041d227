# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTML report pages: Jinja2 templates, one stylesheet, one sorting script.

For internal collection use only; the interface may change in any release.

Every page is one standalone file (it opens from a share or an AWX artifact):
the stylesheet and the script are inlined, nothing is loaded from anywhere.
Autoescape is on for every template and nothing that came from a host is
ever marked safe; the only ``Markup`` values are this collection's own
stylesheet and script.  A Content-Security-Policy allows exactly those two
(by their SHA-256), so even a missed escape could not run host-supplied
script or load anything.

Also here: how servers are grouped (organisation, then DAG, standalone
servers as their own group) and builds named the way admins say them.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import os

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from .._exchange_catalog import load_catalog
from .escape import label, md, text

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "_data",
                            "report_templates")
STANDALONE = "Standalone servers"
NO_ORGANISATION = "Organisation not known"
# Servers nothing could be read from (unreachable, failed, not run).
UNPLACED = "Organisation and DAG not known"
# The one group when no server's placement is known: no heading is shown.
ALL_SERVERS = "All servers"

# Colour classes come from fixed tables, never from host text.
TONES = ("ok", "warn", "bad", "na", "unk", "info")


def _asset(name):
    with open(os.path.join(TEMPLATE_DIR, name), encoding="utf-8") as handle:
        return handle.read()


def _csp_hash(content):
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(content.encode("utf-8")).digest()).decode("ascii")


@functools.lru_cache(maxsize=1)
def _environment():
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    css, script = _asset("report.css"), _asset("report.js")
    env.globals.update(
        # Our own assets, the only markup not escaped.
        report_css=Markup(css),
        report_js=Markup(script),
        # Our own constant text (two hashes); no quote or angle bracket to escape.
        csp=Markup("default-src 'none'; style-src %s; script-src %s; base-uri 'none'; form-action 'none'"
                   % (_csp_hash(css), _csp_hash(script))),
    )
    env.filters["label"] = label
    env.filters["dash"] = lambda value: "—" if value is None or value == "" or value == [] else text(value)
    env.filters["tone"] = lambda value: value if value in TONES else "na"
    return env


def render(template, report, **context):
    """The page of ``template`` (a file in _data/report_templates) for ``report``."""
    return _environment().get_template(template).render(report=report, **context)


# --- grouping ---------------------------------------------------------------

def placement_of(organization, dag):
    """(organisation, DAG or None) as plain text; blanks count as unknown / standalone."""
    organization = text(organization) or None
    dag = text(dag) or None
    return organization, dag


def group_servers(servers, placement):
    """Servers grouped by organisation, then DAG; standalone servers last in
    their organisation.  ``placement(server) -> (organisation, dag)``.

    Returns ``[{"organization", "dag", "title", "servers"}]`` in a fixed
    order.  With no placement known at all, one group titled "All servers".
    """
    groups = {}
    for server in servers:
        organization, dag = placement_of(*placement(server))
        groups.setdefault((organization, dag), []).append(server)
    if list(groups) == [(None, None)]:
        return [{"organization": None, "dag": None, "title": ALL_SERVERS, "servers": groups[(None, None)]}]
    organisations = {org for org, _dag in groups if org}

    def order(key):
        organization, dag = key
        return (organization is None, (organization or "").casefold(), dag is None, (dag or "").casefold(),
                organization or "", dag or "")

    result = []
    for organization, dag in sorted(groups, key=order):
        where = "DAG %s" % dag if dag else STANDALONE
        if organization is None and dag is None:
            title = UNPLACED
        elif len(organisations) == 1 and organization:
            title = where
        else:
            title = "%s — %s" % (organization or NO_ORGANISATION, where)
        result.append({"organization": organization, "dag": dag, "title": title,
                       "servers": groups[(organization, dag)]})
    return result


def markdown_groups(servers, placement, section):
    """Markdown lines with the servers in the groups of :func:`group_servers`,
    each group under a ``### title`` heading as on the HTML page (none when no
    placement is known).  ``section(servers, grouped)`` gives a group's lines;
    ``grouped`` says whether a group heading stands above them."""
    lines = []
    for group in group_servers(servers, placement):
        grouped = group["title"] != ALL_SERVERS
        if grouped:
            lines += ["### %s" % md(group["title"]), ""]
        lines += section(group["servers"], grouped)
        if lines and lines[-1] != "":
            lines.append("")
    return lines


# --- build names ------------------------------------------------------------

def build_name(build, catalog):
    """A build the way admins say it (``Exchange 2019 CU14 Nov24SU``), from
    the catalog; the number itself when the catalog cannot name it."""
    value = text(build)
    if not value or catalog is None:
        return value
    try:
        return catalog.display_name(value)
    except ValueError:
        return value


def product_of(build, catalog):
    if not build or catalog is None:
        return None
    try:
        return catalog.product_of(text(build))
    except ValueError:
        return None


def change_text(before, after, catalog):
    """``Exchange 2019 CU14 Nov24SU → Exchange SE RTM Oct25SU (product change: Exchange 2019 → Exchange SE)``."""
    first, last = build_name(before, catalog), build_name(after, catalog)
    if not before and not after:
        return None
    if not before or not after or text(before) == text(after):
        return last or first
    line = "%s → %s" % (first, last)
    old, new = product_of(before, catalog), product_of(after, catalog)
    if old and new and old != new:
        line += " (product change: %s → %s)" % (old, new)
    return line


def default_catalog():
    """The shipped catalog, or None when it cannot be read (names then stay numbers)."""
    try:
        return load_catalog()
    except (OSError, ValueError):  # CatalogError is a ValueError
        return None
