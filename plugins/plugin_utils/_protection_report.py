# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet protection report: per server and CVE, what protects it (code fix, mitigation, nothing).

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports, no clock. Input: ``results`` maps each host
to its registered ``onprem.exchange.mitigation`` result, to a loop result
(``{"results": [...]}``) of several such tasks, to a failure or
unreachable result, or to None. The escaping and atomic writing are the
audit report's, so both reports treat host text the same way.
"""
from __future__ import annotations

import csv
import io
import json
import os

from ._audit_report import AuditReportError, _csv_cell, _h, _md, _prepare_dir, _write_atomically

REPORT_VERSION = 1
PROTECTIONS = ("code_fix", "mitigation", "nothing")
FORMATS = {"html": ".html", "json": ".json", "csv": ".csv", "markdown": ".md"}
CSV_COLUMNS = ("server", "status", "cve", "mitigation", "protected_by", "code_fix", "mitigation_present",
               "findings", "error")


# What Ansible writes as a loop's own message ("All items completed" even
# when an item was unreachable, "One or more items failed"): never the cause.
_LOOP_MESSAGES = ("All items completed", "One or more items failed", "All items skipped")


def _message(result):
    return str((result or {}).get("msg") or "no message")


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


def build_report(results, *, generated_on, title):
    servers = []
    counts = {p: 0 for p in PROTECTIONS}
    unprotected, states = [], {"checked": 0, "unreachable": 0, "failed": 0, "not_run": 0}
    for name in sorted(results or {}):
        status, error, entries = _entries(results[name])
        states[status] += 1
        cves = []
        for entry in sorted(entries, key=lambda e: e.get("cve") or ""):
            protected_by = entry.get("protected_by") if entry.get("protected_by") in PROTECTIONS else "nothing"
            counts[protected_by] += 1
            cves.append({"cve": entry.get("cve"), "mitigation": entry.get("name"), "protected_by": protected_by,
                         "code_fix": entry.get("code_fix"), "mitigation_present": entry.get("present"),
                         "findings": [f.get("message") for f in entry.get("findings") or []]})
        if any(c["protected_by"] == "nothing" for c in cves) and name not in unprotected:
            unprotected.append(name)
        servers.append({"name": name, "status": status, "error": error, "cves": cves})
    summary = {"total": len(servers), "by_state": states, "by_protection": counts,
               "hosts": {"unprotected": unprotected,
                         "failed": [s["name"] for s in servers if s["status"] == "failed"],
                         "unreachable": [s["name"] for s in servers if s["status"] == "unreachable"]}}
    return {"report_version": REPORT_VERSION, "title": title, "generated_on": generated_on,
            "summary": summary, "servers": servers}


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _rows(report):
    for server in report["servers"]:
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
    for row in _rows(report):
        writer.writerow([_csv_cell(row.get(column)) for column in CSV_COLUMNS])
    return buffer.getvalue()


_LABEL = {"code_fix": "code fix", "mitigation": "mitigation", "nothing": "NOTHING"}


def render_markdown(report):
    summary = report["summary"]
    lines = ["# %s" % _md(report["title"]), "", "Generated on %s." % _md(report["generated_on"]), "",
             "| Protected by | Server/CVE pairs |", "| --- | ---: |"]
    lines += ["| %s | %d |" % (_LABEL[p], summary["by_protection"][p]) for p in PROTECTIONS]
    lines += ["", "| Server | Status | CVE | Protected by | Findings |", "| --- | --- | --- | --- | --- |"]
    for row in _rows(report):
        lines.append("| %s | %s | %s | %s | %s |" % (
            _md(row["server"]), _md(row["status"]), _md(row.get("cve")),
            _md(_LABEL.get(row.get("protected_by"), row.get("protected_by"))),
            _md(row.get("findings") or row.get("error"))))
    return "\n".join(lines) + "\n"


def render_html(report):
    summary = report["summary"]
    rows = []
    for row in _rows(report):
        tone = {"code_fix": "ok", "mitigation": "warn", "nothing": "bad"}.get(row.get("protected_by"), "na")
        rows.append('<tr class="t-%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
            tone, _h(row["server"]), _h(row["status"]), _h(row.get("cve")),
            _h(_LABEL.get(row.get("protected_by"), row.get("protected_by"))),
            _h(row.get("findings") or row.get("error"))))
    cards = "".join("<li>%s: %d</li>" % (_h(_LABEL[p]), summary["by_protection"][p]) for p in PROTECTIONS)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>"
            "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px}"
            ".t-ok{background:#e6f4ea}.t-warn{background:#fef7e0}.t-bad{background:#fce8e6}</style></head>"
            "<body><h1>%s</h1><p>Generated on %s.</p><ul>%s</ul><table><thead><tr><th>Server</th><th>Status</th>"
            "<th>CVE</th><th>Protected by</th><th>Findings</th></tr></thead><tbody>%s</tbody></table></body></html>\n"
            % (_h(report["title"]), _h(report["title"]), _h(report["generated_on"]), cards, "".join(rows)))


RENDERERS = {"html": render_html, "json": render_json, "csv": render_csv, "markdown": render_markdown}


def write_report(report, dest_dir, formats, basename="exchange-protection"):
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise AuditReportError("unknown report format(s) %s; choose from %s" % (", ".join(unknown), ", ".join(FORMATS)))
    dest_dir = _prepare_dir(dest_dir)
    written = {}
    for fmt in FORMATS:
        if fmt in formats:
            path = os.path.join(dest_dir, basename + FORMATS[fmt])
            try:
                _write_atomically(path, RENDERERS[fmt](report).encode("utf-8"))
            except OSError as error:
                raise AuditReportError("cannot write %s: %s" % (path, error.strerror or error)) from None
            written[fmt] = path
    return written
