# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight readiness report: server by server, what blocks which job and how to fix it.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports, no clock.  Input: {host: registered
onprem.exchange.preflight result, or None when the host gave none}.  Written
and escaped by the report package (_report).
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping

from ._readiness import JOBS
from ._report.escape import csv_cell, label, md, text
from ._report.kind import ReportKind, report_day
from ._report.page import build_name, default_catalog, group_servers, markdown_groups, render
from ._report.writer import FORMATS, ReportError
from ._report.writer import write_report as _write

__all__ = ("FORMATS", "KIND", "STATUSES", "build_readiness_report", "render_csv", "render_html", "render_json",
           "render_markdown", "write_readiness_report")

STATUSES = ("ready", "ready_with_warnings", "not_ready", "failed", "unreachable")


def _server(name, result):
    if result is None:
        return {"name": name, "status": "failed", "jobs": {}, "findings": [], "server": {},
                "error": "no preflight result (the play stopped before this server was checked)"}
    if not isinstance(result, Mapping):
        raise ReportError("results[%r] is a %s, not the registered result of onprem.exchange.preflight "
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


def build_readiness_report(results, *, generated_on, title="Exchange preflight", catalog=None, placement=None):
    if not isinstance(results, Mapping):
        raise ReportError("results must be a dict of host name to preflight result, got %s"
                          % type(results).__name__)
    day = report_day(generated_on)
    catalog = catalog if catalog is not None else default_catalog()
    servers = sorted((_server(str(h), results[h]) for h in results), key=lambda s: (s["name"].casefold(), s["name"]))
    for server in servers:
        info = server["server"]
        server["display_name"] = build_name(info.get("build"), catalog)
        server["organization"] = text(info.get("organization")) or None
        server["dag"] = text(info.get("dag")) or None
        if server["organization"] is None and server["dag"] is None and (placement or {}).get(server["name"]):
            server["organization"], server["dag"] = (text(v) or None for v in placement[server["name"]])
    by_status = {status: [s["name"] for s in servers if s["status"] == status] for status in STATUSES}
    by_job = {job: [s["name"] for s in servers if s["jobs"].get(job) == "blocked"] for job in JOBS}
    summary = {
        "total": len(servers),
        "by_status": {status: len(names) for status, names in by_status.items()},
        "hosts": by_status,
        "blocked_by_job": by_job,
        "ready": len(by_status["ready"]) + len(by_status["ready_with_warnings"]),
    }
    summary["next_actions"] = next_actions(servers, by_job)
    return {"title": str(title), "generated_on": day, "summary": summary, "servers": servers}


def next_actions(servers, by_job):
    lines = []
    for server in servers:
        blockers = [f for f in server["findings"] if f.get("severity") == "blocker"]
        if server.get("error"):
            lines.append("%s: %s" % (server["name"], server.get("fix") or server["error"]))
        elif blockers:
            lines.append("%s: %s" % (server["name"], blockers[0].get("fix") or blockers[0].get("message"))
                         + (" (and %d more blocker(s))" % (len(blockers) - 1) if len(blockers) > 1 else ""))
    blocked_jobs = [job for job, names in by_job.items() if names]
    if blocked_jobs:
        lines.append("Until these are fixed, these jobs stay blocked on some servers: %s." % ", ".join(blocked_jobs))
    return lines


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
            writer.writerow([csv_cell(v) for v in (server["name"], server["status"], _jobs_text(server), severity,
                                                   jobs, message, fix)])
    return buffer.getvalue()


def render_markdown(report):
    summary = report["summary"]
    lines = ["# %s" % md(report["title"]), "", "Generated on %s. Preflight reads only; it changed nothing." %
             report["generated_on"], "", "## What to do next", ""]
    lines += ["- %s" % md(line) for line in summary["next_actions"]] or ["- Nothing: every server is ready."]
    lines += ["", "## Summary", "", "| Readiness | Servers |", "| --- | ---: |"]
    lines += ["| %s | %d |" % (label(status), count) for status, count in summary["by_status"].items()]
    lines += ["", "| Job | Blocked on |", "| --- | --- |"]
    lines += ["| %s | %s |" % (job, md(", ".join(names))) for job, names in summary["blocked_by_job"].items()]
    lines += ["", "## Servers", ""]
    lines += markdown_groups(report["servers"], lambda s: (s.get("organization"), s.get("dag")),
                             _markdown_sections)
    return "\n".join(lines)


def _markdown_sections(servers, grouped):
    # One level below the group heading when there is one.
    heading = "####" if grouped else "###"
    lines = []
    for server in servers:
        lines += ["%s %s: %s" % (heading, md(server["name"]), label(server["status"])), ""]
        if server.get("display_name"):
            lines += ["Build: %s" % md(server["display_name"]), ""]
        if server["jobs"]:
            lines += ["Jobs: %s" % md(_jobs_text(server)), ""]
        problems = _problems(server)
        if not problems:
            lines += ["Nothing to fix.", ""]
            continue
        lines += ["| Severity | Affects | Finding | Fix |", "| --- | --- | --- | --- |"]
        lines += ["| %s | %s | %s | %s |" % (md(s), md(j), md(m), md(f)) for s, j, m, f in problems]
        lines.append("")
    return lines


TONES = {"ready": "ok", "ready_with_warnings": "warn", "not_ready": "bad", "failed": "bad", "unreachable": "unk"}
SEVERITY_TONES = {"blocker": "bad", "warning": "warn", "info": "info"}


def render_html(report):
    """One self-contained page from readiness.html.j2 (see _report.page)."""
    summary = report["summary"]
    cards = [{"n": summary["total"], "label": "servers", "tone": "info"}]
    cards += [{"n": count, "label": label(status), "tone": TONES[status]}
              for status, count in summary["by_status"].items()]
    problems = {server["name"]: _problems(server) for server in report["servers"]}
    return render("readiness.html.j2", report, kind="readiness", cards=cards, tones=TONES,
                  severity_tones=SEVERITY_TONES, next_actions=summary["next_actions"], alerts=[], alerts_title="",
                  meta="Generated on %s · %d servers · preflight reads only; it changed nothing"
                       % (report["generated_on"], summary["total"]),
                  groups=group_servers(report["servers"], lambda s: (s.get("organization"), s.get("dag"))),
                  problems=problems, jobs_text=_jobs_text)


RENDERERS = {"html": render_html, "json": render_json, "csv": render_csv, "markdown": render_markdown}


def write_readiness_report(report, dest_dir, formats, basename="exchange-preflight"):
    """Write through the report package's writer (fixed names, atomic)."""
    return _write(report, dest_dir, formats, basename=basename, renderers=RENDERERS)


KIND = ReportKind("readiness", "exchange-preflight", "Exchange preflight", build_readiness_report, RENDERERS)
