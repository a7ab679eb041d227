"""Host text in every report and format stays text: no markup, formula, link or table break.

One escaping module serves all reports (plugin_utils/_report/escape.py, and
Jinja2 autoescape for HTML); these tests hold every report to it.
"""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._report.escape import csv_cell, md
from report_samples import EVIL_FORMULA, EVIL_NAME, reports

REPORTS = reports()
KINDS = sorted(REPORTS)


@pytest.mark.parametrize("cell", [
    "=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\n=1", "  =1", "\u00a0=1", "\u3000=1",
    "\uff1d1+1",   # FULLWIDTH EQUALS SIGN
    "\uff0b1", "\uff0d1", "\uff20SUM(A1)",  # full-width plus, minus, at
    "\ufe661", "\ufe621", "\ufe631",  # small form equals, plus, hyphen-minus
    "\u22121",  # MINUS SIGN
    EVIL_FORMULA,
])
def test_csv_guards_every_formula_start(cell):
    assert csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["EX19A", "a=1", "1-2", "", None, "'=already quoted", "CU23 → Oct25SU", 3])
def test_csv_leaves_plain_text_alone(cell):
    assert csv_cell(cell) == ("" if cell is None else str(cell))


@pytest.mark.parametrize("value, expected", [
    ("a | b\nc", r"a \| b c"),
    ("<script>x</script>", "&lt;script&gt;x&lt;/script&gt;"),
    ("[click](javascript:alert(1))", r"\[click\](javascript:alert(1))"),
    ("![img](http://x)", r"\!\[img\](http://x)"),
    ("`code` *b* _i_ ~s~ # h", r"\`code\` \*b\* \_i\_ \~s\~ \# h"),
    ("&amp;", "&amp;amp;"),
    (None, "—"),
])
def test_markdown_escaper(value, expected):
    assert md(value) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_csv_of_every_report_has_no_live_formula(kind):
    report, spec = REPORTS[kind]
    rows = list(csv.reader(io.StringIO(spec.renderers["csv"](report))))
    cells = [cell for row in rows[1:] for cell in row]
    assert any(EVIL_NAME in cell or EVIL_FORMULA in cell for cell in cells), kind
    for cell in cells:
        start = cell.lstrip(" \t\r\n\u00a0\u3000")
        if start and (start[0] in "=+-@\uff1d\uff0b\uff0d\uff20\u2212" or cell[0] in "\t\r"):
            pytest.fail("%s: live formula cell %r" % (kind, cell))


@pytest.mark.parametrize("kind", KINDS)
def test_markdown_of_every_report_keeps_host_text_inert(kind):
    report, spec = REPORTS[kind]
    text = spec.renderers["markdown"](report)
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;window.\\_\\_pwned=1&lt;/script&gt;" in text
    # The newline and pipes of a hostile name do not start a row of their own.
    assert "\n| injected" not in text
    for line in text.splitlines():
        if line.startswith("|") and "injected" in line:
            assert r"EX\|pipe \| injected \| row \|" in line, line


@pytest.mark.parametrize("kind", KINDS)
def test_html_of_every_report_escapes_host_text_and_runs_only_its_own_script(kind):
    report, spec = REPORTS[kind]
    page = spec.renderers["html"](report)
    assert "<script>window.__pwned" not in page and "<img" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert len(re.findall(r"<script\b", page)) == 1 and len(re.findall(r"<style\b", page)) == 1
    # Standalone: nothing is loaded from anywhere; the policy allows only the page's own style and script.
    assert not re.search(r"\b(src|href)=\"(?!#)", page) and "@import" not in page
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert policy.startswith("default-src 'none'; style-src 'sha256-") and "unsafe" not in policy
    if "onerror" in json.dumps(report):
        assert "&#34;&gt;&lt;img src=x onerror=&#34;window.__pwned=2&#34;&gt;" in page


@pytest.mark.parametrize("kind", KINDS)
def test_every_report_page_has_the_same_style_summary_and_next_steps(kind):
    report, spec = REPORTS[kind]
    page = spec.renderers["html"](report)
    pages = {name: other.renderers["html"](rep) for name, (rep, other) in REPORTS.items()}
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    assert all(style in other for other in pages.values())
    assert '<section id="summary">' in page and '<section class="next" id="next">' in page
    assert '<table class="sortable" id="servers-1">' in page
    for line in report["summary"]["next_actions"]:
        assert str(__import__("markupsafe").escape(line)) in page
