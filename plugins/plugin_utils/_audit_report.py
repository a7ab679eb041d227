# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet audit report: from each host's build_facts result to HTML, JSON, CSV and Markdown.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports, no clock: ``generated_on`` is an argument.
The report only renders what build_facts judged; it decides nothing itself.

Input
-----
``results`` maps each inventory host name to the registered result of
``onprem.exchange.build_facts`` or to None (the task never ran for it):

- success: ``{changed, ansible_facts: {exchange: {...}}, findings, plan}``
- unreachable: ``{unreachable: true, msg}``
- failure: ``{failed: true, msg}``
- skipped: ``{skipped: true, ...}`` counts as not run.

Output of ``build_report`` (a JSON-safe dict)
---------------------------------------------
``report_version``  1; bumped when a key changes meaning.
``title``           the title passed in.
``generated_on``    the ISO date passed in.
``summary``         ``total``, ``by_state`` (audited, unreachable, failed,
                    not_run), ``unreachable``, ``failed`` and ``not_run``
                    (the same counts, flat), ``by_eems_status`` (working, not_working,
                    disabled, not_applicable, unknown; audited servers only),
                    ``by_lifecycle``, ``by_product`` (audited servers only),
                    ``needing_update`` (count of audited servers whose plan has
                    steps), ``critical_findings``, ``findings_by_severity``
                    (critical, warning, info) and ``hosts`` (name lists:
                    needing_update, eems_not_working, unreachable, failed,
                    not_run).
``servers``         one dict per host sorted by name, with the keys in
                    ``SERVER_KEYS``; fields a state cannot know are None.

Host data is untrusted: every renderer escapes it for its format, and file
names never come from it.
"""
from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Mapping

from ._report.escape import csv_cell, label, md, text
from ._report.kind import ReportKind
from ._report.page import build_name, default_catalog, group_servers, markdown_groups, render
from ._report.writer import FORMATS, ReportError
from ._report.writer import write_report as _write

__all__ = ("CSV_COLUMNS", "EEMS_STATUSES", "FORMATS", "KIND", "SERVER_KEYS", "AuditReportError", "build_report",
           "next_steps_text", "render_csv", "render_html", "render_json", "render_markdown", "write_report")

REPORT_VERSION = 1

STATES = ("audited", "unreachable", "failed", "not_run")
EEMS_STATUSES = ("working", "not_working", "disabled", "not_applicable", "unknown")
SEVERITIES = ("critical", "warning", "info")

SERVER_KEYS = (
    "name", "status", "error", "build", "product", "cu", "update", "description", "lifecycle", "end_of_support",
    "eems_status", "eems_cause", "eems_remedy", "eems_evidence", "next_steps", "steps", "target", "target_build",
    "reachable", "needs_update", "finding_counts", "findings", "display_name", "target_display_name",
    "organization", "dag",
)

CSV_COLUMNS = (
    "name", "status", "product", "build", "cu", "update", "lifecycle", "end_of_support", "eems_status", "eems_cause",
    "eems_remedy", "eems_evidence", "next_steps", "target", "target_build", "reachable", "needs_update",
    "critical_findings", "warning_findings", "info_findings", "findings", "error", "display_name", "organization",
    "dag",
)

# Short labels for plan steps in "next steps"; reboots after an install are
# implied, so only a leading (pending) reboot is shown.
_STEP_LABELS = {
    "resume_setup": "finish Setup",
    "free_disk": "free disk space",
    "reboot": "reboot",
}


# Kept as the audit's name for the one report error.
AuditReportError = ReportError


def _flag(value):
    return value if isinstance(value, bool) else None


def _severity_rank(severity):
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _findings(raw):
    findings = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping):
            item = {"message": item}
        findings.append({
            "id": text(item.get("id")),
            "severity": text(item.get("severity")) or "info",
            "message": text(item.get("message")),
            "remedy": text(item.get("remedy")),
        })
    # Stable sort: within one severity the planner's own order (its reasoning order) stays.
    findings.sort(key=lambda finding: _severity_rank(finding["severity"]))
    return findings


def _steps(raw):
    steps = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, Mapping):
            steps.append({key: text(item.get(key)) for key in ("action", "update", "from_build", "to_build", "kb",
                                                               "reason")})
    return steps


def _step_label(step, first):
    action = step["action"]
    if action == "reboot":
        return "reboot" if first else None
    if action == "upgrade_to_se":
        return "SE %s" % (step["update"] or "")
    if action in ("install_cu", "install_su", "install_dotnet") and step["update"]:
        return step["update"]
    return _STEP_LABELS.get(action, action)


def next_steps_text(steps, reachable):
    """Short text for a plan, e.g. ``CU23 → Oct25SU``."""
    labels = [label for index, step in enumerate(steps) if (label := _step_label(step, index == 0))]
    if labels:
        return " → ".join(labels)
    return "none (target out of reach)" if reachable is False else "none"


def _empty_server(name, status, error=None):
    server = dict.fromkeys(SERVER_KEYS)
    server.update(name=name, status=status, error=error, steps=[], findings=[],
                  finding_counts=dict.fromkeys(SEVERITIES, 0))
    return server


def _server(name, result, catalog=None):
    if result is not None and not isinstance(result, Mapping):
        return _empty_server(name, "failed", "results[%r] is a %s, not the registered result of "
                             "onprem.exchange.build_facts (a dict) or null" % (name, type(result).__name__))
    if result is None or result.get("skipped"):
        return _empty_server(name, "not_run")
    if result.get("unreachable"):
        return _empty_server(name, "unreachable", text(result.get("msg")) or "host unreachable")
    if result.get("failed"):
        return _empty_server(name, "failed", text(result.get("msg")) or "task failed")
    ansible_facts = result.get("ansible_facts")
    facts = ansible_facts.get("exchange") if isinstance(ansible_facts, Mapping) else None
    if not isinstance(facts, Mapping):
        return _empty_server(name, "failed", "the result holds no ansible_facts.exchange")

    info = facts.get("build_info") if isinstance(facts.get("build_info"), Mapping) else {}
    eems = facts.get("eems_status") if isinstance(facts.get("eems_status"), Mapping) else {}
    plan = result.get("plan") if isinstance(result.get("plan"), Mapping) else {}
    target = plan.get("target") if isinstance(plan.get("target"), Mapping) else {}
    steps = _steps(plan.get("steps"))
    for step in steps:
        # The build a step reaches, as admins name it (the number stays in to_build).
        step["to_name"] = build_name(step["to_build"], catalog)
    findings = _findings(result.get("findings"))
    eems_status = text(eems.get("status"))
    reachable = _flag(plan.get("reachable"))
    exchange = facts.get("exchange") if isinstance(facts.get("exchange"), Mapping) else {}
    build = text(info.get("build") or facts.get("build"))
    target_build = text(target.get("build"))

    server = _empty_server(name, "audited")
    server.update(
        build=build,
        # The name admins say: the catalog's (build_facts gives it), else ours.
        display_name=text(info.get("display_name")) or build_name(build, catalog),
        target_display_name=text(target.get("display_name")) or build_name(target_build, catalog),
        organization=text(exchange.get("organization_name")) or None,
        dag=text(exchange.get("dag")) or None,
        product=text(info.get("product")),
        cu=text(info.get("cu")),
        update=text(info.get("update")),
        description=text(info.get("description")),
        lifecycle=text(info.get("lifecycle")),
        end_of_support=text(info.get("end_of_support")),
        eems_status=eems_status if eems_status in EEMS_STATUSES else "unknown",
        eems_cause=text(eems.get("cause")),
        eems_remedy=text(eems.get("remedy")),
        eems_evidence=text(eems.get("evidence")),
        next_steps=next_steps_text(steps, reachable),
        steps=steps,
        target=text(target.get("description") or target.get("name")),
        target_build=target_build,
        reachable=reachable,
        needs_update=bool(steps),
        findings=findings,
        finding_counts={severity: sum(1 for f in findings if f["severity"] == severity) for severity in SEVERITIES},
    )
    return server


def _count(values):
    counts = {}
    for value in values:
        key = value or "unknown"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _summary(servers):
    audited = [s for s in servers if s["status"] == "audited"]
    all_findings = [f for s in audited for f in s["findings"]]
    by_severity = {severity: sum(1 for f in all_findings if f["severity"] == severity) for severity in SEVERITIES}
    by_state = {state: sum(1 for s in servers if s["status"] == state) for state in STATES}
    return {
        "total": len(servers),
        "by_state": by_state,
        # Flat copies of by_state's problem counts: AWX set_stats consumers and
        # playbook asserts read them without digging.
        "unreachable": by_state["unreachable"],
        "failed": by_state["failed"],
        "not_run": by_state["not_run"],
        "by_eems_status": {status: sum(1 for s in audited if s["eems_status"] == status) for status in EEMS_STATUSES},
        "by_lifecycle": _count(s["lifecycle"] for s in audited),
        "by_product": _count(s["product"] for s in audited),
        "needing_update": sum(1 for s in audited if s["needs_update"]),
        "critical_findings": by_severity["critical"],
        "findings_by_severity": by_severity,
        "hosts": {
            "needing_update": [s["name"] for s in audited if s["needs_update"]],
            "eems_not_working": [s["name"] for s in audited if s["eems_status"] == "not_working"],
            "unreachable": [s["name"] for s in servers if s["status"] == "unreachable"],
            "failed": [s["name"] for s in servers if s["status"] == "failed"],
            "not_run": [s["name"] for s in servers if s["status"] == "not_run"],
        },
    }


def build_report(results, *, generated_on, title, catalog=None, placement=None):
    """The fleet report (see the module docstring for its keys).

    Raises AuditReportError when ``results`` is not a dict or ``generated_on``
    is not an ISO date.  An entry that is neither a dict nor None is a
    ``failed`` row naming what it was.
    """
    if not isinstance(results, Mapping):
        raise AuditReportError("results must be a dict of host name to build_facts result, got %s"
                               % type(results).__name__)
    try:
        day = datetime.date.fromisoformat(str(generated_on))
    except ValueError:
        raise AuditReportError("generated_on=%r is not an ISO date (YYYY-MM-DD)" % (generated_on,)) from None
    catalog = catalog if catalog is not None else default_catalog()
    servers = []
    for host in results:
        result = results[host]
        # Whatever a host left behind, it is a row: one broken entry must
        # not cost every other server its report.
        server = _server(str(host), result, catalog)
        # A host with no facts of its own may still be placed by what
        # Ansible knows of it (the action reads the hosts' facts).
        if server["organization"] is None and server["dag"] is None and (placement or {}).get(server["name"]):
            server["organization"], server["dag"] = (text(v) or None for v in placement[server["name"]])
        servers.append(server)
    servers.sort(key=lambda server: (server["name"].casefold(), server["name"]))
    summary = _summary(servers)
    summary["next_actions"] = next_actions(summary)
    return {
        "report_version": REPORT_VERSION,
        "title": str(title),
        "generated_on": day.isoformat(),
        "summary": summary,
        "servers": servers,
    }


def _names(names, most=8):
    shown = ", ".join(names[:most])
    return shown + (" and %d more" % (len(names) - most) if len(names) > most else "")


def next_actions(summary):
    """What an admin should do next, most urgent first, one line each."""
    hosts = summary["hosts"]
    lines = []
    if hosts["unreachable"]:
        lines.append("Make %s reachable over WinRM (listener, firewall, credentials), then audit again: %s."
                     % ("this server" if len(hosts["unreachable"]) == 1 else "these servers",
                        _names(hosts["unreachable"])))
    if hosts["failed"]:
        lines.append("Read the error of each failed server below and fix it, then audit again: %s."
                     % _names(hosts["failed"]))
    if hosts["eems_not_working"]:
        lines.append("Restore EEMS (run the remediate or eems playbook; see each server's EEMS remedy): %s."
                     % _names(hosts["eems_not_working"]))
    if hosts["needing_update"]:
        lines.append("Patch in the next window (playbooks/patch.yml; each server's next steps are below): %s."
                     % _names(hosts["needing_update"]))
    if summary["critical_findings"]:
        lines.append("Work through the %d critical finding(s): each names its remedy." % summary["critical_findings"])
    if hosts["not_run"]:
        lines.append("Audit the servers the run did not reach: %s." % _names(hosts["not_run"]))
    return lines


# --- JSON -------------------------------------------------------------------

def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- CSV --------------------------------------------------------------------

def _finding_line(finding):
    line = "[%s] %s: %s" % (finding["severity"], finding["id"] or "finding", finding["message"] or "")
    if finding["remedy"]:
        line += " Remedy: %s" % finding["remedy"]
    return line


def render_csv(report):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for server in report["servers"]:
        row = dict(server)
        row.update({"%s_findings" % severity: server["finding_counts"][severity] for severity in SEVERITIES})
        row["findings"] = " | ".join(_finding_line(f) for f in server["findings"])
        writer.writerow([csv_cell(row.get(column)) for column in CSV_COLUMNS])
    return buffer.getvalue()


# --- Markdown ---------------------------------------------------------------

def render_markdown(report):
    summary = report["summary"]
    lines = ["# %s" % md(report["title"]), "", "Generated on %s." % report["generated_on"], "", "## Summary", ""]
    lines += ["| State | Servers |", "| --- | ---: |"]
    lines += ["| %s | %d |" % (label(state), count) for state, count in summary["by_state"].items()]
    lines += ["", "| EEMS status (audited servers) | Servers |", "| --- | ---: |"]
    lines += ["| %s | %d |" % (label(status), count) for status, count in summary["by_eems_status"].items()]
    lines += ["", "## What to do next", ""]
    lines += ["- %s" % md(line) for line in summary["next_actions"]] or ["- Nothing: every server is in order."]
    lines += ["", "- Servers: %d" % summary["total"],
              "- Needing updates: %d" % summary["needing_update"],
              "- Critical findings: %d" % summary["critical_findings"],
              "- By product: %s" % (", ".join("%s %d" % (md(k), v) for k, v in summary["by_product"].items())
                                    or "—"),
              "- By lifecycle: %s" % (", ".join("%s %d" % (md(label(k)), v)
                                                for k, v in summary["by_lifecycle"].items()) or "—"),
              "", "## Servers", ""]
    lines += markdown_groups(report["servers"], lambda s: (s["organization"], s["dag"]), _markdown_table)
    lines += ["## Details"]
    for server in report["servers"]:
        lines += ["", "### %s" % md(server["name"]), ""]
        if server["status"] != "audited":
            lines.append("%s: %s" % (label(server["status"]).capitalize(),
                                     md(server["error"], "build_facts did not run for this host.")))
            continue
        lines += [
            "- Build: %s (%s)" % (md(server["display_name"] or server["description"]), md(server["build"])),
            "- Where: %s" % md(where(server)),
            "- Lifecycle: %s, end of support %s" % (md(label(server["lifecycle"])), md(server["end_of_support"])),
            "- EEMS: %s%s" % (label(server["eems_status"]),
                              " (%s)" % md(label(server["eems_cause"]))
                              if server["eems_cause"] and server["eems_cause"] != server["eems_status"] else ""),
        ]
        if server["eems_remedy"]:
            lines.append("- EEMS remedy: %s" % md(server["eems_remedy"]))
        lines += ["- Target: %s" % md(server["target_display_name"] or server["target"]), "- Next steps: %s" % md(server["next_steps"])]
        if server["findings"]:
            lines += ["", "| Severity | Finding | Remedy |", "| --- | --- | --- |"]
            lines += ["| %s | %s: %s | %s |" % (md(f["severity"]), md(f["id"]), md(f["message"]), md(f["remedy"]))
                      for f in server["findings"]]
    return "\n".join(lines) + "\n"


def _markdown_table(servers, _grouped):
    lines = ["| Server | State | Product | CU | Update | Lifecycle | EEMS | Next steps | Critical | Warning |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | ---: | ---: |"]
    for server in servers:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %d |" % (
            md(server["name"]), label(server["status"]), md(server["product"]), md(server["cu"]),
            md(server["update"]), md(server["lifecycle"] and label(server["lifecycle"])),
            md(server["eems_status"] and label(server["eems_status"])), md(server["next_steps"]),
            server["finding_counts"]["critical"], server["finding_counts"]["warning"]))
    return lines


# --- HTML -------------------------------------------------------------------

# Colour classes and verdict words come from these fixed tables, never from host text.
_STATE_TONE = {"audited": "ok", "unreachable": "unk", "failed": "bad", "not_run": "na"}
_EEMS_TONE = {"working": "ok", "not_working": "bad", "disabled": "warn", "not_applicable": "na", "unknown": "unk"}
_SEVERITY_TONE = {"critical": "bad", "warning": "warn", "info": "info"}
_LIFECYCLE_TONE = {"supported": "ok", "esu": "warn", "end_of_life": "bad"}
VERDICTS = {"bad": "act now", "warn": "needs work", "ok": "in order", "unk": "unreachable", "na": "not run"}


def where(server):
    """Organisation and DAG of a server, in words."""
    return "%s, %s" % (server.get("organization") or "organisation not known",
                       "DAG %s" % server["dag"] if server.get("dag") else "standalone")


def server_tone(server):
    if server["status"] != "audited":
        return _STATE_TONE.get(server["status"], "na")
    if server["finding_counts"]["critical"] or server["eems_status"] == "not_working":
        return "bad"
    if server["finding_counts"]["warning"] or server["needs_update"] or server["eems_status"] == "disabled":
        return "warn"
    return "ok"


def _cards(summary, by_verdict):
    by_state, by_eems = summary["by_state"], summary["by_eems_status"]
    return [
        {"n": summary["total"], "label": "servers", "tone": "info"},
        {"n": by_verdict["bad"], "label": "act now", "tone": "bad"},
        {"n": by_verdict["warn"], "label": "need work", "tone": "warn"},
        {"n": by_verdict["ok"], "label": "in order", "tone": "ok"},
        {"n": by_eems["working"], "label": "EEMS working", "tone": "ok"},
        {"n": by_eems["not_working"], "label": "EEMS not working", "tone": "bad"},
        {"n": by_eems["disabled"], "label": "EEMS disabled", "tone": "warn"},
        {"n": by_eems["not_applicable"], "label": "EEMS not applicable (2013, Edge)", "tone": "na"},
        {"n": summary["needing_update"], "label": "need updates", "tone": "warn"},
        {"n": summary["critical_findings"], "label": "critical findings", "tone": "bad"},
        {"n": by_state["unreachable"], "label": "unreachable", "tone": "unk"},
        {"n": by_state["failed"], "label": "failed", "tone": "bad"},
        {"n": by_state["not_run"], "label": "not run", "tone": "na"},
    ]


def render_html(report):
    """One self-contained page from audit.html.j2 (see _report.page)."""
    servers = report["servers"]
    tones = {server["name"]: server_tone(server) for server in servers}
    by_verdict = dict.fromkeys(VERDICTS, 0)
    for tone in tones.values():
        by_verdict[tone] += 1
    anchors = {server["name"]: "server-%d" % index for index, server in enumerate(servers, 1)}
    return render("audit.html.j2", report, kind="audit", tones=tones, anchors=anchors, verdicts=VERDICTS,
                  by_verdict=by_verdict, cards=_cards(report["summary"], by_verdict),
                  next_actions=report["summary"].get("next_actions") or [], alerts=[], alerts_title="",
                  meta="Generated on %s · %d servers" % (report["generated_on"], report["summary"]["total"]),
                  groups=group_servers(servers, lambda s: (s["organization"], s["dag"])),
                  state_tone=_STATE_TONE, eems_tone=_EEMS_TONE, severity_tone=_SEVERITY_TONE,
                  lifecycle_tone=_LIFECYCLE_TONE, where=where)


RENDERERS = {"html": render_html, "json": render_json, "csv": render_csv, "markdown": render_markdown}


def write_report(report, dest_dir, formats, basename="exchange-audit"):
    """Write the audit in each format to ``dest_dir/basename.<ext>`` (see _report.writer)."""
    return _write(report, dest_dir, formats, basename=basename, renderers=RENDERERS)


KIND = ReportKind("audit", "exchange-audit", "Exchange fleet audit", build_report, RENDERERS)
