"""The fleet audit report: summary counts, server rows, escaping, determinism and writing.

Input is the lab fleet's real build_facts results (tests/unit/data/audit/README.md).
"""
from __future__ import annotations

import copy
import csv
import markupsafe
import io
import json
import os
import re

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._audit_report import (
    CSV_COLUMNS,
    EEMS_STATUSES,
    FORMATS,
    SERVER_KEYS,
    AuditReportError,
    build_report,
    next_steps_text,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    write_report,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._report.page import group_servers

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "audit")
TODAY = "2026-11-26"
HOSTILE = "<script>alert(1)</script>"


def _fixture():
    with open(os.path.join(DATA, "build_facts_results.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _results(**extra):
    results = _fixture()
    results.update(extra)
    return results


@pytest.fixture(scope="module")
def report():
    # One host that never ran (no registered result) besides the fixture's 14.
    return build_report(_results(EX00N=None), generated_on=TODAY, title="Lab fleet audit")


def _server(report, name):
    return next(server for server in report["servers"] if server["name"] == name)


def test_report_top_level_keys(report):
    assert set(report) == {"report_version", "title", "generated_on", "summary", "servers"}
    assert (report["report_version"], report["title"], report["generated_on"]) == (1, "Lab fleet audit", TODAY)
    assert set(report["summary"]) == {"total", "by_state", "unreachable", "failed", "not_run", "by_eems_status",
                                      "by_lifecycle", "by_product", "needing_update", "critical_findings",
                                      "findings_by_severity", "hosts", "next_actions"}
    for server in report["servers"]:
        assert tuple(server) == SERVER_KEYS


@pytest.mark.parametrize("path, expected", [
    (("total",), 15),
    (("by_state",), {"audited": 12, "unreachable": 1, "failed": 1, "not_run": 1}),
    (("unreachable",), 1),
    (("failed",), 1),
    (("not_run",), 1),
    (("by_eems_status",), {"working": 3, "not_working": 7, "disabled": 1, "not_applicable": 1, "unknown": 0}),
    (("by_lifecycle",), {"end_of_life": 10, "supported": 2}),
    (("by_product",), {"Exchange 2013": 1, "Exchange 2016": 3, "Exchange 2019": 6, "Exchange SE": 2}),
    (("needing_update",), 9),
    (("critical_findings",), 37),
    (("findings_by_severity",), {"critical": 37, "warning": 11, "info": 0}),
    (("hosts", "needing_update"), ["EX16A", "EX16B", "EX19A", "EX19B", "EX19C", "EX19D", "EX19E", "EX19P", "FBEX01"]),
    (("hosts", "eems_not_working"), ["EX16A", "EX16B", "EX16C", "EX19A", "EX19B", "EX19E", "EX19P"]),
    (("hosts", "unreachable"), ["EX99X"]),
    (("hosts", "failed"), ["EX98X"]),
    (("hosts", "not_run"), ["EX00N"]),
])
def test_summary_counts(report, path, expected):
    value = report["summary"]
    for key in path:
        value = value[key]
    assert value == expected


def test_servers_sorted_by_name(report):
    assert [s["name"] for s in report["servers"]] == [
        "EX00N", "EX13A", "EX16A", "EX16B", "EX16C", "EX19A", "EX19B", "EX19C", "EX19D", "EX19E", "EX19P", "EX98X",
        "EX99X", "EXSE1", "FBEX01"]


# name, status, product, cu, update, lifecycle, eems status, eems cause, next steps, target build, reachable,
# (critical, warning) finding counts
SERVER_ROWS = [
    ("EX13A", "audited", "Exchange 2013", "CU23", "Mar23SU", "end_of_life", "not_applicable", "not_applicable",
     "none", "15.0.1497.48", True, (3, 0)),
    ("EX16A", "audited", "Exchange 2016", "CU22", "Nov22SU", "end_of_life", "not_working", "build_before_march_2023",
     "CU23 → Oct25SU", "15.1.2507.61", True, (5, 3)),
    ("EX16B", "audited", "Exchange 2016", "CU23", "Jan23SU", "end_of_life", "not_working", "build_before_march_2023",
     "Oct25SU", "15.1.2507.61", True, (5, 2)),
    ("EX16C", "audited", "Exchange 2016", "CU23", "Feb26SU", "end_of_life", "not_working", "build_before_june_2026",
     "none", "15.1.2507.66", True, (4, 1)),
    ("EX19A", "audited", "Exchange 2019", "CU12", "Mar23SU", "end_of_life", "not_working", "build_before_june_2026",
     "CU15 → SE RTM → Sep26SUv2", "15.2.2562.53", True, (4, 2)),
    ("EX19B", "audited", "Exchange 2019", "CU14", "Feb26SU", "end_of_life", "not_working", "build_before_june_2026",
     "CU15 → SE RTM → Sep26SUv2", "15.2.2562.53", True, (4, 0)),
    ("EX19C", "audited", "Exchange 2019", "CU15", "Jun26SU", "end_of_life", "working", None,
     "SE RTM → Sep26SUv2", "15.2.2562.53", True, (1, 0)),
    ("EX19D", "audited", "Exchange 2019", "CU15", "Sep26SUv2", "end_of_life", "working", None,
     "SE RTM → Sep26SUv2", "15.2.2562.53", True, (1, 0)),
    ("EX19E", "audited", "Exchange 2019", "CU14", "Nov24SUv2", "end_of_life", "not_working", "service_not_running",
     "reboot → finish Setup", "15.2.2562.53", True, (6, 2)),
    ("EX19P", "audited", "Exchange 2019", "CU15", "Oct25SU", "end_of_life", "not_working", "tls_inspecting_proxy",
     "SE RTM → Sep26SUv2", "15.2.2562.53", True, (4, 0)),
    ("EXSE1", "audited", "Exchange SE", "RTM", "Sep26SUv2", "supported", "working", None,
     "none", "15.2.2562.53", True, (0, 0)),
    ("FBEX01", "audited", "Exchange SE", "RTM", "Aug26SU", "supported", "disabled", "disabled_at_organization",
     "Sep26SUv2", "15.2.2562.53", True, (0, 1)),
    ("EX99X", "unreachable", None, None, None, None, None, None, None, None, None, (0, 0)),
    ("EX98X", "failed", None, None, None, None, None, None, None, None, None, (0, 0)),
    ("EX00N", "not_run", None, None, None, None, None, None, None, None, None, (0, 0)),
]


@pytest.mark.parametrize("name, status, product, cu, update, lifecycle, eems_status, eems_cause, next_steps, "
                         "target_build, reachable, counts", SERVER_ROWS, ids=[row[0] for row in SERVER_ROWS])
def test_server_row(report, name, status, product, cu, update, lifecycle, eems_status, eems_cause, next_steps,
                    target_build, reachable, counts):
    server = _server(report, name)
    assert (server["status"], server["product"], server["cu"], server["update"], server["lifecycle"]) == \
        (status, product, cu, update, lifecycle)
    assert (server["eems_status"], server["eems_cause"]) == (eems_status, eems_cause)
    assert server["next_steps"] == next_steps
    assert (server["target_build"], server["reachable"]) == (target_build, reachable)
    assert (server["finding_counts"]["critical"], server["finding_counts"]["warning"]) == counts
    assert len(server["findings"]) == sum(server["finding_counts"].values())


def test_every_fixture_host_is_in_the_report(report):
    assert {s["name"] for s in report["servers"]} == set(_fixture()) | {"EX00N"}


@pytest.mark.parametrize("name, error", [
    ("EX99X", "ssl: HTTPSConnectionPool(host=127.0.0.1, port=1): Max retries exceeded"),
    ("EX98X", "EX98X: host operation Get-ExchangeFacts did not return JSON"),
    ("EX00N", None),
])
def test_error_rows_keep_the_message(report, name, error):
    server = _server(report, name)
    assert server["error"] == error
    assert (server["findings"], server["steps"], server["needs_update"]) == ([], [], None)


def test_audited_servers_carry_eems_remedy_when_not_working(report):
    for server in report["servers"]:
        if server["eems_status"] in ("not_working", "disabled", "not_applicable"):
            assert server["eems_remedy"], server["name"]


def test_findings_sorted_by_severity_and_keep_remedies(report):
    ex16a = _server(report, "EX16A")
    severities = [f["severity"] for f in ex16a["findings"]]
    assert severities == sorted(severities, key=("critical", "warning", "info").index)
    assert [f["id"] for f in ex16a["findings"]][:2] == ["end_of_life", "eems_march_2023_not_met"]
    assert all(f["remedy"] for f in ex16a["findings"])


@pytest.mark.parametrize("steps, reachable, expected", [
    ([], True, "none"),
    ([], False, "none (target out of reach)"),
    ([{"action": "install_su", "update": "Oct25SU"}, {"action": "reboot", "update": None}], True, "Oct25SU"),
    ([{"action": "reboot", "update": None}], True, "reboot"),
    ([{"action": "free_disk", "update": None}, {"action": "install_dotnet", "update": ".NET Framework 4.8.1"},
      {"action": "reboot", "update": None}, {"action": "install_cu", "update": "CU15"}], True,
     "free disk space → .NET Framework 4.8.1 → CU15"),
    ([{"action": "upgrade_to_se", "update": "RTM"}], True, "SE RTM"),
])
def test_next_steps_text(steps, reachable, expected):
    assert next_steps_text(steps, reachable) == expected


def test_results_must_be_a_dict():
    with pytest.raises(AuditReportError, match="results must be a dict"):
        build_report(["EX01"], generated_on=TODAY, title="t")


@pytest.mark.parametrize("entry, message", [
    ("ok", "results['EX01'] is a str"),
    (["x"], "results['EX01'] is a list"),
])
def test_a_malformed_entry_is_a_failed_row_and_the_others_are_still_reported(entry, message):
    report = build_report({"EX01": entry, "EX02": None, "EX03": {"unreachable": True, "msg": "timed out"}},
                          generated_on=TODAY, title="t")
    rows = {s["name"]: s for s in report["servers"]}
    assert rows["EX01"]["status"] == "failed" and message in rows["EX01"]["error"]
    assert rows["EX02"]["status"] == "not_run"
    assert rows["EX03"]["status"] == "unreachable" and rows["EX03"]["error"] == "timed out"
    assert report["summary"]["hosts"]["failed"] == ["EX01"]
    for render in (render_html, render_markdown, render_csv, render_json):
        assert "EX01" in render(report)


@pytest.mark.parametrize("generated_on", ["yesterday", "2026-13-01", ""])
def test_generated_on_must_be_an_iso_date(generated_on):
    with pytest.raises(AuditReportError, match="not an ISO date"):
        build_report({}, generated_on=generated_on, title="t")


@pytest.mark.parametrize("result, status, error", [
    ({"skipped": True, "changed": False, "skip_reason": "Conditional result was False"}, "not_run", None),
    ({}, "failed", "the result holds no ansible_facts.exchange"),
    ({"changed": False, "findings": []}, "failed", "the result holds no ansible_facts.exchange"),
    ({"unreachable": True}, "unreachable", "host unreachable"),
    ({"ansible_facts": {"exchange": {"build": "15.2.1748.10"}}}, "audited", None),
])
def test_odd_results_still_get_a_row(result, status, error):
    server = build_report({"EX01": result}, generated_on=TODAY, title="t")["servers"][0]
    assert (server["status"], server["error"]) == (status, error)
    if status == "audited":
        assert (server["build"], server["eems_status"], server["next_steps"]) == ("15.2.1748.10", "unknown", "none")


def test_empty_fleet():
    report = build_report({}, generated_on=TODAY, title="t")
    assert report["servers"] == []
    assert report["summary"]["by_eems_status"] == dict.fromkeys(EEMS_STATUSES, 0)
    for render in (render_json, render_csv, render_markdown, render_html):
        assert render(report)


# --- hostile host data ------------------------------------------------------

def _hostile_report():
    results = _results()
    results["EX99X"]["msg"] = HOSTILE
    ex19a = results["EX19A"]
    ex19a["findings"][0]["message"] = HOSTILE
    ex19a["findings"][0]["remedy"] = '"><img src=x onerror=alert(2)>'
    ex19a["ansible_facts"]["exchange"]["eems_status"]["evidence"] = HOSTILE
    results[HOSTILE] = copy.deepcopy(results["EX19C"])
    return build_report(results, generated_on=TODAY, title=HOSTILE)


def test_html_escapes_everything_from_hosts():
    page = render_html(_hostile_report())
    # The page's one script is the collection's own table sorter; none from a host.
    assert page.lower().count("<script") == 1 and "alert(1)</script>" not in page
    assert "<img" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    # Anchors and table ids are numbered, never built from host names.
    ids = set(re.findall(r'id="([^"]+)"', page))
    assert {"server-%d" % i for i in range(1, 16)} <= ids
    assert all(re.fullmatch(r"(server|servers)-\d+|summary|next|counts|details|servers|alerts", i) for i in ids), ids


def test_html_is_self_contained():
    page = render_html(_hostile_report())
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"(src|href)=\"(?!#)", page)
    assert "http://" not in page and "https://" not in page
    assert "@import" not in page


def test_markdown_neutralises_html_links_and_pipes():
    results = _results()
    results["EX99X"]["msg"] = HOSTILE + " | [click](javascript:alert(3)) `code`"
    text = render_markdown(build_report(results, generated_on=TODAY, title="t"))
    assert "<script" not in text
    assert "&lt;script&gt;" in text
    assert r"\| \[click\](javascript:alert(3)) \`code\`" in text


def test_csv_guards_formula_cells():
    results = _results()
    results["EX99X"]["msg"] = "=HYPERLINK(\"http://evil\")"
    rows = list(csv.DictReader(io.StringIO(render_csv(build_report(results, generated_on=TODAY, title="t")))))
    assert next(r for r in rows if r["name"] == "EX99X")["error"] == "'=HYPERLINK(\"http://evil\")"


# --- the renderers ------------------------------------------------------------

@pytest.mark.parametrize("render", [render_json, render_csv, render_markdown, render_html],
                         ids=["json", "csv", "markdown", "html"])
def test_output_is_deterministic(render):
    first = render(build_report(_results(EX00N=None), generated_on=TODAY, title="t"))
    # Same data, different insertion order: same bytes.
    shuffled = dict(reversed(list(_results(EX00N=None).items())))
    second = render(build_report(shuffled, generated_on=TODAY, title="t"))
    assert first == second


def test_json_round_trips(report):
    assert json.loads(render_json(report)) == report


def test_csv_has_one_row_per_server(report):
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + 15
    by_name = {row[0]: dict(zip(CSV_COLUMNS, row)) for row in rows[1:]}
    assert by_name["EX16A"]["next_steps"] == "CU23 → Oct25SU"
    assert by_name["EX16A"]["critical_findings"] == "5"
    assert by_name["EX16A"]["findings"].count(" | ") == 7
    assert "Remedy: " in by_name["EX16A"]["findings"]
    assert (by_name["EX99X"]["status"], by_name["EX99X"]["findings"]) == ("unreachable", "")


def test_markdown_has_one_table_row_per_server_grouped_as_on_the_html_page(report):
    text = render_markdown(report)
    overview, details = text.split("## Servers", 1)[1].split("## Details", 1)
    rows = [line for line in overview.splitlines()
            if line.startswith("| ") and not line.startswith(("| Server", "| ---"))]
    assert sorted(row.split(" | ")[0][2:] for row in rows) == sorted(s["name"] for s in report["servers"])
    # Each server's row sits under the heading of its organisation and DAG.
    where = {}
    heading = None
    for line in overview.splitlines():
        if line.startswith("### "):
            heading = line[4:]
        elif line.startswith("| ") and not line.startswith(("| Server", "| ---")):
            where[line.split(" | ")[0][2:]] = heading
    groups = group_servers(report["servers"], lambda s: (s["organization"], s["dag"]))
    assert len(groups) > 1
    assert where == {server["name"]: group["title"] for group in groups for server in group["servers"]}
    assert details.count("\n### ") == 15


def test_html_has_cards_a_section_per_server_and_remedies(report):
    page = render_html(report)
    assert page.count('class="card ') == 13
    assert page.count('<section class="server ') == 15
    assert '<span class="n">7</span><span class="l">EEMS not working</span>' in page
    for server in report["servers"]:
        for finding in server["findings"]:
            assert str(markupsafe.escape(finding["remedy"])) in page


# --- writing ------------------------------------------------------------------

def test_write_report_writes_every_format(report, tmp_path):
    dest = tmp_path / "reports" / "nested"
    files = write_report(report, str(dest), list(FORMATS))
    assert files == {fmt: str(dest / ("exchange-audit" + ext)) for fmt, ext in FORMATS.items()}
    assert sorted(os.listdir(dest)) == sorted("exchange-audit" + ext for ext in FORMATS.values())
    assert json.loads((dest / "exchange-audit.json").read_text(encoding="utf-8")) == report


def test_second_write_is_byte_identical_and_leaves_files_alone(report, tmp_path):
    files = write_report(report, str(tmp_path), ["html", "csv"])
    before = {fmt: (open(path, "rb").read(), os.stat(path).st_mtime_ns) for fmt, path in files.items()}
    again = build_report(_results(EX00N=None), generated_on=TODAY, title="Lab fleet audit")
    write_report(again, str(tmp_path), ["csv", "html"])
    after = {fmt: (open(path, "rb").read(), os.stat(path).st_mtime_ns) for fmt, path in files.items()}
    assert before == after
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_changed_content_is_replaced(report, tmp_path):
    path = write_report(report, str(tmp_path), ["json"])["json"]
    other = build_report({}, generated_on=TODAY, title="t")
    write_report(other, str(tmp_path), ["json"])
    assert json.loads(open(path, encoding="utf-8").read()) == other


def test_hostile_host_names_never_reach_file_names(tmp_path):
    results = {"../../etc/passwd": None, "/tmp/x": None, "EX01\\..\\y": None}
    files = write_report(build_report(results, generated_on=TODAY, title="t"), str(tmp_path), list(FORMATS))
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in files.values())


@pytest.mark.parametrize("setup, message", [
    ("file", "exists and is not a directory"),
    ("under_file", "cannot be created"),
])
def test_write_report_refuses_unusable_dest(report, tmp_path, setup, message):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    dest = blocker if setup == "file" else blocker / "reports"
    with pytest.raises(AuditReportError, match=message):
        write_report(report, str(dest), ["json"])


@pytest.mark.parametrize("formats, basename, message", [
    (["pdf"], "exchange-audit", "unknown report format"),
    (["json"], "../escape", "plain file name"),
    (["json"], ".hidden", "plain file name"),
    (["json"], "", "plain file name"),
])
def test_write_report_rejects_bad_names(report, tmp_path, formats, basename, message):
    with pytest.raises(AuditReportError, match=message):
        write_report(report, str(tmp_path), formats, basename=basename)
    assert os.listdir(tmp_path) == []


def test_rows_carry_the_build_name_admins_use_and_where_the_server_is(report):
    ex19b = _server(report, "EX19B")
    assert (ex19b["display_name"], ex19b["organization"], ex19b["dag"]) == (
        "Exchange 2019 CU14 Feb26SU", "Contoso", "DAG01")
    assert _server(report, "FBEX01")["organization"] == "Fabrikam"
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(render_csv(report)))}
    assert (rows["EX19B"]["display_name"], rows["EX19B"]["dag"]) == ("Exchange 2019 CU14 Feb26SU", "DAG01")
    page = render_html(report)
    # Grouped: the DAG's members before the standalone servers, unreadable hosts last.
    assert page.index("Contoso — DAG DAG01") < page.index("Contoso — Standalone servers") < \
        page.index("Organisation and DAG not known")
