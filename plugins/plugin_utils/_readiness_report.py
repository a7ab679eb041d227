# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight readiness report: server by server, what blocks which job and how to fix it.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports, no clock.  Input: {host: registered
onprem.exchange.preflight result, or None when the host gave none}.  Written
through the audit report's writer (fixed names, atomic), with the audit
report's escaping for host text in Markdown, CSV and HTML.
"""
from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Mapping

from ._audit_report import FORMATS, AuditReportError, _csv_cell, _h, _md, write_report  # noqa: F401  # pylint: disable=unused-import
from ._readiness import JOBS

STATUSES = ("ready", "ready_with_warnings", "not_ready", "failed", "unreachable")


def _server(name, result):
    if result is None:
        return {"name": name, "status": "failed", "jobs": {}, "findings": [], "server": {},
                "error": "no preflight result (the play stopped before this server was checked)"}
    if not isinstance(result, Mapping):
        raise AuditReportError("results[%r] is a %s, not the registered result of onprem.exchange.preflight "
                               "(a dict) or null" % (name, type(result).__name__))
    if result.get("unreachable"):
        return {"name": name, "status": "unreachable", "jobs": {}, "findings": [], "server": {},
                "error": "%s: %s" % (name, result.get("msg") or "unreachable"),
                "fix": "Check WinRM from the controller: the listener, the firewall and the credentials "
                       "(playbooks/connection_check.yml)."}
    if result.get("failed") or "readiness" not in result:
        return {"name": name, "status": "failed", "jobs": {}, "findings": [], "server": {},
                "error": str(result.get("msg") or "preflight did not run")}
    findings = [{key: f.get(key) for key in ("id", "severity", "jobs", "message", "fix")}
                for f in result.get("findings") or [] if isinstance(f, Mapping)]
    return {"name": name, "status": str(result["readiness"]), "jobs": dict(result.get("jobs") or {}),
            "findings": findings, "server": dict(result.get("server") or {}), "error": None}


def build_readiness_report(results, *, generated_on, title="Exchange preflight"):
    if not isinstance(results, Mapping):
        raise AuditReportError("results must be a dict of host name to preflight result, got %s"
                               % type(results).__name__)
    try:
        day = datetime.date.fromisoformat(str(generated_on))
    except ValueError:
        raise AuditReportError("generated_on=%r is not an ISO date (YYYY-MM-DD)" % (generated_on,)) from None
    servers = sorted((_server(str(h), results[h]) for h in results), key=lambda s: (s["name"].casefold(), s["name"]))
    by_status = {status: [s["name"] for s in servers if s["status"] == status] for status in STATUSES}
    by_job = {job: [s["name"] for s in servers if s["jobs"].get(job) == "blocked"] for job in JOBS}
    summary = {
        "total": len(servers),
        "by_status": {status: len(names) for status, names in by_status.items()},
        "hosts": by_status,
        "blocked_by_job": by_job,
        "ready": len(by_status["ready"]) + len(by_status["ready_with_warnings"]),
    }
    return {"title": str(title), "generated_on": day.isoformat(), "summary": summary, "servers": servers}


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _jobs_text(server):
    return ", ".join("%s: %s" % (job, server["jobs"][job]) for job in JOBS if job in server["jobs"])


def _problems(server):
    """(severity, jobs, message, fix) rows; a server without a result gets one."""
    if server.get("error"):
        return [("blocker", "all", server["error"], server.get("fix") or "See the play's output for this server.")]
    return [(f["severity"], ", ".join(f["jobs"] or []), f["message"], f["fix"]) for f in server["findings"]]


def render_csv(report):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["server", "status", "jobs", "severity", "affects", "finding", "fix"])
    for server in report["servers"]:
        rows = _problems(server) or [("", "", "", "")]
        for severity, jobs, message, fix in rows:
            writer.writerow([_csv_cell(v) for v in (server["name"], server["status"], _jobs_text(server), severity,
                                                    jobs, message, fix)])
    return buffer.getvalue()


def render_markdown(report):
    summary = report["summary"]
    lines = ["# %s" % _md(report["title"]), "", "Generated on %s. Preflight reads only; it changed nothing." %
             report["generated_on"], "", "## Summary", "", "| Readiness | Servers |", "| --- | ---: |"]
    lines += ["| %s | %d |" % (status.replace("_", " "), count) for status, count in summary["by_status"].items()]
    lines += ["", "| Job | Blocked on |", "| --- | --- |"]
    lines += ["| %s | %s |" % (job, _md(", ".join(names))) for job, names in summary["blocked_by_job"].items()]
    lines += ["", "## Servers", ""]
    for server in report["servers"]:
        lines += ["### %s: %s" % (_md(server["name"]), server["status"].replace("_", " ")), ""]
        if server["jobs"]:
            lines += ["Jobs: %s" % _md(_jobs_text(server)), ""]
        problems = _problems(server)
        if not problems:
            lines += ["Nothing to fix.", ""]
            continue
        lines += ["| Severity | Affects | Finding | Fix |", "| --- | --- | --- | --- |"]
        lines += ["| %s | %s | %s | %s |" % (_md(s), _md(j), _md(m), _md(f)) for s, j, m, f in problems]
        lines.append("")
    return "\n".join(lines)


def render_html(report):
    summary = report["summary"]
    parts = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>%s</title><style>"
             "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
             ".blocker{color:#b00020;font-weight:bold}.warning{color:#8a5a00}.ready{color:#176f2c}</style></head>"
             "<body><h1>%s</h1><p>Generated on %s. Preflight reads only; it changed nothing.</p>"
             % (_h(report["title"]), _h(report["title"]), _h(report["generated_on"]))]
    parts.append("<table><tr><th>Readiness</th><th>Servers</th></tr>%s</table>" % "".join(
        "<tr><td>%s</td><td>%d</td></tr>" % (_h(status.replace("_", " ")), count)
        for status, count in summary["by_status"].items()))
    parts.append("<table><tr><th>Job</th><th>Blocked on</th></tr>%s</table>" % "".join(
        "<tr><td>%s</td><td>%s</td></tr>" % (_h(job), _h(", ".join(names)))
        for job, names in summary["blocked_by_job"].items()))
    for server in report["servers"]:
        tone = "ready" if server["status"].startswith("ready") else "blocker"
        parts.append("<h2>%s: <span class=%s>%s</span></h2>" % (_h(server["name"]), tone,
                                                                _h(server["status"].replace("_", " "))))
        if server["jobs"]:
            parts.append("<p>Jobs: %s</p>" % _h(_jobs_text(server)))
        problems = _problems(server)
        if not problems:
            parts.append("<p>Nothing to fix.</p>")
            continue
        parts.append("<table><tr><th>Severity</th><th>Affects</th><th>Finding</th><th>Fix</th></tr>%s</table>" % "".join(
            "<tr><td class=%s>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
            % (s if s in ("blocker", "warning") else "", _h(s), _h(j), _h(m), _h(f)) for s, j, m, f in problems))
    parts.append("</body></html>\n")
    return "".join(parts)


RENDERERS = {"html": render_html, "json": render_json, "csv": render_csv, "markdown": render_markdown}


def write_readiness_report(report, dest_dir, formats, basename="exchange-preflight"):
    """Write through the audit report's writer (fixed names, atomic)."""
    return write_report(report, dest_dir, formats, basename=basename, renderers=RENDERERS)
