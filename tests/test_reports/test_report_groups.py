"""Every report's Markdown groups its servers by organisation and DAG, as its HTML page does."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._report.escape import md
from ansible_collections.onprem.exchange.plugins.plugin_utils._report.page import group_servers
from report_samples import reports

REPORTS = reports(placed=True)
KINDS = sorted(REPORTS)


@pytest.mark.parametrize("kind", KINDS)
def test_markdown_puts_each_server_under_its_organisation_and_dag(kind):
    report, spec = REPORTS[kind]
    groups = group_servers(report["servers"], lambda s: (s.get("organization"), s.get("dag")))
    assert len(groups) > 1, "the sample should place its servers in more than one group"
    text = spec.renderers["markdown"](report)
    headings = ["### %s" % md(group["title"]) for group in groups]
    # The group headings come in the HTML page's order, each once.
    positions = [text.index("\n%s\n" % heading) for heading in headings]
    assert positions == sorted(positions) and all(text.count("\n%s\n" % h) == 1 for h in headings)
    ends = positions[1:] + [len(text)]
    for group, start, end in zip(groups, positions, ends):
        section = text[start:end]
        for server in group["servers"]:
            assert md(server["name"]) in section, "%s: %s is not under %s" % (kind, server["name"], group["title"])
