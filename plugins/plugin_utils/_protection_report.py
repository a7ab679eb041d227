# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet protection report: per server and CVE, what protects it (code fix, mitigation, nothing).

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports, no clock. Input: ``results`` maps each host
to its registered ``onprem.exchange.mitigation`` result, to a loop result
(``{"results": [...]}``) of several such tasks, to a failure or
unreachable result, or to None. Escaping and writing are the report
package's (_report), so every report treats host text the same way.
"""
from __future__ import annotations

import csv
import io
import json

from ._fleet import own_words
from ._report.escape import csv_cell, md, text
from ._report.kind import ReportKind, report_day
from ._report.page import group_servers, markdown_groups, render
from ._report.writer import FORMATS, ReportError
from ._report.writer import write_report as _write

__all__ = ("FORMATS", "KIND", "PROTECTIONS", "build_report", "render_csv", "render_html", "render_json",
           "render_markdown", "write_report")

REPORT_VERSION = 1
PROTECTIONS = ("code_fix", "mitigation", "nothing")
CSV_COLUMNS = ("server", "status", "cve", "mitigation", "protected_by", "code_fix", "mitigation_present",
               "findings", "error")


# What Ansible writes as a loop's own message ("All items completed" even
# when an item was unreachable, "One or more items failed"): never the cause.
_LOOP_MESSAGES = ("All items completed", "One or more items failed", "All items skipped")


def _message(result):
    return own_words((result or {}).get("msg") or "no message")


def _cause(result):
    """The message that explains a failed or unreachable result: its own,
    or for a loop the failed items' messages, never the loop's closing line."""
    items = result.get("results") if isinstance(result.get("results"), list) else None
    if items:
        causes = []
        for item in items:
            if isinstance(item, dict) and (item.get("unreachable") or item.get("failed")):
                label = item.get("item")
                text = _message(item)
                causes.append("%s: %s" % (label, text) if isinstance(label, str) and label else text)
        if causes:
            return " | ".join(causes)
    message = _message(result)
    if message in _LOOP_MESSAGES:
        return "%s (no item said why)" % message
    return message


def _entries(result):
    """(status, error, mitigation entries) of one host's result."""
    if result is None or result.get("skipped"):
        return "not_run", None, []
    items = result.get("results") if isinstance(result.get("results"), list) else [result]
    if result.get("unreachable") or any(isinstance(i, dict) and i.get("unreachable") for i in items):
        return "unreachable", _cause(result), []
    entries = []
    for item in items:
        if isinstance(item, dict) and not item.get("failed"):
            entries += item.get("mitigations") or []
    if result.get("failed") or any(isinstance(i, dict) and i.get("failed") for i in items):
        return "failed", _cause(result), entries
    return "checked", None, entries


def build_report(results, *, generated_on, title, catalog=None, placement=None):
    """Per server and CVE what protects it.  ``placement`` ({host: (organisation,
    DAG)}) groups the servers; ``catalog`` is unused (no build is shown)."""
    del catalog
    if results is not None and not isinstance(results, dict):
        raise ReportError("results must map host names to onprem.exchange.mitigation results, got %s"
                          % type(results).__name__)
    day = report_day(generated_on)
    servers = []
    counts = {p: 0 for p in PROTECTIONS}
    unprotected, states = [], {"checked": 0, "unreachable": 0, "failed": 0, "not_run": 0}
    for name in sorted(results or {}):
        status, error, entries = _entries(results[name])
        states[status] += 1
        cves = []
        for entry in sorted((e for e in entries if isinstance(e, dict)), key=lambda e: str(e.get("cve") or "")):
            protected_by = entry.get("protected_by") if entry.get("protected_by") in PROTECTIONS else "nothing"
            counts[protected_by] += 1
            cves.append({"cve": text(entry.get("cve")), "mitigation": text(entry.get("name")),
                         "protected_by": protected_by, "code_fix": entry.get("code_fix"),
                         "mitigation_present": entry.get("present"),
                         "findings": [text(f.get("message")) or "" for f in entry.get("findings") or []
                                      if isinstance(f, dict)]})
        if any(c["protected_by"] == "nothing" for c in cves) and name not in unprotected:
            unprotected.append(name)
        where = (placement or {}).get(name) or (None, None)
        servers.append({"name": name, "status": status, "error": error, "cves": cves,
                        "organization": text(where[0]) or None, "dag": text(where[1]) or None})
    summary = {"total": len(servers), "by_state": states, "by_protection": counts,
               "hosts": {"unprotected": unprotected,
                         "failed": [s["name"] for s in servers if s["status"] == "failed"],
                         "unreachable": [s["name"] for s in servers if s["status"] == "unreachable"]}}
    summary["next_actions"] = next_actions(summary)
    return {"report_version": REPORT_VERSION, "title": str(title), "generated_on": day,
            "summary": summary, "servers": servers}


def next_actions(summary):
    hosts = summary["hosts"]
    lines = []
    if hosts["unprotected"]:
        lines.append("Nothing protects %s against at least one CVE: patch (playbooks/patch.yml) or apply the "
                     "interim mitigation (playbooks/mitigate.yml)." % ", ".join(hosts["unprotected"]))
    if hosts["unreachable"]:
        lines.append("Could not check %s: make it reachable over WinRM and run again."
                     % ", ".join(hosts["unreachable"]))
    if hosts["failed"]:
        lines.append("The check failed on %s: read the error below." % ", ".join(hosts["failed"]))
    return lines


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _rows(servers):
    for server in servers:
        if not server["cves"]:
            yield {"server": server["name"], "status": server["status"], "error": server["error"]}
        for cve in server["cves"]:
            yield {"server": server["name"], "status": server["status"], "cve": cve["cve"],
                   "mitigation": cve["mitigation"], "protected_by": cve["protected_by"], "code_fix": cve["code_fix"],
                   "mitigation_present": cve["mitigation_present"], "findings": " | ".join(cve["findings"]),
                   "error": server["error"]}


def render_csv(report):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in _rows(report["servers"]):
        writer.writerow([csv_cell(row.get(column)) for column in CSV_COLUMNS])
    return buffer.getvalue()


_LABEL = {"code_fix": "code fix", "mitigation": "mitigation", "nothing": "NOTHING"}
TONES = {"code_fix": "ok", "mitigation": "warn", "nothing": "bad"}


def render_markdown(report):
    summary = report["summary"]
    lines = ["# %s" % md(report["title"]), "", "Generated on %s." % md(report["generated_on"]), "",
             "## What to do next", ""]
    lines += ["- %s" % md(line) for line in summary["next_actions"]] or ["- Nothing: every CVE is covered."]
    lines += ["", "| Protected by | Server/CVE pairs |", "| --- | ---: |"]
    lines += ["| %s | %d |" % (_LABEL[p], summary["by_protection"][p]) for p in PROTECTIONS]
    lines.append("")
    lines += markdown_groups(report["servers"], lambda s: (s.get("organization"), s.get("dag")), _markdown_table)
    return "\n".join(lines).rstrip("\n") + "\n"


def _markdown_table(servers, _grouped):
    lines = ["| Server | Status | CVE | Protected by | Findings |", "| --- | --- | --- | --- | --- |"]
    for row in _rows(servers):
        lines.append("| %s | %s | %s | %s | %s |" % (
            md(row["server"]), md(row["status"]), md(row.get("cve")),
            md(_LABEL.get(row.get("protected_by"), row.get("protected_by"))),
            md(row.get("findings") or row.get("error"))))
    return lines


def render_html(report):
    """One self-contained page from protection.html.j2 (see _report.page)."""
    summary = report["summary"]
    by_state = summary["by_state"]
    cards = [{"n": summary["total"], "label": "servers", "tone": "info"},
             {"n": len(summary["hosts"]["unprotected"]), "label": "servers with a CVE unprotected", "tone": "bad"}]
    cards += [{"n": summary["by_protection"][p], "label": "CVEs covered by %s" % _LABEL[p].lower(),
               "tone": TONES[p]} for p in PROTECTIONS]
    cards += [{"n": by_state["unreachable"], "label": "unreachable", "tone": "unk"},
              {"n": by_state["failed"], "label": "failed", "tone": "bad"},
              {"n": by_state["not_run"], "label": "not run", "tone": "na"}]
    rows = {}
    for row in _rows(report["servers"]):
        rows.setdefault(row["server"], []).append(row)
    return render("protection.html.j2", report, kind="protection", cards=cards, tones=TONES, labels=_LABEL,
                  next_actions=summary["next_actions"], alerts=[], alerts_title="", rows=rows,
                  meta="Generated on %s · %d servers" % (report["generated_on"], summary["total"]),
                  groups=group_servers(report["servers"], lambda s: (s.get("organization"), s.get("dag"))))


RENDERERS = {"html": render_html, "json": render_json, "csv": render_csv, "markdown": render_markdown}


def write_report(report, dest_dir, formats, basename="exchange-protection"):
    return _write(report, dest_dir, formats, basename=basename, renderers=RENDERERS)


KIND = ReportKind("protection", "exchange-protection", "Exchange mitigation report", build_report, RENDERERS)
