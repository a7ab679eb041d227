"""Patch report: outcomes, what was left undone and why, safe rendering."""
from __future__ import annotations

import csv
import io
import json

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._patch_report import (
    PatchReportError,
    build_report,
    render_csv,
    render_html,
    render_markdown,
    write_report,
)

PLANNED = [{"action": "install_cu", "update": "CU15"}, {"action": "install_su", "update": "Sep26SUv2"}]
RESULTS = {
    "EX2": {"status": "failed_in_maintenance", "message": "Install: exit code 1603", "in_maintenance": True,
            "started": "2026-11-26T08:00:00+00:00", "finished": "2026-11-26T08:30:00+00:00",
            "build_before": "15.2.1544.39", "build_after": "15.2.1748.10", "planned_steps": PLANNED,
            "steps_done": [{"action": "install_cu", "update": "CU15", "result": "succeeded"},
                           {"action": "install_su", "update": "Sep26SUv2", "result": "failed", "rc": 1603}]},
    "EX1": {"status": "patched", "started": "2026-11-26T08:00:00+00:00", "finished": "2026-11-26T09:00:00Z",
            "steps_done": [{"action": "install_su", "update": "Sep26SUv2", "result": "succeeded"}]},
    "EX3": {"status": "not_started_window_closed", "planned_steps": PLANNED[1:]},
    "EX4": None,
    "=EVIL<script>": {"status": "up_to_date", "message": "=cmd|' /C calc'!A0"},
}


def _report():
    return build_report(RESULTS, generated_on="2026-11-26", window_end="2026-11-26T10:00:00Z")


def test_summary_counts_names_and_makespan():
    summary = _report()["summary"]
    assert summary["by_status"]["patched"] == 1 and summary["by_status"]["no_result"] == 1
    assert summary["problems"] == 2 and summary["hosts"]["problems"] == ["EX2", "EX4"]
    assert summary["hosts"]["in_maintenance"] == ["EX2"]
    assert summary["hosts"]["not_started"] == ["EX3"]
    assert summary["makespan_seconds"] == 3600.0


def test_each_server_says_what_was_done_and_what_was_left_undone_and_why():
    rows = {s["name"]: s for s in _report()["servers"]}
    assert rows["EX2"]["steps_done"] == ["install_cu CU15", "install_su Sep26SUv2 (failed, rc 1603)"]
    assert rows["EX2"]["left_undone"] == [
        {"step": "install_su Sep26SUv2", "why": "the install failed part-way: Install: exit code 1603"},
        # Where the window left it: the sweep's reading, not the plan's.
        {"step": "return to service", "why": "still in maintenance after the window: Install: exit code 1603"}]
    assert rows["EX3"]["left_undone"][0]["why"] == "the window ended before this server started"
    assert rows["EX1"]["seconds"] == 3600.0 and rows["EX1"]["left_undone"] == []
    assert rows["EX4"]["status"] == "no_result"


def test_renderers_escape_host_text():
    report = _report()
    page = render_html(report)
    assert "EVIL<script>" not in page and "=EVIL&lt;script&gt;" in page
    cells = list(csv.reader(io.StringIO(render_csv(report))))
    header = cells[0]
    evil = dict(zip(header, next(row for row in cells if "EVIL" in row[0])))
    assert evil["name"].startswith("'=") and evil["message"].startswith("'=")
    assert "=EVIL&lt;script&gt;" in render_markdown(report)
    assert "Out of service after the window" in render_markdown(report)
    assert "- **EX2: in maintenance**" in render_markdown(report)


def test_files_are_written_and_bad_input_is_refused(tmp_path):
    files = write_report(_report(), tmp_path, ["json", "html"])
    assert json.loads(open(files["json"], encoding="utf-8").read())["summary"]["total"] == 5
    with pytest.raises(PatchReportError, match="unknown report format"):
        write_report(_report(), tmp_path, ["pdf"])
    with pytest.raises(PatchReportError, match="must map host names"):
        build_report(["EX1"], generated_on="2026-11-26")


def test_a_server_possibly_out_of_service_is_named_everywhere():
    results = {"EX5": {"status": "unreachable", "in_maintenance": True, "maintenance": "possibly_out_of_service",
                       "last_action": "entering maintenance (maintenance steps: drain_transport)",
                       "message": "possibly out of service: could not be reached at the end of the window"},
               "EX6": {"status": "failed", "in_maintenance": False, "maintenance": "in_service",
                       "message": "gate closed; in service (read at the end of the window)"}}
    report = build_report(results, generated_on="2026-11-26")
    summary = report["summary"]
    assert summary["hosts"]["in_maintenance"] == ["EX5"]
    assert summary["hosts"]["possibly_out_of_service"] == ["EX5"]
    line = "EX5: possibly out of service (could not be reached); last done: entering maintenance"
    assert line in render_markdown(report) and line in render_html(report)
    assert "possibly_out_of_service" in render_csv(report)


@pytest.mark.parametrize("broken", [
    {},
    {"status": ["x"], "steps_done": "install_su", "planned_steps": "all", "undone": "x", "started": 5},
    {"status": "failed", "planned_steps": [None, "x", {"action": "install_su"}], "steps_done": [1, None]},
    {"status": "patched", "in_maintenance": "yes", "maintenance": {"odd": 1}, "last_action": ["x"]},
])
def test_a_result_with_missing_or_odd_keys_is_still_a_row(broken):
    report = build_report({"EX7": broken, "EX8": {"status": "patched"}}, generated_on="2026-11-26")
    rows = {s["name"]: s for s in report["servers"]}
    assert set(rows) == {"EX7", "EX8"} and rows["EX8"]["status"] == "patched"
    for render in (render_csv, render_html, render_markdown):
        assert "EX7" in render(report)


def test_a_window_with_no_server_is_refused_not_reported_as_zero():
    with pytest.raises(PatchReportError, match="no server in this window"):
        build_report({}, generated_on="2026-11-26")


# What the role recorded as out of reach was judged on the build before the
# window (the plan's critical findings); these are the planner's own texts.
PRE_WINDOW_UNDONE = [
    "Exchange 2016 reached end of support on 2025-10-14.",
    "No build reachable from 15.1.2375.7 meets the June 2026 EEMS cut-off (ESU-only updates are excluded: "
    "esu_enrolled is false).",
    "Build 15.1.2375.7 is older than the March 2023 SU: EEMS cannot fetch any mitigation.",
]


def _undone(row):
    return [u["why"] for u in row["left_undone"]]


def test_left_undone_is_the_state_after_the_window_not_the_plan_before_it():
    """2016 CU22 patched as far as it can go (CU23 Oct25SU, no ESU): the report
    must not say EEMS still cannot fetch (CU22's problem), but what is true
    of CU23 Oct25SU; a line about no build stays as the role wrote it."""
    results = {"EX16": {"status": "patched", "build_before": "15.1.2375.7", "build_after": "15.1.2507.61",
                        "target_build": "15.1.2507.61", "maintenance": "in_service", "undone": PRE_WINDOW_UNDONE,
                        "planned_steps": [{"action": "install_cu", "update": "CU23"},
                                          {"action": "install_su", "update": "Oct25SU"}],
                        "steps_done": [{"action": "install_cu", "update": "CU23", "result": "succeeded"},
                                       {"action": "install_su", "update": "Oct25SU", "result": "succeeded"}]},
               # Nothing installed (the window closed): the pre-window lines are still true.
               "EX17": {"status": "not_started_window_closed", "build_before": "15.1.2375.7",
                        "build_after": "15.1.2375.7", "undone": PRE_WINDOW_UNDONE}}
    report = build_report(results, generated_on="2026-11-26")
    rows = {s["name"]: s for s in report["servers"]}
    after = _undone(rows["EX16"])
    assert not any("15.1.2375.7" in line or "cannot fetch" in line for line in after), after
    assert "after the window: Exchange 2016 CU23 Oct25SU is below the June 2026 update: EEMS cannot use " \
           "definitions published from July 2026 on" in after
    assert "Exchange 2016 reached end of support on 2025-10-14." in after
    assert rows["EX16"]["change"] == "Exchange 2016 CU22 → Exchange 2016 CU23 Oct25SU"
    assert set(PRE_WINDOW_UNDONE) <= set(_undone(rows["EX17"]))
    page = render_html(report)
    assert "Exchange 2016 CU22 → Exchange 2016 CU23 Oct25SU" in page and "is below the June 2026 update" in page


def test_a_product_change_is_said_plainly_and_old_product_lines_go():
    results = {"EX19": {"status": "patched", "build_before": "15.2.1544.39", "build_after": "15.2.2562.17",
                        "target_build": "15.2.2562.17", "maintenance": "in_service",
                        "undone": ["Exchange 2019 reached end of support on 2025-10-14."]}}
    row = build_report(results, generated_on="2026-11-26")["servers"][0]
    assert row["change"] == ("Exchange 2019 CU14 Feb26SU → Exchange SE RTM "
                             "(product change: Exchange 2019 → Exchange SE)")
    assert not any("Exchange 2019 reached" in line for line in _undone(row))


def test_a_server_the_sweep_found_out_of_service_has_return_to_service_left_undone():
    results = {"EX20": {"status": "unreachable", "maintenance": "possibly_out_of_service", "in_maintenance": True,
                        "planned_steps": [{"action": "install_su", "update": "Oct25SU"}],
                        "steps_done": [{"action": "install_su", "update": "Oct25SU", "result": "succeeded"}]},
               "EX21": {"status": "failed", "maintenance": "in_service", "message": "gate closed",
                        "planned_steps": [{"action": "install_su", "update": "Oct25SU"}]}}
    rows = {s["name"]: s for s in build_report(results, generated_on="2026-11-26")["servers"]}
    assert [u["step"] for u in rows["EX20"]["left_undone"]] == ["return to service"]
    # Put back in service by the sweep: only the step it never did is left.
    assert [u["step"] for u in rows["EX21"]["left_undone"]] == ["install_su Oct25SU"]


MAINTAINED = {"status": "maintained", "in_maintenance": False, "maintenance": "in_service",
              "build_before": "15.2.1748.53", "build_after": "15.2.1748.53", "target_build": "15.2.1748.53",
              "started": "2026-11-26T08:00:00+00:00", "finished": "2026-11-26T08:20:00+00:00",
              "last_action": "left maintenance", "steps_done": [], "planned_steps": [],
              "message": "Exchange was already at its target; exchange_patch_hook_tasks ran while it was out of "
                         "service; back in service"}


def test_a_maintained_server_is_counted_carded_and_needs_nothing_next():
    """exchange_patch_hooks_on_every_server: up to date, the admin's tasks ran out of service, back in service."""
    report = build_report({"EX9": MAINTAINED, "EX1": RESULTS["EX1"], "EX10": {"status": "up_to_date"}},
                          generated_on="2026-11-26")
    summary = report["summary"]
    assert summary["by_status"]["maintained"] == 1 and summary["by_status"]["up_to_date"] == 1
    assert summary["hosts"]["maintained"] == ["EX9"] and summary["hosts"]["patched"] == ["EX1"]
    assert summary["problems"] == 0 and summary["hosts"]["in_maintenance"] == []
    assert summary["next_actions"] == []
    row = next(s for s in report["servers"] if s["name"] == "EX9")
    assert row["status"] == "maintained" and row["left_undone"] == []
    page = render_html(report)
    # Its own card beside "patched" and "already up to date", and its outcome in the counts and the row.
    assert "up to date, your tasks ran out of service" in page and "already up to date" in page
    assert page.count(">maintained<") >= 2, page
    markdown = render_markdown(report)
    assert "| maintained | 1 |" in markdown and "| EX9 | maintained | in service |" in markdown
    assert "Nothing: every server is done." in markdown
    cells = list(csv.reader(io.StringIO(render_csv(report))))
    assert dict(zip(cells[0], next(r for r in cells if r[0] == "EX9")))["status"] == "maintained"
    # A window without such a server shows no such card (the reports of today are unchanged).
    assert "your tasks ran out of service" not in render_html(_report())


def test_a_maintained_server_short_of_its_target_says_so():
    short = dict(MAINTAINED, build_after="15.2.1748.46")
    report = build_report({"EX9": short}, generated_on="2026-11-26")
    assert [u["step"] for u in report["servers"][0]["left_undone"]] == ["target"]
    assert report["summary"]["next_actions"] == ["Still short of their target after the window (see Left undone): EX9."]
