"""Reboots, injected faults, the Mitigation Service model and persistence."""
from __future__ import annotations

import datetime as _dt
import socket
import time

import pytest
import requests
import winrm.exceptions

from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_status import cause_from_event
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import run_host_operation
from lab import maintenance
from lab.client import WinRMClient
from lab.fleet import FleetError, normalise_fleet


def _identity(lab, name):
    client = WinRMClient.for_lab(lab, name)
    try:
        return run_host_operation(client, "Get-HostIdentity", {"token": "t"})["data"]
    finally:
        client.close()


def _refuses_connections(lab, name):
    host, port = lab.endpoints[name]
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return True
    return False


def _wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.smoke
def test_reboot_refuses_connections_drops_shells_and_changes_boot_time(lab_factory):
    lab = lab_factory()
    client = WinRMClient.for_lab(lab, "EX19C")
    before = run_host_operation(client, "Get-HostIdentity", {"token": "t"})["data"]["last_boot"]
    lab.set_faults("EX19C", {"slow_reboot_seconds": 3600})
    lab.reboot("EX19C", "test")
    assert _refuses_connections(lab, "EX19C")
    lab.clock.advance(3600)
    assert _wait_until(lambda: not _refuses_connections(lab, "EX19C"))
    # The shell the client held died with the reboot: the lab says so as Windows does.
    with pytest.raises(winrm.exceptions.WinRMError):
        run_host_operation(client, "Get-HostIdentity", {})
    after = _identity(lab, "EX19C")["last_boot"]
    assert after > before
    server = lab.state.server("EX19C")
    assert server["boot_count"] == 2 and server["pending_reboot"] is False


def test_reboot_clears_pending_reboot_and_services_that_fail_stay_stopped(lab_factory):
    lab = lab_factory()
    lab.set_faults("EX19E", {"services_fail_start": ["MSExchangeTransport"]})
    server = lab.state.server("EX19E")
    server["services"]["MSExchangeTransport"]["start_mode"] = "Automatic"
    lab.reboot("EX19E")
    lab.clock.advance(server["reboot_seconds"])
    assert _wait_until(lambda: not server.get("rebooting_until"))
    assert server["pending_reboot"] is False
    assert server["services"]["MSExchangeTransport"]["state"] == "Stopped"
    assert server["services"]["MSExchangeIS"]["state"] == "Stopped"  # still Disabled from the broken setup
    # WinRM answers before the automatic services run: they start a while later.
    assert server["services"]["W3SVC"]["state"] in ("StartPending", "Running")
    lab.clock.advance(server["services_start_seconds"])
    assert _wait_until(lambda: server["services"]["W3SVC"]["state"] == "Running")
    assert server["services"]["MSExchangeTransport"]["state"] == "Stopped"


def test_a_restarted_members_copies_resynchronize_and_going_out_beside_it_is_a_dag_violation(lab_factory):
    lab = lab_factory()
    member, other = lab.state.server("EX19B"), lab.state.server("EX19C")
    copies = [db["copies"]["EX19B"] for db in lab.state.databases_on("EX19B") if len(db["copies"]) > 1
              and db.get("active") != "EX19B"]
    assert copies and {c["status"] for c in copies} == {"Healthy"}
    lab.reboot("EX19B")
    assert {c["status"] for c in copies} == {"ServiceDown"}
    lab.clock.advance(member["reboot_seconds"] + member["services_start_seconds"])
    assert _wait_until(lambda: {c["status"] for c in copies} == {"Resynchronizing"})
    # Another member goes out while EX19B's copies still catch up: a violation.
    with lab.state.lock:
        other["component_states"]["ServerWideOffline"] = "Inactive"
        maintenance.record(lab, other, "server_offline")
    [violation] = lab.dag_violations()
    assert (violation["servers"], violation["recovering"]) == (["EX19B", "EX19C"], ["EX19B"])
    with lab.state.lock:
        other["component_states"]["ServerWideOffline"] = "Active"
        maintenance.record(lab, other, "server_online")
    lab.clock.advance(member["copy_resync_seconds"])
    assert _wait_until(lambda: {c["status"] for c in copies} == {"Healthy"})
    # Once they are healthy, the same step is no violation.
    with lab.state.lock:
        other["component_states"]["ServerWideOffline"] = "Inactive"
        maintenance.record(lab, other, "server_offline")
    assert len(lab.dag_violations()) == 1


def test_a_copy_failed_on_purpose_stays_failed_through_a_restart(lab_factory):
    lab = lab_factory()
    database = next(db for db in lab.state.databases_on("EX19C") if len(db["copies"]) > 1
                    and db.get("active") != "EX19C")
    database["copies"]["EX19C"]["status"] = "FailedAndSuspended"
    server = lab.state.server("EX19C")
    lab.reboot("EX19C")
    lab.clock.advance(server["reboot_seconds"] + server["services_start_seconds"] + server["copy_resync_seconds"])
    assert _wait_until(lambda: not server.get("rebooting_until") and not server.get("copies_healthy_at"))
    assert database["copies"]["EX19C"]["status"] == "FailedAndSuspended"


def test_latency_fault_delays_answers_but_they_still_arrive(lab_factory):
    lab = lab_factory()
    lab.set_faults("EX19B", {"latency_ms": 300})
    started = time.monotonic()
    assert _identity(lab, "EX19B")["computer_name"] == "EX19B"
    # open shell, command, send, receive, cleanup, close: at least four delayed requests
    assert time.monotonic() - started >= 1.2


def test_http_500_fault_fails_the_next_request_only(lab_factory):
    lab = lab_factory()
    lab.set_faults("EX19B", {"http500_next": 1})
    with pytest.raises((winrm.exceptions.WinRMTransportError, requests.exceptions.HTTPError)):
        _identity(lab, "EX19B")
    assert _identity(lab, "EX19B")["computer_name"] == "EX19B"


def test_dropped_connection_mid_command_surfaces_as_a_connection_error(lab_factory):
    lab = lab_factory()
    lab.set_faults("EX19B", {"drop_next_commands": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        _identity(lab, "EX19B")
    assert _identity(lab, "EX19B")["computer_name"] == "EX19B"


def test_unknown_fault_is_a_clear_error(lab_factory):
    lab = lab_factory()
    with pytest.raises(ValueError, match="unknown faults \\['explode'\\]"):
        lab.set_faults("EX19B", {"explode": True})


@pytest.mark.parametrize("fleet, message", [
    ({"servers": []}, "servers must be a non-empty list"),
    ({"servers": [{"name": "EX1", "build": "15.2"}]}, "build '15.2' must look like"),
    ({"servers": [{"name": "EX1; rm", "build": "15.2.1748.10"}]}, "NetBIOS-style host name"),
    ({"servers": [{"name": "EX1", "build": "15.2.1748.10", "dag": "NOPE"}]}, "DAG 'NOPE' is not defined"),
    ({"servers": [{"name": "EX1", "build": "15.2.1748.10"}, {"name": "ex1", "build": "15.2.1748.10"}]},
     "appears twice"),
    ({"servers": [{"name": "EX1", "build": "15.2.1748.10", "setup_prerequisites": {"vcredist2015": "14.0"}}]},
     "setup_prerequisites must map ucma4, vcredist2012, vcredist2013 to a version or null"),
])
def test_bad_fleet_files_name_the_problem(fleet, message):
    with pytest.raises(FleetError, match=message):
        normalise_fleet(fleet)


# -- the Mitigation Service model ------------------------------------------------

EXPECTED_FIRST_EVENT = {
    "EX13A": None,                                    # 2013: no Mitigation Service
    # 1008s carry the published texts; the second item is the cause the judge reads from them.
    "EX16A": (1008, "fetch_failed"),                  # below Mar23SU: the blog's bare fetch failure
    "EX16B": (1008, "fetch_failed"),
    "EX16C": (1008, "build_before_june_2026"),        # fetches, below Jun26SU
    "EX19A": (1008, "build_before_june_2026"),
    "EX19B": (1008, "build_before_june_2026"),
    "EX19C": (1005, "fetched definitions successfully"),
    "EX19D": (1005, "fetched definitions successfully"),
    "EX19E": None,                                    # service disabled by the broken setup
    "EX19P": (1008, "tls_inspecting_proxy"),          # TLS-inspecting proxy
    "EXSE1": (1005, "fetched definitions successfully"),
    "FBEX01": (1005, "disabled by configuration"),    # org flag off
}


@pytest.mark.smoke
def test_mitigation_service_events_depend_on_build_proxy_and_org(lab_factory):
    lab = lab_factory()
    for name, expected in EXPECTED_FIRST_EVENT.items():
        event = lab.run_eems_check(name)
        if expected is None:
            assert event is None, name
        elif expected[0] == 1008:
            assert (event["id"], cause_from_event(event["message"])) == expected, (name, event)
        else:
            assert (event["id"], expected[1] in event["message"]) == (expected[0], True), (name, event)
            assert event["source"] == "MSExchange Mitigation Service"


def test_hourly_checks_happen_on_lab_time(lab_factory):
    lab = lab_factory()
    server = lab.state.server("EXSE1")
    assert _wait_until(lambda: any(e["id"] == 1005 for e in server["events"]))
    count = len(server["events"])
    lab.clock.advance(3600)
    assert _wait_until(lambda: len(server["events"]) > count)
    assert "PING1" in server["eems"]["applied"]


def test_unreachable_ocs_gives_unable_to_connect(lab_factory):
    lab = lab_factory()
    lab.control("POST", "ocs", {"reachable": False})
    event = lab.run_eems_check("EXSE1")
    assert event["id"] == 1008 and cause_from_event(event["message"]) == "endpoint_unreachable"


def test_ocs_stand_in_answers_by_build(default_lab):
    url = default_lab.ocs_url
    old = requests.get(url, headers={"X-Exchange-Build": "15.1.2375.37"}, timeout=5)
    assert old.status_code == 495 and old.json()["error"] == "untrusted_endpoint"
    mid = requests.get(url, headers={"X-Exchange-Build": "15.2.1118.26"}, timeout=5).json()
    assert {d["id"]: d["usable"] for d in mid["definitions"]}["LAB3.1"] is False
    new = requests.get(url, headers={"X-Exchange-Build": "15.2.2562.53"}, timeout=5).json()
    assert all(d["usable"] for d in new["definitions"])


def test_package_repository_serves_files_matching_its_manifest(default_lab):
    import hashlib
    manifest = requests.get(default_lab.repo_url + "manifest.json", timeout=5).json()
    assert manifest["files"]
    for entry in manifest["files"]:
        body = requests.get(default_lab.repo_url + entry["name"], timeout=5).content
        assert len(body) == entry["size"] and hashlib.sha256(body).hexdigest() == entry["sha256"]
    assert requests.get(default_lab.repo_url + "../state.json", timeout=5).status_code == 404


def test_corrupt_package_has_a_mismatched_hash(lab_factory):
    import hashlib
    lab = lab_factory({"servers": [{"name": "EX1", "build": "15.2.1748.10"}],
                       "repository": {"packages": [{"name": "bad.exe", "size_kb": 4, "corrupt": True}]}})
    entry = requests.get(lab.repo_url + "manifest.json", timeout=5).json()["files"][0]
    body = requests.get(lab.repo_url + "bad.exe", timeout=5).content
    assert hashlib.sha256(body).hexdigest() != entry["sha256"]


def test_control_api_requires_the_token(default_lab):
    host, port = default_lab.http.address
    response = requests.get("http://%s:%d/control/status" % (host, port), timeout=5)
    assert response.status_code == 403
    response = requests.get("http://%s:%d/control/status" % (host, port),
                            headers={"X-Lab-Token": default_lab.token}, timeout=5)
    assert set(response.json()["servers"]) == set(default_lab.endpoints)


# -- persistence -------------------------------------------------------------------

@pytest.mark.smoke
def test_state_survives_a_restart(lab_factory, tmp_path):
    state_dir = tmp_path / "persist"
    lab = lab_factory(state_dir=state_dir)
    with lab.state.lock:
        lab.state.server("EX19A")["eems"]["blocked"] = ["M1"]
        lab.state.organization("Fabrikam")["mitigations_enabled"] = True
    lab.reboot("EX19A")
    lab.clock.advance(600)
    assert _wait_until(lambda: not lab.state.server("EX19A").get("rebooting_until"))
    lab_time = lab.clock.now()
    lab.stop()
    again = lab_factory(state_dir=state_dir)
    assert again.state.server("EX19A")["eems"]["blocked"] == ["M1"]
    assert again.state.server("EX19A")["boot_count"] == 2
    assert again.state.organization("Fabrikam")["mitigations_enabled"] is True
    assert again.clock.now() >= lab_time - _dt.timedelta(seconds=1)
    assert _identity(again, "EX19A")["computer_name"] == "EX19A"


def test_fresh_start_forgets_saved_state(lab_factory, tmp_path):
    state_dir = tmp_path / "fresh"
    lab = lab_factory(state_dir=state_dir)
    with lab.state.lock:
        lab.state.server("EX19A")["eems"]["blocked"] = ["M1"]
    lab.stop()
    again = lab_factory(state_dir=state_dir, fresh=True)
    assert again.state.server("EX19A")["eems"]["blocked"] == []
