"""The Emergency Mitigation Service as the lab models it.

Once an hour (lab time), and whenever the service starts, each server with
MSExchangeMitigation running asks the OCS stand-in over HTTP for
definitions, and writes Application-log events in source
"MSExchange Mitigation Service": 1005 for a successful check, 1006 when a
mitigation is applied, 1008 for errors, with text that depends on the
server's build, its proxy and the OCS answer.

The 1008 texts are the published ones, read from the collection's
``_data/eems_events.yml`` where each carries its source: the lab says what
real servers were seen to say, never what the judge happens to expect.
No 1005/1006 text has been published; the lab's are its own and the judge
reads only their IDs (and the flags, for "disabled").
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import urllib.error
import urllib.request

import yaml

SOURCE = "MSExchange Mitigation Service"
CHECK_INTERVAL_SECONDS = 3600
MAX_EVENTS = 100
_EVENTS_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            "plugins", "plugin_utils", "_data", "eems_events.yml")
_SAMPLES = None


def published_text(cause):
    """The first published (or, where none is, the plausible) 1008 text for ``cause``."""
    global _SAMPLES
    if _SAMPLES is None:
        with open(_EVENTS_DATA, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        _SAMPLES = {entry["cause"]: [s["text"] for s in entry["samples"] if s.get("where") != "eems_log"]
                    for entry in data["causes"]}
    return _SAMPLES[cause][0]


def add_event(server, when, event_id, level, message):
    server["events"].append({"id": event_id, "source": SOURCE, "level": level,
                             "time": when.isoformat(), "message": message})
    del server["events"][:-MAX_EVENTS]


def _fetch(ocs_url, build, timeout=5):
    request = urllib.request.Request(ocs_url, headers={"X-Exchange-Build": build})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read().decode("utf-8") or "{}")


def run_check(lab, server, now=None):
    """One Mitigation Service check on ``server``; returns the event written (or None)."""
    now = now or lab.clock.now()
    build = server["build"]
    if build.startswith("15.0.") or "Edge" in (server.get("roles") or []):
        return None  # Exchange 2013 and Edge Transport servers have no Mitigation Service
    service = server["services"].get("MSExchangeMitigation", {})
    server["eems"]["next_check"] = (now + _dt.timedelta(seconds=CHECK_INTERVAL_SECONDS)).isoformat()
    if service.get("state") != "Running":
        return None
    org = lab.state.organization(server["organization"])
    if not org["mitigations_enabled"] or not server["eems"]["server_enabled"]:
        # The service runs but applies nothing; it says so once per check.
        add_event(server, now, 1005, "Information",
                  "Mitigation Service is disabled by configuration (organization: %s, server: %s). "
                  "No mitigations were fetched." % (org["mitigations_enabled"], server["eems"]["server_enabled"]))
        return server["events"][-1]
    proxy = server.get("proxy") or {}
    if proxy.get("tls_inspection"):
        # The proxy's certificate replaces OCS's; .NET refuses the channel.
        add_event(server, now, 1008, "Error", published_text("tls_inspecting_proxy"))
        return server["events"][-1]
    try:
        status, body = _fetch(lab.ocs_url, build)
    except (OSError, ValueError):
        add_event(server, now, 1008, "Error", published_text("endpoint_unreachable"))
        return server["events"][-1]
    if status != 200:
        # Below the March 2023 SU: the event says only that the fetch failed
        # ("untrusted endpoint" is written to the EEMS log, not the event).
        add_event(server, now, 1008, "Error", published_text("fetch_failed"))
        return server["events"][-1]
    blocked = set(server["eems"]["blocked"])
    unusable = [d["id"] for d in body["definitions"] if not d["usable"]]
    applied = list(server["eems"]["applied"])
    for definition in body["definitions"]:
        if definition["usable"] and definition["type"] == "DoNothing" and definition["id"] not in applied \
                and definition["id"] not in blocked:
            applied.append(definition["id"])
            add_event(server, now, 1006, "Information",
                      "Mitigation %s (%s) applied." % (definition["id"], definition["description"]))
    server["eems"]["applied"] = applied
    server["eems"]["last_success"] = now.isoformat()
    if unusable:
        # Definitions published after the June 2026 cut-off, on a build below it.
        add_event(server, now, 1008, "Error", published_text("build_before_june_2026"))
        return server["events"][-1]
    add_event(server, now, 1005, "Information",
              "Mitigation Service fetched definitions successfully. Applied: %s. Blocked: %s."
              % (", ".join(applied) or "none", ", ".join(sorted(blocked)) or "none"))
    return server["events"][-1]
