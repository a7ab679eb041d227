# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Patch window report: from each host's ``exchange_patch_result`` to HTML, JSON, CSV and Markdown.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports, no clock.  It renders what the role
recorded; the only judgement is what is left undone *after* the window: the
role's list of what the target could not reach was made from the build
before the window, so when the window changed the build those lines are
said again of the build after it (with the catalog).  Writing and escaping
are the report package's (_report).

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
``window_end``, ``summary`` (``total``, ``by_status``, ``problems``, ``next_actions`` and
``hosts`` lists ``patched``, ``maintained``, ``problems``, ``in_maintenance`` (every server
that is, or may be, out of service), ``possibly_out_of_service``,
``not_started``; ``makespan_seconds``, ``window_started``,
``window_finished``) and ``servers`` (keys ``SERVER_KEYS``, by name; builds also by the names admins
use: ``before_name``, ``after_name``, ``target_name`` and ``change``, which
says a product change plainly).
"""
from __future__ import annotations

import csv
import datetime
import io
import json

from ._exchange_build import ExchangeBuild
from ._report.escape import csv_cell, label, md, text
from ._report.kind import ReportKind, report_day
from ._report.page import build_name, change_text, default_catalog, group_servers, markdown_groups, product_of, render
from ._report.writer import FORMATS, ReportError
from ._report.writer import write_report as _write

__all__ = ("CSV_COLUMNS", "FORMATS", "KIND", "SERVER_KEYS", "STATUSES", "PatchReportError", "build_report",
           "out_of_service_lines", "render_csv", "render_html", "render_json", "render_markdown", "write_report")

REPORT_VERSION = 1
# Outcomes, in the order a person should read them. maintained: Exchange was
# already at its target and the window took the server out of service only for
# the admin's hook tasks (exchange_patch_hooks_on_every_server), then put it back.
STATUSES = ("failed_in_maintenance", "failed", "unreachable", "no_result", "not_started_window_closed",
            "patched", "maintained", "returned_to_service", "up_to_date")
PROBLEM_STATUSES = ("failed_in_maintenance", "failed", "unreachable", "no_result")
SERVER_KEYS = ("name", "status", "message", "build_before", "build_after", "target_build", "steps_done",
               "seconds", "started", "finished", "in_maintenance", "maintenance", "last_action", "left_undone",
               "verified", "before_name", "after_name", "target_name", "change", "organization", "dag")
CSV_COLUMNS = ("name", "status", "build_before", "build_after", "target_build", "steps_done", "seconds",
               "in_maintenance", "maintenance", "last_action", "left_undone", "message", "change", "organization",
               "dag")
# Where the window left a server's service state, as far as it could tell.
MAINTENANCE_STATES = ("in_service", "in_maintenance", "possibly_out_of_service")
MAINTENANCE_TEXT = {"in_service": "in service", "in_maintenance": "in maintenance",
                    "possibly_out_of_service": "possibly out of service (could not be reached)"}
_STEP_ACTIONS_DONE = ("succeeded",)
# Colour of each outcome; verdict words for the summary.
TONES = {"failed_in_maintenance": "bad", "failed": "bad", "unreachable": "unk", "no_result": "bad",
         "not_started_window_closed": "warn", "patched": "ok", "maintained": "ok", "returned_to_service": "ok",
         "up_to_date": "ok"}

# Kept as the patch report's name for the one report error.
PatchReportError = ReportError


def _time(value):
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def _step_label(step):
    action = step.get("action") or "?"
    update = step.get("update")
    label_text = "%s %s" % (action, update) if update else action
    result = step.get("result")
    if result and result not in _STEP_ACTIONS_DONE:
        label_text += " (%s%s)" % (result, ", rc %s" % step["rc"] if step.get("rc") not in (None, "") else "")
    return label_text


def _dicts(value):
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _build_forms(value):
    """The ways a build may be written in a message (as given, normalised, long form)."""
    forms = {text(value)}
    try:
        build = ExchangeBuild.parse(text(value))
        forms.update((str(build), build.long_form()))
    except ValueError:
        pass
    return {form for form in forms if form}


def _after_window(build_after, catalog, today):
    """What the target still lacks at the build the window left, from the catalog."""
    try:
        info = catalog.classify(build_after, today).to_dict()
    except (ValueError, AttributeError):
        return []
    name = info.get("display_name") or build_after
    lines = []
    if info.get("eems_fetch_ok") is False:
        lines.append("%s is below the March 2023 SU: EEMS cannot fetch any mitigation" % name)
    if info.get("eems_2026_ok") is False:
        lines.append("%s is below the June 2026 update: EEMS cannot use definitions published from July 2026 on"
                     % name)
    if info.get("unfixed_cves"):
        lines.append("%s is not fixed for %s" % (name, ", ".join(info["unfixed_cves"])))
    return lines


def _target_undone(result, build_before, build_after, catalog, today):
    """The role's "target out of reach" lines, true after the window.

    The role wrote them from the plan made before the window.  Where the
    window changed the build, a line naming the old build describes a server
    that no longer exists: it is replaced by what the catalog says of the
    build after the window.  Lines about anything else (ESU enrolment,
    missing media, no upgrade path) stay as they are."""
    messages = [text(m) for m in result.get("undone")] if isinstance(result.get("undone"), list) else []
    messages = [m for m in messages if m]
    if not messages:
        return []
    changed = build_before and build_after and _build_forms(build_before).isdisjoint(_build_forms(build_after))
    if not changed or catalog is None:
        return messages
    old_forms = _build_forms(build_before)
    # After a product change (2019 -> SE) a line about the old product is stale too.
    old_product, new_product = product_of(build_before, catalog), product_of(build_after, catalog)
    if old_product and new_product and old_product != new_product:
        old_forms.add(old_product)
    kept = [m for m in messages if not any(form in m for form in old_forms)]
    now = _after_window(build_after, catalog, today)
    if len(kept) == len(messages) and not now:
        return messages
    return ["after the window: %s" % line for line in now] + kept


def _left_undone(result, status, done, maintenance, build_before, build_after, target_build, catalog, today):
    """What the window left undone, as the server stands after it, each with why."""
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
    # The service state is the sweep's, read at the very end of the window.
    if maintenance == "in_maintenance":
        undone.append({"step": "return to service",
                       "why": "still in maintenance after the window: %s" % (result.get("message") or "see its log")})
    elif maintenance == "possibly_out_of_service":
        undone.append({"step": "return to service",
                       "why": "could not be reached at the end of the window; it may still be out of service"})
    if why and not undone:
        undone.append({"step": "window", "why": why})
    # An install that "succeeded" below its target is still short of it.
    if status in ("patched", "maintained", "returned_to_service") and build_after and target_build:
        try:
            short = ExchangeBuild.parse(build_after) < ExchangeBuild.parse(target_build)
        except ValueError:
            short = False
        if short:
            undone.append({"step": "target", "why": "the server runs %s after the window; its target is %s"
                           % (build_name(build_after, catalog), build_name(target_build, catalog))})
    for message in _target_undone(result, build_before, build_after, catalog, today):
        undone.append({"step": "target", "why": message})
    return undone


def _maintenance(result):
    """(in_maintenance, maintenance) from what the role recorded."""
    state = result.get("maintenance")
    if state not in MAINTENANCE_STATES:
        state = "in_maintenance" if result.get("in_maintenance") in (True, "True", "true") else None
    return state in ("in_maintenance", "possibly_out_of_service"), state


def _server(name, result, catalog, today):
    if not isinstance(result, dict):
        return {"name": name, "status": "no_result",
                "message": "no result: the server was unreachable before its window began, or the run stopped",
                "build_before": None, "build_after": None, "target_build": None, "steps_done": [], "seconds": None,
                "started": None, "finished": None, "in_maintenance": None, "maintenance": None, "last_action": None,
                "left_undone": [{"step": "window", "why": "no result from this server"}], "verified": None,
                "before_name": None, "after_name": None, "target_name": None, "change": None,
                "organization": None, "dag": None}
    status = result.get("status") if isinstance(result.get("status"), str) and result["status"] in STATUSES \
        else "failed"
    done = _dicts(result.get("steps_done"))
    in_maintenance, maintenance = _maintenance(result)
    started, finished = _time(result.get("started")), _time(result.get("finished"))
    seconds = round((finished - started).total_seconds(), 1) if started and finished else None
    before, after, target = (text(result.get(key)) or None for key in ("build_before", "build_after", "target_build"))
    return {
        "name": name, "status": status, "message": text(result.get("message")) or "",
        "build_before": before, "build_after": after, "target_build": target,
        "steps_done": [_step_label(s) for s in done], "seconds": seconds,
        "started": text(result.get("started")), "finished": text(result.get("finished")),
        "in_maintenance": in_maintenance, "maintenance": maintenance,
        "last_action": text(result.get("last_action")) or None,
        "left_undone": _left_undone(result, status, done, maintenance, before, after, target, catalog, today),
        "verified": result.get("verified") if isinstance(result.get("verified"), dict) else None,
        "before_name": build_name(before, catalog), "after_name": build_name(after, catalog),
        "target_name": build_name(target, catalog), "change": change_text(before, after, catalog),
        "organization": None, "dag": None,
    }


def _names(names, most=8):
    shown = ", ".join(names[:most])
    return shown + (" and %d more" % (len(names) - most) if len(names) > most else "")


def next_actions(servers):
    """What an admin should do after the window, most urgent first."""
    lines = []
    stuck = [s["name"] for s in servers if s["maintenance"] == "in_maintenance"]
    maybe = [s["name"] for s in servers if s["maintenance"] == "possibly_out_of_service"]
    failed = [s["name"] for s in servers if s["status"] in ("failed", "failed_in_maintenance")
              and s["maintenance"] != "in_maintenance"]
    if stuck:
        lines.append("Out of service now: look at %s (its Setup or MSI log and services), fix it, then run the "
                     "patch playbook again for it to finish and put it back in service." % _names(stuck))
    if maybe:
        lines.append("Reach %s (console or WinRM) and see whether it is in maintenance; run the patch playbook "
                     "again for it once it answers." % _names(maybe))
    if failed:
        lines.append("Read why the window stopped on %s (Left undone, below), fix it, and run it in the next "
                     "window." % _names(failed))
    no_result = [s["name"] for s in servers if s["status"] == "no_result"]
    if no_result:
        lines.append("No result from %s: check it can be reached, then patch it in the next window."
                     % _names(no_result))
    waiting = [s["name"] for s in servers if s["status"] == "not_started_window_closed"]
    if waiting:
        lines.append("The window closed before %s: give them the next window." % _names(waiting))
    short = [s["name"] for s in servers if any(u["step"] == "target" for u in s["left_undone"])
             and s["status"] not in PROBLEM_STATUSES]
    if short:
        lines.append("Still short of their target after the window (see Left undone): %s." % _names(short))
    return lines


def build_report(results, *, generated_on, title="Exchange patch window", window_end=None, catalog=None,
                 placement=None):
    if not isinstance(results, dict):
        raise PatchReportError("results must map host names to exchange_patch_result, got %s"
                               % type(results).__name__)
    if not results:
        raise PatchReportError("no server in this window: the host pattern and --limit matched none")
    day = report_day(generated_on)
    catalog = catalog if catalog is not None else default_catalog()
    servers = []
    for name in sorted(results, key=str):
        server = _server(str(name), results[name], catalog, day)
        where = (placement or {}).get(str(name))
        if where:
            server["organization"], server["dag"] = (text(v) or None for v in where)
        servers.append(server)
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
            "maintained": [s["name"] for s in servers if s["status"] == "maintained"],
            "problems": problems,
            "in_maintenance": [s["name"] for s in servers if s["in_maintenance"]],
            "possibly_out_of_service": [s["name"] for s in servers if s["maintenance"] == "possibly_out_of_service"],
            "not_started": [s["name"] for s in servers if s["status"] == "not_started_window_closed"],
        },
        "window_started": min(starts).isoformat() if starts else None,
        "window_finished": max(ends).isoformat() if ends else None,
        "makespan_seconds": round((max(ends) - min(starts)).total_seconds(), 1) if starts and ends else None,
        "next_actions": next_actions(servers),
    }
    return {"report_version": REPORT_VERSION, "title": str(title), "generated_on": day,
            "window_end": text(window_end), "summary": summary, "servers": servers}


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
        writer.writerow([csv_cell(row.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def render_markdown(report):
    summary = report["summary"]
    lines = ["# %s" % md(report["title"]), "", "Generated on %s." % md(report["generated_on"]), ""]
    if summary["hosts"]["in_maintenance"]:
        lines += ["**Out of service after the window (in maintenance, or possibly: could not be reached):**", ""]
        lines += ["- **%s**" % md(line) for line in out_of_service_lines(report)] + [""]
    lines += ["## What to do next", ""]
    lines += ["- %s" % md(line) for line in summary["next_actions"]] or ["- Nothing: every server is done."]
    lines += ["", "| Outcome | Servers |", "|---|---|"]
    lines += ["| %s | %d |" % (status, count) for status, count in summary["by_status"].items() if count]
    lines += ["", "Window: %s to %s (%s s)." % (md(summary["window_started"]), md(summary["window_finished"]),
                                                md(summary["makespan_seconds"])), ""]
    lines += markdown_groups(report["servers"], lambda s: (s["organization"], s["dag"]), _markdown_table)
    return "\n".join(lines).rstrip("\n") + "\n"


def _markdown_table(servers, _grouped):
    lines = ["| Server | Outcome | Service | Before | After | Steps done | Time (s) | Left undone |",
             "|---|---|---|---|---|---|---|---|"]
    for server in servers:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            md(server["name"]), md(server["status"]), md(_maintenance_cell(server)),
            md(server["before_name"] or server["build_before"]), md(server["after_name"] or server["build_after"]),
            md(" → ".join(server["steps_done"])), md(server["seconds"]), md(_undone_text(server))))
    return lines


def render_html(report):
    """One self-contained page from patch.html.j2 (see _report.page)."""
    summary = report["summary"]
    servers = report["servers"]
    by_status = summary["by_status"]
    cards = [
        {"n": summary["total"], "label": "servers", "tone": "info"},
        {"n": by_status["patched"], "label": "patched", "tone": "ok"},
        {"n": by_status["up_to_date"] + by_status["returned_to_service"], "label": "already up to date",
         "tone": "ok"},
    ]
    # Only in a window run with exchange_patch_hooks_on_every_server.
    if by_status["maintained"]:
        cards.append({"n": by_status["maintained"], "label": "up to date, your tasks ran out of service",
                      "tone": "ok"})
    cards += [
        {"n": summary["problems"], "label": "problems", "tone": "bad"},
        {"n": len(summary["hosts"]["in_maintenance"]), "label": "out of service after the window", "tone": "bad"},
        {"n": len(summary["hosts"]["not_started"]), "label": "not started (window closed)", "tone": "warn"},
    ]
    window = "Window: %s to %s" % (summary["window_started"] or "—", summary["window_finished"] or "—")
    if summary["makespan_seconds"] is not None:
        window += " (%s s)" % summary["makespan_seconds"]
    if report.get("window_end"):
        window += "; window end %s" % report["window_end"]
    return render("patch.html.j2", report, kind="patch", cards=cards, tones=TONES,
                  next_actions=summary["next_actions"], alerts=out_of_service_lines(report),
                  alerts_title="Out of service after the window (in maintenance, or possibly: could not be reached)",
                  meta="Generated on %s · %d servers · %s" % (report["generated_on"], summary["total"], window),
                  groups=group_servers(servers, lambda s: (s["organization"], s["dag"])),
                  service=_maintenance_cell, by_status=by_status, label=label)


RENDERERS = {"html": render_html, "json": render_json, "csv": render_csv, "markdown": render_markdown}


def write_report(report, dest_dir, formats, basename="exchange-patch"):
    """Write each format to ``dest_dir/basename.<ext>``; returns ``{format: path}``."""
    return _write(report, dest_dir, formats, basename=basename, renderers=RENDERERS)


KIND = ReportKind("patch", "exchange-patch", "Exchange patch window", build_report, RENDERERS,
                  options={"window_end": {"type": "str"}},
                  extra=lambda report: {"out_of_service": out_of_service_lines(report)})
