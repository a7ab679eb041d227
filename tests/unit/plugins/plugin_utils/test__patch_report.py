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
    assert rows["EX2"]["left_undone"] == [{"step": "install_su Sep26SUv2",
                                          "why": "the install failed part-way: Install: exit code 1603"}]
    assert rows["EX3"]["left_undone"][0]["why"] == "the window ended before this server started"
    assert rows["EX1"]["seconds"] == 3600.0 and rows["EX1"]["left_undone"] == []
    assert rows["EX4"]["status"] == "no_result"


def test_renderers_escape_host_text():
    report = _report()
    assert "<script>" not in render_html(report)
    cells = list(csv.reader(io.StringIO(render_csv(report))))
    evil = next(row for row in cells if "EVIL" in row[0])
    assert evil[0].startswith("'=") and evil[-1].startswith("'=")
    assert "\\<script\\>" in render_markdown(report)
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
