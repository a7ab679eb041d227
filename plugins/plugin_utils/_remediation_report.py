# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The before/after report of a remediation run (audit → mitigate → patch → EEMS → audit).

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports, no clock.  Both sides are build_facts
results as the audit registers them; each side is read with the audit
report's own reader, so both reports always agree on what a result means.
Every server ends as ``working`` or with the reason it is not (cause and
remedy), which is what a person needs from the last page of a long night.
"""
from __future__ import annotations

import csv
import datetime
import html
import io
import json
from collections.abc import Mapping

from ._audit_report import AuditReportError, _server, write_report

_SIDE_KEYS = ("status", "build", "product", "update", "lifecycle", "eems_status", "eems_cause", "error")


def _side(name, result):
    # _server turns anything that is not a result into a failed row naming it.
    server = _server(name, result)
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


def build_remediation_report(before, after, *, generated_on, title="Exchange remediation"):
    """``before``/``after``: {host: build_facts result or None}.  Returns a JSON-safe dict."""
    for side, value in (("before", before), ("after", after)):
        if not isinstance(value, Mapping):
            raise AuditReportError("%s must be a dict of host name to build_facts result" % side)
    try:
        day = datetime.date.fromisoformat(str(generated_on))
    except ValueError:
        raise AuditReportError("generated_on=%r is not an ISO date (YYYY-MM-DD)" % (generated_on,)) from None
    servers = []
    for name in sorted(set(map(str, before)) | set(map(str, after)), key=lambda n: (n.casefold(), n)):
        before_side = _side(name, before.get(name))[0]
        after_side, after_server = _side(name, after.get(name))
        verdict, reason, remedy = _verdict(after_side, after_server)
        servers.append({
            "name": name,
            "before": before_side,
            "after": after_side,
            "build_changed": bool(before_side["build"] and after_side["build"]
                                  and before_side["build"] != after_side["build"]),
            "verdict": verdict,
            "reason": reason,
            "remedy": remedy,
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
    }
    return {"title": str(title), "generated_on": day.isoformat(), "summary": summary, "servers": servers}


def _cell(value):
    return "—" if value in (None, "") else str(value)


def _change(server, key):
    before, after = server["before"][key], server["after"][key]
    return _cell(after) if before == after else "%s → %s" % (_cell(before), _cell(after))


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_markdown(report):
    def md(value):
        return _cell(value).replace("|", "\\|").replace("\n", " ")

    summary = report["summary"]
    lines = ["# %s" % md(report["title"]), "", "Generated on %s." % report["generated_on"], "",
             "- Servers: %d; EEMS working before: %d, after: %d; updated: %d"
             % (summary["total"], summary["working_before"], summary["working_after"], summary["updated"]),
             "", "| Server | Build | Update | EEMS | Verdict | Reason | Remedy |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for server in report["servers"]:
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            md(server["name"]), md(_change(server, "build")), md(_change(server, "update")),
            md(_change(server, "eems_status")), md(server["verdict"]), md(server["reason"]), md(server["remedy"])))
    return "\n".join(lines) + "\n"


def render_csv(report):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["server", "build_before", "build_after", "update_before", "update_after", "eems_before",
                     "eems_after", "verdict", "reason", "remedy"])
    for server in report["servers"]:
        row = [server["name"], server["before"]["build"], server["after"]["build"], server["before"]["update"],
               server["after"]["update"], server["before"]["eems_status"], server["after"]["eems_status"],
               server["verdict"], server["reason"], server["remedy"]]
        # A cell starting with = + - @ would run as a spreadsheet formula.
        writer.writerow(["'" + c if isinstance(c, str) and c[:1] in "=+-@" else ("" if c is None else c)
                         for c in row])
    return buffer.getvalue()


def render_html(report):
    def h(value):
        return html.escape(_cell(value))

    summary = report["summary"]
    rows = []
    for server in report["servers"]:
        tone = "ok" if server["verdict"] == "working" else "bad"
        rows.append("<tr class=%s><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
                    % (tone, h(server["name"]), h(_change(server, "build")), h(_change(server, "update")),
                       h(_change(server, "eems_status")), h(server["verdict"]), h(server["reason"]),
                       h(server["remedy"])))
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>%s</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:4px 8px;text-align:left}tr.ok td:nth-child(5){color:#176f2c}tr.bad td:nth-child(5){color:#b00020;"
            "font-weight:bold}</style></head><body><h1>%s</h1><p>Generated on %s. Servers: %d. EEMS working "
            "before: %d, after: %d. Updated: %d.</p><table><tr><th>Server</th><th>Build</th><th>Update</th>"
            "<th>EEMS</th><th>Verdict</th><th>Reason</th><th>Remedy</th></tr>%s</table></body></html>\n"
            % (h(report["title"]), h(report["title"]), h(report["generated_on"]), summary["total"],
               summary["working_before"], summary["working_after"], summary["updated"], "".join(rows)))


RENDERERS = {"html": render_html, "json": render_json, "csv": render_csv, "markdown": render_markdown}


def write_remediation_report(report, dest_dir, formats, basename="exchange-remediation"):
    """Write through the audit report's writer (fixed names, atomic, unchanged files left alone)."""
    return write_report(report, dest_dir, formats, basename=basename, renderers=RENDERERS)
