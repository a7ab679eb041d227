# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The before/after report of a remediation run (audit → mitigate → patch → EEMS → audit).

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports, no clock.  Both sides are build_facts
results as the audit registers them; each side is read with the audit
report's own reader, so both reports always agree on what a result means.
Writing and escaping are the report package's (_report).
Every server ends as ``working`` or with the reason it is not (cause and
remedy), which is what a person needs from the last page of a long night.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping

from ._audit_report import _server
from ._report.escape import csv_cell, label, md, text
from ._report.kind import ReportKind, report_day
from ._report.page import change_text, default_catalog, group_servers, markdown_groups, render
from ._report.writer import ReportError
from ._report.writer import write_report as _write

_SIDE_KEYS = ("status", "build", "display_name", "product", "update", "lifecycle", "eems_status", "eems_cause",
              "error")
TONES = {"working": "ok", "not_working": "bad", "disabled": "warn", "not_applicable": "na", "unknown": "unk"}
CSV_COLUMNS = ("server", "build_before", "build_after", "update_before", "update_after", "eems_before",
               "eems_after", "verdict", "reason", "remedy", "change", "organization", "dag")


def _side(name, result, catalog):
    # _server turns anything that is not a result into a failed row naming it.
    server = _server(name, result, catalog)
    return {key: server.get(key) for key in _SIDE_KEYS}, server


def _verdict(after_side, after_server):
    if after_side["status"] != "audited":
        reason = {"unreachable": "unreachable after the run", "failed": "could not be audited after the run",
                  "not_run": "not audited after the run (failed earlier, e.g. a failed install left it out of "
                             "service)"}[after_side["status"]]
        return "not_working", reason, after_side.get("error") or "See the patch report for this server."
    if after_side["eems_status"] == "working":
        return "working", None, None
    # When no update can reach the cut-off (2016 without ESU, 2013), the
    # planner's own finding says so better than the EEMS cause does.
    dead_end = next((f for f in after_server.get("findings") or [] if f.get("id") == "eems_target_unreachable"), None)
    if dead_end and after_side["eems_status"] == "not_working":
        return "not_working", dead_end.get("message"), dead_end.get("remedy")
    cause = after_side["eems_cause"] or after_side["eems_status"]
    return after_side["eems_status"], cause.replace("_", " "), after_server.get("eems_remedy")


def next_actions(servers):
    lines = []
    for server in servers:
        if server["verdict"] != "working" and server["verdict"] != "not_applicable":
            lines.append("%s: %s%s" % (server["name"], server["reason"] or label(server["verdict"]),
                                       " — %s" % server["remedy"] if server["remedy"] else ""))
    return lines


def build_remediation_report(before, after, *, generated_on, title="Exchange remediation", catalog=None,
                             placement=None):
    """``before``/``after``: {host: build_facts result or None}.  Returns a JSON-safe dict."""
    for side, value in (("before", before), ("after", after)):
        if not isinstance(value, Mapping):
            raise ReportError("%s must be a dict of host name to build_facts result" % side)
    day = report_day(generated_on)
    catalog = catalog if catalog is not None else default_catalog()
    servers = []
    for name in sorted(set(map(str, before)) | set(map(str, after)), key=lambda n: (n.casefold(), n)):
        before_side, before_server = _side(name, before.get(name), catalog)
        after_side, after_server = _side(name, after.get(name), catalog)
        verdict, reason, remedy = _verdict(after_side, after_server)
        organization = after_server["organization"] or before_server["organization"]
        dag = after_server["dag"] or before_server["dag"]
        if organization is None and dag is None and (placement or {}).get(name):
            organization, dag = (text(v) or None for v in placement[name])
        servers.append({
            "name": name,
            "before": before_side,
            "after": after_side,
            "build_changed": bool(before_side["build"] and after_side["build"]
                                  and before_side["build"] != after_side["build"]),
            "change": change_text(before_side["build"], after_side["build"], catalog),
            "verdict": verdict,
            "reason": reason,
            "remedy": remedy,
            "organization": organization,
            "dag": dag,
        })
    by_verdict = {}
    for server in servers:
        by_verdict[server["verdict"]] = by_verdict.get(server["verdict"], 0) + 1
    summary = {
        "total": len(servers),
        "by_verdict": dict(sorted(by_verdict.items())),
        "working_before": sum(1 for s in servers if s["before"]["eems_status"] == "working"),
        "working_after": by_verdict.get("working", 0),
        "updated": sum(1 for s in servers if s["build_changed"]),
        "hosts": {
            "working": [s["name"] for s in servers if s["verdict"] == "working"],
            "not_working": [s["name"] for s in servers if s["verdict"] != "working"],
            "updated": [s["name"] for s in servers if s["build_changed"]],
        },
        "next_actions": next_actions(servers),
    }
    return {"title": str(title), "generated_on": day, "summary": summary, "servers": servers}


def _cell(value):
    return "—" if value in (None, "") else str(value)


def _change(server, key):
    before, after = server["before"][key], server["after"][key]
    return _cell(after) if before == after else "%s → %s" % (_cell(before), _cell(after))


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_markdown(report):
    summary = report["summary"]
    lines = ["# %s" % md(report["title"]), "", "Generated on %s." % report["generated_on"], "",
             "- Servers: %d; EEMS working before: %d, after: %d; updated: %d"
             % (summary["total"], summary["working_before"], summary["working_after"], summary["updated"]),
             "", "## What to do next", ""]
    lines += ["- %s" % md(line) for line in summary["next_actions"]] or ["- Nothing: EEMS works everywhere."]
    lines.append("")
    lines += markdown_groups(report["servers"], lambda s: (s["organization"], s["dag"]), _markdown_table)
    return "\n".join(lines).rstrip("\n") + "\n"


def _markdown_table(servers, _grouped):
    lines = ["| Server | Build | EEMS | Verdict | Reason | Remedy |", "| --- | --- | --- | --- | --- | --- |"]
    for server in servers:
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            md(server["name"]), md(server["change"]), md(_change(server, "eems_status")), md(server["verdict"]),
            md(server["reason"]), md(server["remedy"])))
    return lines


def render_csv(report):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for server in report["servers"]:
        row = [server["name"], server["before"]["build"], server["after"]["build"], server["before"]["update"],
               server["after"]["update"], server["before"]["eems_status"], server["after"]["eems_status"],
               server["verdict"], server["reason"], server["remedy"], server["change"], server["organization"],
               server["dag"]]
        writer.writerow([csv_cell(cell) for cell in row])
    return buffer.getvalue()


def render_html(report):
    """One self-contained page from remediation.html.j2 (see _report.page)."""
    summary = report["summary"]
    by_verdict = summary["by_verdict"]
    cards = [{"n": summary["total"], "label": "servers", "tone": "info"},
             {"n": summary["working_before"], "label": "EEMS working before", "tone": "na"},
             {"n": summary["working_after"], "label": "EEMS working after", "tone": "ok"},
             {"n": summary["updated"], "label": "updated", "tone": "info"}]
    cards += [{"n": count, "label": "verdict: %s" % label(verdict), "tone": TONES.get(verdict, "unk")}
              for verdict, count in by_verdict.items() if verdict != "working"]
    return render("remediation.html.j2", report, kind="remediation", cards=cards, tones=TONES,
                  next_actions=summary["next_actions"], alerts=[], alerts_title="",
                  meta="Generated on %s · %d servers" % (report["generated_on"], summary["total"]),
                  groups=group_servers(report["servers"], lambda s: (s["organization"], s["dag"])),
                  change=_change)


RENDERERS = {"html": render_html, "json": render_json, "csv": render_csv, "markdown": render_markdown}


def write_remediation_report(report, dest_dir, formats, basename="exchange-remediation"):
    """Write through the report package's writer (fixed names, atomic, unchanged files left alone)."""
    return _write(report, dest_dir, formats, basename=basename, renderers=RENDERERS)


KIND = ReportKind("remediation", "exchange-remediation", "Exchange remediation", build_remediation_report,
                  RENDERERS, inputs=("before", "after"))
