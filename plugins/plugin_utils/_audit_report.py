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
import html
import io
import json
import os
import re
import secrets
from collections.abc import Mapping

from ._bounds import controller_path_problem

REPORT_VERSION = 1

STATES = ("audited", "unreachable", "failed", "not_run")
EEMS_STATUSES = ("working", "not_working", "disabled", "not_applicable", "unknown")
SEVERITIES = ("critical", "warning", "info")
FORMATS = {"html": ".html", "json": ".json", "csv": ".csv", "markdown": ".md"}

SERVER_KEYS = (
    "name", "status", "error", "build", "product", "cu", "update", "description", "lifecycle", "end_of_support",
    "eems_status", "eems_cause", "eems_remedy", "eems_evidence", "next_steps", "steps", "target", "target_build",
    "reachable", "needs_update", "finding_counts", "findings",
)

CSV_COLUMNS = (
    "name", "status", "product", "build", "cu", "update", "lifecycle", "end_of_support", "eems_status", "eems_cause",
    "eems_remedy", "eems_evidence", "next_steps", "target", "target_build", "reachable", "needs_update",
    "critical_findings", "warning_findings", "info_findings", "findings", "error",
)

# A plain file name: no separators, no leading dot, so it cannot leave dest_dir.
_BASENAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# Short labels for plan steps in "next steps"; reboots after an install are
# implied, so only a leading (pending) reboot is shown.
_STEP_LABELS = {
    "resume_setup": "finish Setup",
    "free_disk": "free disk space",
    "reboot": "reboot",
}


class AuditReportError(ValueError):
    """Input the report cannot use, or a destination it cannot write to."""


def _text(value):
    """Plain ``str`` or None.  str() also turns str subclasses (Ansible's
    tagged strings) into exact str, so json/csv never see foreign types."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
            "id": _text(item.get("id")),
            "severity": _text(item.get("severity")) or "info",
            "message": _text(item.get("message")),
            "remedy": _text(item.get("remedy")),
        })
    # Stable sort: within one severity the planner's own order (its reasoning order) stays.
    findings.sort(key=lambda finding: _severity_rank(finding["severity"]))
    return findings


def _steps(raw):
    steps = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, Mapping):
            steps.append({key: _text(item.get(key)) for key in ("action", "update", "from_build", "to_build", "kb",
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


def _server(name, result):
    if result is not None and not isinstance(result, Mapping):
        return _empty_server(name, "failed", "results[%r] is a %s, not the registered result of "
                             "onprem.exchange.build_facts (a dict) or null" % (name, type(result).__name__))
    if result is None or result.get("skipped"):
        return _empty_server(name, "not_run")
    if result.get("unreachable"):
        return _empty_server(name, "unreachable", _text(result.get("msg")) or "host unreachable")
    if result.get("failed"):
        return _empty_server(name, "failed", _text(result.get("msg")) or "task failed")
    ansible_facts = result.get("ansible_facts")
    facts = ansible_facts.get("exchange") if isinstance(ansible_facts, Mapping) else None
    if not isinstance(facts, Mapping):
        return _empty_server(name, "failed", "the result holds no ansible_facts.exchange")

    info = facts.get("build_info") if isinstance(facts.get("build_info"), Mapping) else {}
    eems = facts.get("eems_status") if isinstance(facts.get("eems_status"), Mapping) else {}
    plan = result.get("plan") if isinstance(result.get("plan"), Mapping) else {}
    target = plan.get("target") if isinstance(plan.get("target"), Mapping) else {}
    steps = _steps(plan.get("steps"))
    findings = _findings(result.get("findings"))
    eems_status = _text(eems.get("status"))
    reachable = _flag(plan.get("reachable"))

    server = _empty_server(name, "audited")
    server.update(
        build=_text(info.get("build") or facts.get("build")),
        product=_text(info.get("product")),
        cu=_text(info.get("cu")),
        update=_text(info.get("update")),
        description=_text(info.get("description")),
        lifecycle=_text(info.get("lifecycle")),
        end_of_support=_text(info.get("end_of_support")),
        eems_status=eems_status if eems_status in EEMS_STATUSES else "unknown",
        eems_cause=_text(eems.get("cause")),
        eems_remedy=_text(eems.get("remedy")),
        eems_evidence=_text(eems.get("evidence")),
        next_steps=next_steps_text(steps, reachable),
        steps=steps,
        target=_text(target.get("description") or target.get("name")),
        target_build=_text(target.get("build")),
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


def build_report(results, *, generated_on, title):
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
    servers = []
    for host in results:
        result = results[host]
        # Whatever a host left behind, it is a row: one broken entry must
        # not cost every other server its report.
        servers.append(_server(str(host), result))
    servers.sort(key=lambda server: (server["name"].casefold(), server["name"]))
    return {
        "report_version": REPORT_VERSION,
        "title": str(title),
        "generated_on": day.isoformat(),
        "summary": _summary(servers),
        "servers": servers,
    }


# --- JSON -------------------------------------------------------------------

def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- CSV --------------------------------------------------------------------

def _csv_cell(value):
    """Text for one cell.  A leading = + - @ (or tab/CR) makes spreadsheets
    evaluate the cell as a formula, so such host text gets a quote prefix
    (OWASP's advice against CSV injection)."""
    text = "" if value is None else _text(value)
    if text and text[0] in "=+-@\t\r":
        text = "'" + text
    return text


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
        writer.writerow([_csv_cell(row.get(column)) for column in CSV_COLUMNS])
    return buffer.getvalue()


# --- Markdown ---------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*\[\]|])")


def _md(value, empty="—"):
    """Host text made inert in Markdown: no raw HTML, links, code or table breaks."""
    if value is None or value == "":
        return empty
    text = " ".join(_text(value).split())
    text = html.escape(text, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _label(value):
    return (value or "unknown").replace("_", " ")


def render_markdown(report):
    summary = report["summary"]
    lines = ["# %s" % _md(report["title"]), "", "Generated on %s." % report["generated_on"], "", "## Summary", ""]
    lines += ["| State | Servers |", "| --- | ---: |"]
    lines += ["| %s | %d |" % (_label(state), count) for state, count in summary["by_state"].items()]
    lines += ["", "| EEMS status (audited servers) | Servers |", "| --- | ---: |"]
    lines += ["| %s | %d |" % (_label(status), count) for status, count in summary["by_eems_status"].items()]
    lines += ["", "- Servers: %d" % summary["total"],
              "- Needing updates: %d" % summary["needing_update"],
              "- Critical findings: %d" % summary["critical_findings"],
              "- By product: %s" % (", ".join("%s %d" % (_md(k), v) for k, v in summary["by_product"].items())
                                    or "—"),
              "- By lifecycle: %s" % (", ".join("%s %d" % (_md(_label(k)), v)
                                                for k, v in summary["by_lifecycle"].items()) or "—"),
              "", "## Servers", "",
              "| Server | State | Product | CU | Update | Lifecycle | EEMS | Next steps | Critical | Warning |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | ---: | ---: |"]
    for server in report["servers"]:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %d |" % (
            _md(server["name"]), _label(server["status"]), _md(server["product"]), _md(server["cu"]),
            _md(server["update"]), _md(server["lifecycle"] and _label(server["lifecycle"])),
            _md(server["eems_status"] and _label(server["eems_status"])), _md(server["next_steps"]),
            server["finding_counts"]["critical"], server["finding_counts"]["warning"]))
    for server in report["servers"]:
        lines += ["", "### %s" % _md(server["name"]), ""]
        if server["status"] != "audited":
            lines.append("%s: %s" % (_label(server["status"]).capitalize(),
                                     _md(server["error"], "build_facts did not run for this host.")))
            continue
        lines += [
            "- Build: %s (%s)" % (_md(server["build"]), _md(server["description"])),
            "- Lifecycle: %s, end of support %s" % (_md(_label(server["lifecycle"])), _md(server["end_of_support"])),
            "- EEMS: %s%s" % (_label(server["eems_status"]),
                              " (%s)" % _md(_label(server["eems_cause"]))
                              if server["eems_cause"] and server["eems_cause"] != server["eems_status"] else ""),
        ]
        if server["eems_remedy"]:
            lines.append("- EEMS remedy: %s" % _md(server["eems_remedy"]))
        lines += ["- Target: %s" % _md(server["target"]), "- Next steps: %s" % _md(server["next_steps"])]
        if server["findings"]:
            lines += ["", "| Severity | Finding | Remedy |", "| --- | --- | --- |"]
            lines += ["| %s | %s: %s | %s |" % (_md(f["severity"]), _md(f["id"]), _md(f["message"]), _md(f["remedy"]))
                      for f in server["findings"]]
    return "\n".join(lines) + "\n"


# --- HTML -------------------------------------------------------------------

_CSS = """
:root{--ok:#1e7b34;--bad:#b3261e;--warn:#b26a00;--na:#5f6b76;--unk:#6b5fa8;--info:#1f5fa8;--line:#d6dbe0}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:24px;color:#1d232a;
background:#f6f7f9}
h1{margin:0 0 4px;font-size:24px}h2{margin:28px 0 10px;font-size:19px}h3{margin:0;font-size:17px}
h4{margin:14px 0 6px;font-size:14px}
.meta{color:#5f6b76;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid var(--line);border-left:6px solid var(--na);border-radius:6px;
padding:10px 14px;min-width:130px}
.card .n{font-size:26px;font-weight:700;display:block}.card .l{color:#3b444d}
.card.zero{opacity:.45}
.c-ok{border-left-color:var(--ok)}.c-bad{border-left-color:var(--bad)}.c-warn{border-left-color:var(--warn)}
.c-na{border-left-color:var(--na)}.c-unk{border-left-color:var(--unk)}.c-info{border-left-color:var(--info)}
table{border-collapse:collapse;background:#fff;width:100%;margin:4px 0 8px}
th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.num{text-align:right}
table.kv th{width:170px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;
white-space:nowrap;background:var(--na)}
.b-ok{background:var(--ok)}.b-bad{background:var(--bad)}.b-warn{background:var(--warn)}.b-na{background:var(--na)}
.b-unk{background:var(--unk)}.b-info{background:var(--info)}
.server{background:#fff;border:1px solid var(--line);border-radius:6px;padding:14px 16px;margin:14px 0}
.server.s-bad{border-left:6px solid var(--bad)}.server.s-warn{border-left:6px solid var(--warn)}
.server.s-ok{border-left:6px solid var(--ok)}.server.s-na{border-left:6px solid var(--na)}
.server.s-unk{border-left:6px solid var(--unk)}
.small{color:#5f6b76;font-size:12px}.error{color:var(--bad);white-space:pre-wrap}
.counts{display:flex;gap:24px;flex-wrap:wrap}.counts table{width:auto;min-width:220px}
ol{margin:4px 0 8px 20px;padding:0}
@media print{body{background:#fff;padding:0}.server{break-inside:avoid}}
"""

# Colour classes come from these fixed tables, never from host text.
_STATE_TONE = {"audited": "ok", "unreachable": "unk", "failed": "bad", "not_run": "na"}
_EEMS_TONE = {"working": "ok", "not_working": "bad", "disabled": "warn", "not_applicable": "na", "unknown": "unk"}
_SEVERITY_TONE = {"critical": "bad", "warning": "warn", "info": "info"}
_LIFECYCLE_TONE = {"supported": "ok", "esu": "warn", "end_of_life": "bad"}


def _h(value, empty="—"):
    if value is None or value == "":
        return empty
    return html.escape(_text(value), quote=True)


def _badge(text, tone):
    return '<span class="badge b-%s">%s</span>' % (tone or "na", _h(text))


def _card(count, label, tone):
    return ('<div class="card c-%s%s"><span class="n">%d</span><span class="l">%s</span></div>'
            % (tone, " zero" if not count else "", count, _h(label)))


def _server_tone(server):
    if server["status"] != "audited":
        return _STATE_TONE.get(server["status"], "na")
    if server["finding_counts"]["critical"] or server["eems_status"] == "not_working":
        return "bad"
    if server["finding_counts"]["warning"] or server["needs_update"] or server["eems_status"] == "disabled":
        return "warn"
    return "ok"


def _count_table(heading, counts, tones=None):
    rows = "".join('<tr><td>%s</td><td class="num">%d</td></tr>'
                   % (_badge(_label(key), (tones or {}).get(key, "na")) if tones else _h(key), value)
                   for key, value in counts.items())
    return ('<table><thead><tr><th>%s</th><th>Servers</th></tr></thead><tbody>%s</tbody></table>'
            % (_h(heading), rows or '<tr><td colspan="2">—</td></tr>'))


def _html_summary(summary):
    by_state, by_eems = summary["by_state"], summary["by_eems_status"]
    cards = [
        _card(summary["total"], "servers", "info"),
        _card(by_state["audited"], "audited", "ok"),
        _card(by_eems["working"], "EEMS working", "ok"),
        _card(by_eems["not_working"], "EEMS not working", "bad"),
        _card(by_eems["disabled"], "EEMS disabled", "warn"),
        _card(by_eems["not_applicable"], "EEMS not applicable (2013)", "na"),
        _card(by_eems["unknown"], "EEMS unknown", "unk"),
        _card(summary["needing_update"], "need updates", "warn"),
        _card(summary["critical_findings"], "critical findings", "bad"),
        _card(by_state["unreachable"], "unreachable", "unk"),
        _card(by_state["failed"], "failed", "bad"),
        _card(by_state["not_run"], "not run", "na"),
    ]
    return ('<section><h2>Summary</h2><div class="cards">%s</div><div class="counts">%s%s</div></section>'
            % ("".join(cards), _count_table("Product", summary["by_product"]),
               _count_table("Lifecycle", summary["by_lifecycle"], _LIFECYCLE_TONE)))


def _html_overview(servers):
    rows = []
    for index, server in enumerate(servers, 1):
        audited = server["status"] == "audited"
        eems = _badge(_label(server["eems_status"]), _EEMS_TONE.get(server["eems_status"])) if audited else "—"
        lifecycle = (_badge(_label(server["lifecycle"]), _LIFECYCLE_TONE.get(server["lifecycle"], "na"))
                     if server["lifecycle"] else "—")
        rows.append(
            '<tr><td><a href="#server-%d">%s</a></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>'
            '<td>%s</td><td>%s</td><td class="num">%d</td><td class="num">%d</td></tr>' % (
                index, _h(server["name"]), _badge(_label(server["status"]), _STATE_TONE.get(server["status"])),
                _h(server["product"]), _h(server["cu"]), _h(server["update"]), lifecycle, eems,
                _h(server["next_steps"]), server["finding_counts"]["critical"], server["finding_counts"]["warning"]))
    return ('<section><h2>Servers</h2><table><thead><tr><th>Server</th><th>State</th><th>Product</th><th>CU</th>'
            '<th>Update</th><th>Lifecycle</th><th>EEMS</th><th>Next steps</th><th>Critical</th><th>Warning</th>'
            '</tr></thead><tbody>%s</tbody></table></section>' % "".join(rows))


def _kv(rows):
    return '<table class="kv"><tbody>%s</tbody></table>' % "".join(
        "<tr><th>%s</th><td>%s</td></tr>" % (_h(key), value) for key, value in rows)


def _html_server(index, server):
    tone = _server_tone(server)
    head = '<section class="server s-%s" id="server-%d"><h3>%s %s' % (
        tone, index, _h(server["name"]), _badge(_label(server["status"]), _STATE_TONE.get(server["status"])))
    if server["status"] != "audited":
        message = server["error"] or "build_facts did not run for this host"
        return head + '</h3><p class="error">%s</p></section>' % _h(message)
    head += " %s</h3>" % _badge("EEMS " + _label(server["eems_status"]), _EEMS_TONE.get(server["eems_status"]))
    eems = _badge(_label(server["eems_status"]), _EEMS_TONE.get(server["eems_status"]))
    if server["eems_cause"] and server["eems_cause"] != server["eems_status"]:
        eems += " %s" % _h(_label(server["eems_cause"]))
    if server["eems_evidence"]:
        eems += '<div class="small">%s</div>' % _h(server["eems_evidence"])
    reachable = {True: "yes", False: "no"}.get(server["reachable"], "unknown")
    rows = [
        ("Build", "%s <span class=\"small\">%s</span>" % (_h(server["build"]), _h(server["description"], ""))),
        ("Product / CU / update", "%s / %s / %s" % (_h(server["product"]), _h(server["cu"]), _h(server["update"]))),
        ("Lifecycle", "%s <span class=\"small\">end of support %s</span>" % (
            _badge(_label(server["lifecycle"]), _LIFECYCLE_TONE.get(server["lifecycle"], "na")),
            _h(server["end_of_support"]))),
        ("EEMS", eems),
    ]
    if server["eems_remedy"]:
        rows.append(("EEMS remedy", _h(server["eems_remedy"])))
    rows += [("Target", "%s (reachable: %s)" % (_h(server["target"]), reachable)),
             ("Next steps", _h(server["next_steps"]))]
    body = _kv(rows)
    if server["steps"]:
        body += "<h4>Plan</h4><ol>%s</ol>" % "".join(
            "<li><strong>%s</strong> %s%s<div class=\"small\">%s</div></li>" % (
                _h(step["action"]), _h(step["update"], ""),
                " → %s" % _h(step["to_build"]) if step["to_build"] else "", _h(step["reason"], ""))
            for step in server["steps"])
    if server["findings"]:
        body += ("<h4>Findings</h4><table><thead><tr><th>Severity</th><th>Finding</th><th>Remedy</th></tr></thead>"
                 "<tbody>%s</tbody></table>" % "".join(
                     '<tr><td>%s</td><td>%s<div class="small">%s</div></td><td>%s</td></tr>' % (
                         _badge(finding["severity"], _SEVERITY_TONE.get(finding["severity"], "na")),
                         _h(finding["message"]), _h(finding["id"], ""), _h(finding["remedy"]))
                     for finding in server["findings"]))
    else:
        body += "<p>No findings.</p>"
    return head + body + "</section>"


def render_html(report):
    """One self-contained page: inline CSS, no script, no external asset.
    The Content-Security-Policy forbids scripts and remote loads, so even a
    missed escape could not run host-supplied code."""
    servers = report["servers"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>%s</title><style>%s</style></head><body>" % (_h(report["title"]), _CSS),
        "<h1>%s</h1>" % _h(report["title"]),
        '<p class="meta">Generated on %s &middot; %d servers</p>' % (_h(report["generated_on"]),
                                                                     report["summary"]["total"]),
        _html_summary(report["summary"]),
        _html_overview(servers),
        "<section><h2>Details</h2>%s</section>" % "".join(
            _html_server(index, server) for index, server in enumerate(servers, 1)),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


RENDERERS = {"html": render_html, "json": render_json, "csv": render_csv, "markdown": render_markdown}


# --- Writing ----------------------------------------------------------------

def _prepare_dir(dest_dir):
    problem = controller_path_problem(str(dest_dir), "dest (the report folder)")
    if problem:
        raise AuditReportError(problem)
    dest_dir = os.path.abspath(os.path.expanduser(str(dest_dir)))
    if os.path.exists(dest_dir) and not os.path.isdir(dest_dir):
        raise AuditReportError("dest %s exists and is not a directory" % dest_dir)
    try:
        os.makedirs(dest_dir, exist_ok=True)
    except (OSError, ValueError) as error:
        raise AuditReportError("dest %s cannot be created: %s" % (dest_dir, getattr(error, "strerror", None) or error)) from None
    return dest_dir


def _write_atomically(path, data):
    """Write via a temporary file in the same directory and rename, so a
    reader never sees half a report.  An unchanged file is left alone (its
    mtime too), which keeps repeated audits of an unchanged estate quiet."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return
    except OSError:
        pass
    temporary = os.path.join(os.path.dirname(path), ".%s.%s.tmp" % (os.path.basename(path), secrets.token_hex(6)))
    # os.open with 0o666 lets the umask decide the mode, as for any new file.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_report(report, dest_dir, formats, basename="exchange-audit", renderers=None):
    """Write the report in each format to ``dest_dir/basename.<ext>``.

    ``renderers`` ({format: function(report) -> str}) lets another report
    (the before/after one) reuse this writer; default: the audit's own.
    Returns ``{format: absolute path}``.  File names are fixed; nothing in
    them comes from host data.  Raises AuditReportError for an unknown
    format, a bad basename or a destination that is not a usable directory.
    """
    if not _BASENAME_PATTERN.match(basename or ""):
        raise AuditReportError("basename %r must be a plain file name (letters, digits, '.', '_', '-')"
                               % (basename,))
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise AuditReportError("unknown report format(s) %s; choose from %s"
                               % (", ".join(map(str, unknown)), ", ".join(FORMATS)))
    dest_dir = _prepare_dir(dest_dir)
    written = {}
    for fmt in FORMATS:  # fixed order, whatever order formats came in
        if fmt not in formats:
            continue
        path = os.path.join(dest_dir, basename + FORMATS[fmt])
        try:
            _write_atomically(path, (renderers or RENDERERS)[fmt](report).encode("utf-8"))
        except OSError as error:
            raise AuditReportError("cannot write %s: %s" % (path, error.strerror or error)) from None
        written[fmt] = path
    return written
