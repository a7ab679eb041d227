"""The Emergency Mitigation Service as the lab models it.

Once an hour (lab time), and whenever the service starts, each server with
MSExchangeMitigation running asks the OCS stand-in over HTTP for
definitions, and writes Application-log events in source
"MSExchange Mitigation Service": 1005 for a successful check, 1006 when a
mitigation is applied, 1008 for errors, with text that depends on the
server's build, its proxy and the OCS answer.
"""
from __future__ import annotations

import datetime as _dt
import json
import urllib.error
import urllib.request

SOURCE = "MSExchange Mitigation Service"
CHECK_INTERVAL_SECONDS = 3600
MAX_EVENTS = 100


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
    if build.startswith("15.0."):
        return None  # Exchange 2013 has no Mitigation Service
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
    prefix = "An unexpected exception occurred. Diagnostic information: Exception encountered while fetching mitigations"
    if proxy.get("tls_inspection"):
        add_event(server, now, 1008, "Error",
                  "%s : System.AggregateException: One or more errors occurred. ---> "
                  "System.Net.Http.HttpRequestException: An error occurred while sending the request. ---> "
                  "System.Net.WebException: Could not establish trust relationship for the SSL/TLS secure channel. "
                  "---> The remote certificate is invalid according to the validation procedure. "
                  "Using Proxy %s To Fetch Configurations. TLS certificate or its chain validation failed."
                  % (prefix, proxy.get("url")))
        return server["events"][-1]
    try:
        status, body = _fetch(lab.ocs_url, build)
    except (OSError, ValueError) as error:
        add_event(server, now, 1008, "Error",
                  "%s : System.Net.WebException: Unable to connect to the remote server (%s)."
                  % (prefix, type(error).__name__))
        return server["events"][-1]
    if status != 200:
        add_event(server, now, 1008, "Error",
                  "%s. FetchMitigation: Connection attempted against untrusted endpoint." % prefix)
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
        add_event(server, now, 1008, "Error",
                  "Exception encountered while validating mitigation definitions %s: the signing certificate "
                  "has an unknown issuer or EKU mismatch." % ", ".join(unusable))
        return server["events"][-1]
    add_event(server, now, 1005, "Information",
              "Mitigation Service fetched definitions successfully. Applied: %s. Blocked: %s."
              % (", ".join(applied) or "none", ", ".join(sorted(blocked)) or "none"))
    return server["events"][-1]
