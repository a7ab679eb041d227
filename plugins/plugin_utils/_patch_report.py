# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Patch window report: from each host's ``exchange_patch_result`` to HTML, JSON, CSV and Markdown.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports, no clock.  It renders what the role
recorded; it decides nothing about the servers.  File writing and escaping
helpers are shared with the audit report.

Input: ``results`` maps each host of the window to the ``exchange_patch_result``
fact the role sets (``status, message, started, finished, build_before,
build_after, target_build, steps_done, planned_steps, in_maintenance, undone,
verified`` and, when the window touched its service state, ``maintenance``
(``in_service``, ``in_maintenance`` or ``possibly_out_of_service``: could
not be reached at the end of the window), ``last_action`` and
``maintenance_steps``) or None (the host never got that far: unreachable
before the role, or the run stopped).  Any key may be missing or of the
wrong type: the row is built from what there is.

Output of ``build_report``: ``report_version``, ``title``, ``generated_on``,
``window_end``, ``summary`` (``total``, ``by_status``, ``problems`` and
``hosts`` lists ``patched``, ``problems``, ``in_maintenance`` (every server
that is, or may be, out of service), ``possibly_out_of_service``,
``not_started``; ``makespan_seconds``, ``window_started``,
``window_finished``) and ``servers`` (keys ``SERVER_KEYS``, by name).
"""
from __future__ import annotations

import csv
import datetime
import html
import io
import json
import os

from ._audit_report import _BASENAME_PATTERN, _csv_cell, _prepare_dir, _write_atomically

REPORT_VERSION = 1
FORMATS = {"html": ".html", "json": ".json", "csv": ".csv", "markdown": ".md"}
# Outcomes, in the order a person should read them.
STATUSES = ("failed_in_maintenance", "failed", "unreachable", "no_result", "not_started_window_closed",
            "patched", "returned_to_service", "up_to_date")
PROBLEM_STATUSES = ("failed_in_maintenance", "failed", "unreachable", "no_result")
SERVER_KEYS = ("name", "status", "message", "build_before", "build_after", "target_build", "steps_done",
               "seconds", "started", "finished", "in_maintenance", "maintenance", "last_action", "left_undone",
               "verified")
CSV_COLUMNS = ("name", "status", "build_before", "build_after", "target_build", "steps_done", "seconds",
               "in_maintenance", "maintenance", "last_action", "left_undone", "message")
# Where the window left a server's service state, as far as it could tell.
MAINTENANCE_STATES = ("in_service", "in_maintenance", "possibly_out_of_service")
MAINTENANCE_TEXT = {"in_service": "in service", "in_maintenance": "in maintenance",
                    "possibly_out_of_service": "possibly out of service (could not be reached)"}
_STEP_ACTIONS_DONE = ("succeeded",)


class PatchReportError(ValueError):
    """Input the report cannot use, or a destination it cannot write to."""


def _text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _time(value):
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def _step_label(step):
    action = step.get("action") or "?"
    update = step.get("update")
    label = "%s %s" % (action, update) if update else action
    result = step.get("result")
    if result and result not in _STEP_ACTIONS_DONE:
        label += " (%s%s)" % (result, ", rc %s" % step["rc"] if step.get("rc") not in (None, "") else "")
    return label


def _left_undone(result, status, done):
    """Planned steps that did not happen, each with why."""
    undone = []
    why = {
        "not_started_window_closed": "the window ended before this server started",
        "failed": "the window stopped on this server: %s" % (result.get("message") or "failed"),
        "failed_in_maintenance": "the install failed part-way: %s" % (result.get("message") or "failed"),
        "unreachable": "the server could not be reached",
    }.get(status)
    finished = {(s.get("action"), s.get("update")) for s in done if s.get("result") in _STEP_ACTIONS_DONE}
    if why:
        for step in _dicts(result.get("planned_steps")):
            if (step.get("action"), step.get("update")) not in finished:
                undone.append({"step": _step_label({"action": step.get("action"), "update": step.get("update")}),
                               "why": why})
        if not undone:
            undone.append({"step": "window", "why": why})
    undone_messages = result.get("undone")
    for message in undone_messages if isinstance(undone_messages, list) else []:
        undone.append({"step": "target", "why": _text(message)})
    return undone


def _dicts(value):
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _maintenance(result):
    """(in_maintenance, maintenance) from what the role recorded."""
    state = result.get("maintenance")
    if state not in MAINTENANCE_STATES:
        state = "in_maintenance" if result.get("in_maintenance") in (True, "True", "true") else None
    return state in ("in_maintenance", "possibly_out_of_service"), state


def _server(name, result):
    if not isinstance(result, dict):
        return {"name": name, "status": "no_result",
                "message": "no result: the server was unreachable before its window began, or the run stopped",
                "build_before": None, "build_after": None, "target_build": None, "steps_done": [], "seconds": None,
                "started": None, "finished": None, "in_maintenance": None, "maintenance": None, "last_action": None,
                "left_undone": [{"step": "window", "why": "no result from this server"}], "verified": None}
    status = result.get("status") if isinstance(result.get("status"), str) and result["status"] in STATUSES \
        else "failed"
    done = _dicts(result.get("steps_done"))
    in_maintenance, maintenance = _maintenance(result)
    started, finished = _time(result.get("started")), _time(result.get("finished"))
    seconds = round((finished - started).total_seconds(), 1) if started and finished else None
    return {
        "name": name, "status": status, "message": _text(result.get("message")) or "",
        "build_before": _text(result.get("build_before")), "build_after": _text(result.get("build_after")),
        "target_build": _text(result.get("target_build")),
        "steps_done": [_step_label(s) for s in done], "seconds": seconds,
        "started": _text(result.get("started")), "finished": _text(result.get("finished")),
        "in_maintenance": in_maintenance, "maintenance": maintenance,
        "last_action": _text(result.get("last_action")) or None,
        "left_undone": _left_undone(result, status, done),
        "verified": result.get("verified") if isinstance(result.get("verified"), dict) else None,
    }


def build_report(results, *, generated_on, title="Exchange patch window", window_end=None):
    if not isinstance(results, dict):
        raise PatchReportError("results must map host names to exchange_patch_result, got %s"
                               % type(results).__name__)
    if not results:
        raise PatchReportError("no server in this window: the host pattern and --limit matched none")
    servers = [_server(str(name), results[name]) for name in sorted(results, key=str)]
    by_status = {s: 0 for s in STATUSES}
    for server in servers:
        by_status[server["status"]] += 1
    starts = [t for t in (_time(s["started"]) for s in servers) if t]
    ends = [t for t in (_time(s["finished"]) for s in servers) if t]
    problems = [s["name"] for s in servers if s["status"] in PROBLEM_STATUSES]
    summary = {
        "total": len(servers), "by_status": by_status, "problems": len(problems),
        "hosts": {
            "patched": [s["name"] for s in servers if s["status"] == "patched"],
            "problems": problems,
            "in_maintenance": [s["name"] for s in servers if s["in_maintenance"]],
            "possibly_out_of_service": [s["name"] for s in servers if s["maintenance"] == "possibly_out_of_service"],
            "not_started": [s["name"] for s in servers if s["status"] == "not_started_window_closed"],
        },
        "window_started": min(starts).isoformat() if starts else None,
        "window_finished": max(ends).isoformat() if ends else None,
        "makespan_seconds": round((max(ends) - min(starts)).total_seconds(), 1) if starts and ends else None,
    }
    return {"report_version": REPORT_VERSION, "title": str(title), "generated_on": str(generated_on),
            "window_end": _text(window_end), "summary": summary, "servers": servers}


def out_of_service_lines(report):
    """One line per server the window left (or may have left) out of service."""
    return ["%s: %s%s" % (s["name"], MAINTENANCE_TEXT.get(s["maintenance"], "in maintenance"),
                          "; last done: %s" % s["last_action"] if s.get("last_action") else "")
            for s in report["servers"] if s["in_maintenance"]]


def _maintenance_cell(server):
    if server["in_maintenance"]:
        return MAINTENANCE_TEXT.get(server["maintenance"], "in maintenance")
    return "in service" if server["maintenance"] == "in_service" or server["status"] != "no_result" else "unknown"


def _undone_text(server):
    return "; ".join("%s: %s" % (u["step"], u["why"]) for u in server["left_undone"])


def render_json(report):
    return json.dumps(report, indent=1, sort_keys=True) + "\n"


def render_csv(report):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for server in report["servers"]:
        row = dict(server, steps_done=" → ".join(server["steps_done"]), left_undone=_undone_text(server))
        writer.writerow([_csv_cell(row.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _md(value):
    text = "—" if value in (None, "", []) else str(value)
    for char in "\\|*_`[]<>#":
        text = text.replace(char, "\\" + char)
    return text.replace("\r", " ").replace("\n", " ")


def render_markdown(report):
    summary = report["summary"]
    lines = ["# %s" % _md(report["title"]), "", "Generated on %s." % _md(report["generated_on"]), ""]
    if summary["hosts"]["in_maintenance"]:
        lines += ["**Out of service after the window (in maintenance, or possibly: could not be reached):**", ""]
        lines += ["- **%s**" % _md(line) for line in out_of_service_lines(report)] + [""]
    lines += ["| Outcome | Servers |", "|---|---|"]
    lines += ["| %s | %d |" % (status, count) for status, count in summary["by_status"].items() if count]
    lines += ["", "Window: %s to %s (%s s)." % (_md(summary["window_started"]), _md(summary["window_finished"]),
                                                _md(summary["makespan_seconds"])), "",
              "| Server | Outcome | Service | Before | After | Steps done | Time (s) | Left undone |",
              "|---|---|---|---|---|---|---|---|"]
    for server in report["servers"]:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            _md(server["name"]), _md(server["status"]), _md(_maintenance_cell(server)), _md(server["build_before"]),
            _md(server["build_after"]),
            _md(" → ".join(server["steps_done"])), _md(server["seconds"]), _md(_undone_text(server))))
    return "\n".join(lines) + "\n"


_TONES = {"failed_in_maintenance": "#b00020", "failed": "#b00020", "unreachable": "#b00020", "no_result": "#b00020",
          "not_started_window_closed": "#a15c00", "patched": "#1b6e20", "returned_to_service": "#1b6e20",
          "up_to_date": "#1b6e20"}


def render_html(report):
    h = html.escape
    summary = report["summary"]
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>%s</title>" % h(report["title"]),
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.loud{color:#b00020;font-weight:bold}"
             "</style></head><body>",
             "<h1>%s</h1><p>Generated on %s.</p>" % (h(report["title"]), h(report["generated_on"]))]
    if summary["hosts"]["in_maintenance"]:
        parts.append('<p class="loud">Out of service after the window (in maintenance, or possibly: could not be '
                     "reached):</p><ul>%s</ul>" % "".join('<li class="loud">%s</li>' % h(line)
                                                          for line in out_of_service_lines(report)))
    parts.append("<table><tr><th>Outcome</th><th>Servers</th></tr>")
    parts += ["<tr><td>%s</td><td>%d</td></tr>" % (h(s), c) for s, c in summary["by_status"].items() if c]
    parts.append("</table><p>Window: %s to %s (%s s).</p>" % (
        h(str(summary["window_started"])), h(str(summary["window_finished"])), h(str(summary["makespan_seconds"]))))
    parts.append("<table><tr><th>Server</th><th>Outcome</th><th>Service</th><th>Before</th><th>After</th>"
                 "<th>Steps done</th><th>Time (s)</th><th>Left undone</th><th>Message</th></tr>")
    for server in report["servers"]:
        parts.append('<tr><td>%s</td><td style="color:%s">%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>'
                     "<td>%s</td><td>%s</td><td>%s</td></tr>" % (
                         h(server["name"]), _TONES.get(server["status"], "#000"), h(server["status"]),
                         h(_maintenance_cell(server)),
                         h(server["build_before"] or "—"), h(server["build_after"] or "—"),
                         h(" → ".join(server["steps_done"]) or "—"), h(str(server["seconds"] or "—")),
                         h(_undone_text(server) or "—"), h(server["message"] or "")))
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


RENDERERS = {"html": render_html, "json": render_json, "csv": render_csv, "markdown": render_markdown}


def write_report(report, dest_dir, formats, basename="exchange-patch"):
    """Write each format to ``dest_dir/basename.<ext>``; returns ``{format: path}``."""
    if not _BASENAME_PATTERN.match(basename or ""):
        raise PatchReportError("basename %r must be a plain file name" % (basename,))
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise PatchReportError("unknown report format(s) %s; choose from %s" % (", ".join(map(str, unknown)),
                                                                                ", ".join(FORMATS)))
    try:
        dest_dir = _prepare_dir(dest_dir)
    except ValueError as error:
        raise PatchReportError(str(error)) from None
    written = {}
    for fmt in FORMATS:
        if fmt not in formats:
            continue
        path = os.path.join(dest_dir, basename + FORMATS[fmt])
        try:
            _write_atomically(path, RENDERERS[fmt](report).encode("utf-8"))
        except OSError as error:
            raise PatchReportError("cannot write %s: %s" % (path, error.strerror or error)) from None
        written[fmt] = path
    return written
