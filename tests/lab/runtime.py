"""One running lab: state, clock, WinRM endpoints, HTTP services, ticker.

Used in-process by the tests (``with Lab(fleet, state_dir) as lab: ...``) and
by the ``serve`` command of the CLI, which runs the same object in a
detached process.
"""
from __future__ import annotations

import collections
import datetime as _dt
import json
import logging
import os
import secrets
import threading
import time

import yaml

from . import eems
from . import iis
from . import installer
from . import maintenance
from .clock import LabClock
from .host import LabHostBackend
from .http_services import LabHTTPServices, write_repository
from .ocs import CutoffRules
from .state import LabState
from .tls import ensure_lab_pki
from .wsman import WSManServer

LOG = logging.getLogger("lab")

_WSMAN_FAULTS = ("latency_ms", "http500_next", "drop_next_commands")


class Lab:
    def __init__(self, fleet, state_dir, *, fresh=False, tick_seconds=0.2):
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        state_path = os.path.join(self.state_dir, "state.json")
        if fresh and os.path.exists(state_path):
            os.remove(state_path)
        self.state = LabState.load_or_create(fleet, state_path)
        lab_conf = self.state.data["lab"]
        start = lab_conf.get("now") or lab_conf["start_time"]
        self.clock = LabClock(start, lab_conf["clock_factor"])
        self.cutoffs = CutoffRules()
        self.token = secrets.token_hex(16)
        self.repo_dir = os.path.join(self.state_dir, "repo")
        self.host_backend = LabHostBackend(self)
        self.wsman = None
        self.http = None
        self.endpoints = {}
        self._stats = collections.defaultdict(lambda: {"processes": 0, "operations": collections.Counter(),
                                                       "refusals": []})
        self._stats_lock = threading.Lock()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._ticker = None
        self.tick_seconds = tick_seconds
        self.pki = None

    # -- lifecycle --------------------------------------------------------
    def start(self):
        now = self.clock.now()
        for server in self.state.servers():
            server.setdefault("last_boot", (now - _dt.timedelta(days=3)).isoformat())
            server["eems"].setdefault("next_check", now.isoformat())
        names = ["%s.%s" % (s["name"].lower(), s["domain"]) for s in self.state.servers()][:50]
        self.pki = ensure_lab_pki(self.state_dir, extra_dns_names=names)
        write_repository(self.repo_dir, self.state.data["repository"]["packages"])
        self.http = LabHTTPServices(self)
        self.http.start()
        self.wsman = WSManServer(self.host_backend, certfile=self.pki.server_cert_path,
                                 keyfile=self.pki.server_key_path)
        self.wsman.start()
        lab_conf = self.state.data["lab"]
        base_port = int(lab_conf.get("base_port") or 0)
        ports = lab_conf.setdefault("ports", {})
        for index, server in enumerate(self.state.servers()):
            wanted = base_port + index if base_port else int(ports.get(server["name"], 0))
            try:
                host, port = self.wsman.add_endpoint(server["name"], "127.0.0.1", wanted, tls=lab_conf["tls"])
            except OSError:
                # The port used last time is taken now: take any free one.
                host, port = self.wsman.add_endpoint(server["name"], "127.0.0.1", 0, tls=lab_conf["tls"])
            ports[server["name"]] = port
            self.endpoints[server["name"]] = (host, port)
            self.apply_wsman_faults(server)
            if server.get("rebooting_until"):
                self._begin_downtime(server)
        self._ticker = threading.Thread(target=self._tick_loop, name="lab-ticker", daemon=True)
        self._ticker.start()
        self.save()
        return self

    def stop(self):
        """Stop serving and save the state; safe to call twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._ticker:
            self._ticker.join(timeout=5)
        if self.wsman:
            self.wsman.stop()
        if self.http:
            self.http.stop()
        self.save()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def save(self):
        with self.state.lock:
            self.state.data["lab"]["now"] = self.clock.iso()
        self.state.save()

    def state_changed(self):
        self._dirty.set()

    # -- bookkeeping used by the host backend ----------------------------
    def note_process(self, endpoint):
        with self._stats_lock:
            self._stats[endpoint.upper()]["processes"] += 1

    def note_operation(self, endpoint, name):
        with self._stats_lock:
            self._stats[endpoint.upper()]["operations"][name] += 1

    def note_refusal(self, endpoint, what):
        LOG.warning("refused on %s: %s", endpoint, what)
        with self._stats_lock:
            refusals = self._stats[endpoint.upper()]["refusals"]
            refusals.append(what)
            del refusals[:-20]

    def stats(self, name):
        with self._stats_lock:
            entry = self._stats[name.upper()]
            return {"processes": entry["processes"], "operations": dict(entry["operations"]),
                    "refusals": list(entry["refusals"])}

    # -- faults, reboots, EEMS -------------------------------------------
    def apply_wsman_faults(self, server):
        faults = server["faults"]
        self.wsman.set_faults(server["name"],
                              latency_s=float(faults.get("latency_ms", 0)) / 1000.0,
                              http500_next=int(faults.pop("http500_next", 0) or 0),
                              drop_next_commands=int(faults.pop("drop_next_commands", 0) or 0))
        trigger = faults.get("unreachable_at")
        if not trigger:
            server.pop("unreachable_armed", None)
            server.pop("unreachable_skip", None)
        elif isinstance(trigger, dict) and trigger.get("operation") and not trigger.get("event") \
                and server.get("unreachable_armed") != trigger["operation"]:
            # No event named: armed from now on, for the operation's (call)th call.
            server["unreachable_armed"] = trigger["operation"]
            server["unreachable_skip"] = max(0, int(trigger.get("call") or 1) - 1)
        if faults.get("unreachable"):
            self.cut(server)
        elif not server.get("rebooting_until"):
            self.wsman.set_down(server["name"], False)

    def cut(self, server):
        """The network to this server is cut: connections are refused and
        live ones reset; shells on the server survive, as on a real one.
        The caller holds the state lock."""
        faults = server["faults"]
        faults["unreachable"] = True
        faults.pop("unreachable_at", None)
        server.pop("unreachable_armed", None)
        server.pop("unreachable_skip", None)
        self.wsman.set_down(server["name"], True)
        maintenance.record(self, server, "network_cut")
        seconds = faults.pop("unreachable_seconds", None)
        if seconds:
            timer = threading.Timer(float(seconds), self.set_faults, (server["name"], {"unreachable": None}))
            timer.daemon = True
            timer.start()

    def note_transition(self, server, event):
        """A maintenance transition was made: cut the network now, or arm the
        cut for an operation, when the server's unreachable_at names it."""
        trigger = server["faults"].get("unreachable_at")
        if not isinstance(trigger, dict) or trigger.get("event") != event:
            return
        if trigger.get("operation"):
            server["unreachable_armed"] = trigger["operation"]
            server["unreachable_skip"] = max(0, int(trigger.get("call") or 1) - 1)
        else:
            self.cut(server)

    def before_operation(self, server, operation):
        """Called before a host operation runs; cuts when it was armed for it."""
        if server.get("unreachable_armed") == operation:
            if server.get("unreachable_skip"):
                server["unreachable_skip"] -= 1
                return False
            self.cut(server)
            return True
        return False

    def set_faults(self, name, faults):
        from .fleet import FAULT_KEYS
        unknown = set(faults) - FAULT_KEYS
        if unknown:
            raise ValueError("unknown faults %s (known: %s)" % (sorted(unknown), ", ".join(sorted(FAULT_KEYS))))
        with self.state.lock:
            server = self.state.server(name)
            for key, value in faults.items():
                if value in (None, False, 0, [], ""):
                    server["faults"].pop(key, None)
                else:
                    server["faults"][key] = value
            self.apply_wsman_faults(server)
        self.state_changed()

    def reboot(self, name, reason="requested"):
        """Start a reboot: the endpoint refuses connections, open shells are
        gone, and after the server's reboot time (lab seconds) it is back
        with a new boot time."""
        with self.state.lock:
            server = self.state.server(name)
            seconds = float(server["faults"].get("slow_reboot_seconds") or server["reboot_seconds"])
            server["rebooting_until"] = (self.clock.now() + _dt.timedelta(seconds=seconds)).isoformat()
            server["last_reboot_reason"] = reason
            self._begin_downtime(server)
            self._copies_down(server)
            maintenance.record(self, server, "reboot_start", reason)
        self.state_changed()
        return server["rebooting_until"]

    def _begin_downtime(self, server):
        self.wsman.reset_shells(server["name"])
        self.wsman.set_down(server["name"], True)

    def _finish_reboot(self, server, now):
        server["rebooting_until"] = None
        server["last_boot"] = now.isoformat()
        server["boot_count"] += 1
        server["pending_reboot"] = False
        server["pending_reboot_reasons"] = []
        server["update_exe_volatile"] = False
        failing = set(server["faults"].get("services_fail_start") or [])
        delay = float(server.get("services_start_seconds") or 0)
        starting = "StartPending" if delay > 0 else "Running"
        for service_name, service in server["services"].items():
            if service["start_mode"] == "Automatic":
                service["state"] = "Stopped" if service_name in failing else starting
            else:
                service["state"] = "Stopped"
        started = now + _dt.timedelta(seconds=delay)
        server["services_starting_until"] = started.isoformat() if delay > 0 else None
        if delay <= 0:
            self._copies_resynchronize(server, now)
        # The Mitigation Service checks right after it starts.
        server["eems"]["next_check"] = started.isoformat()
        self.wsman.set_down(server["name"], bool(server["faults"].get("unreachable")))
        maintenance.record(self, server, "reboot_end")

    def _services_started(self, server, now):
        server["services_starting_until"] = None
        for service in server["services"].values():
            if service["state"] == "StartPending":
                service["state"] = "Running"
        self._copies_resynchronize(server, now)

    # A DAG member's passive copies while it restarts: ServiceDown, then
    # Resynchronizing once its services run (the log shipping catches up),
    # then Healthy copy_resync_seconds later. Status names are those of
    # Get-MailboxDatabaseCopyStatus (Learn, "Get-MailboxDatabaseCopyStatus",
    # the Status values). Only copies that were Healthy take this path: a
    # copy failed on purpose (FailedAndSuspended) stays failed.
    def _copies_down(self, server):
        for database in self.state.databases_on(server["name"]):
            copy = database["copies"][server["name"]]
            if len(database["copies"]) > 1 and (copy["status"] == "Healthy" or copy.get("recovering")):
                copy.update(status="ServiceDown", recovering=True)

    def _copies_resynchronize(self, server, now):
        recovering = [database["copies"][server["name"]] for database in self.state.databases_on(server["name"])
                      if database["copies"][server["name"]].get("recovering")]
        for copy in recovering:
            copy["status"] = "Resynchronizing"
        if recovering:
            maintenance.record(self, server, "copies_resynchronizing")
        seconds = float(server.get("copy_resync_seconds") or 0)
        server["copies_healthy_at"] = (now + _dt.timedelta(seconds=seconds)).isoformat() if recovering else None
        if recovering and seconds <= 0:
            self._copies_healthy(server)

    def _copies_healthy(self, server):
        server["copies_healthy_at"] = None
        for database in self.state.databases_on(server["name"]):
            copy = database["copies"][server["name"]]
            if copy.pop("recovering", None):
                copy["status"] = "Healthy"
        maintenance.record(self, server, "copies_healthy")

    def run_eems_check(self, name):
        with self.state.lock:
            event = self._eems_check(self.state.server(name))
        self.state_changed()
        return event

    def _eems_check(self, server):
        """One Mitigation Service check; after a successful one, the service
        writes back any rewrite rule of an applied, unblocked mitigation that
        was deleted (why removing an EEMS rule needs blocking first)."""
        before = server["eems"].get("last_success")
        event = eems.run_check(self, server)
        if server["eems"].get("last_success") != before:
            iis.eems_reapply(server)
        return event

    @property
    def maintenance_log(self):
        """Every maintenance transition and reboot, in order (see maintenance.py)."""
        with self.state.lock:
            return [dict(entry) for entry in self.state.data.get("maintenance_log", [])]

    def dag_violations(self):
        """Moments two members of one DAG were out of service together; [] is the goal."""
        return maintenance.dag_violations(self.maintenance_log)

    def _tick_loop(self):
        last_save = time.monotonic()
        while not self._stop.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception:  # the ticker must survive a model bug; log it
                LOG.exception("lab tick failed")
            if self._dirty.is_set() and time.monotonic() - last_save > 1.0:
                self._dirty.clear()
                self.save()
                last_save = time.monotonic()

    def tick(self):
        now = self.clock.now()
        due = []
        with self.state.lock:
            for server in self.state.servers():
                until = server.get("rebooting_until")
                if until and _dt.datetime.fromisoformat(until) <= now:
                    self._finish_reboot(server, now)
                    self.state_changed()
                starting = server.get("services_starting_until")
                if starting and not server.get("rebooting_until") and _dt.datetime.fromisoformat(starting) <= now:
                    self._services_started(server, now)
                    self.state_changed()
                healthy_at = server.get("copies_healthy_at")
                if healthy_at and not server.get("rebooting_until") and _dt.datetime.fromisoformat(healthy_at) <= now:
                    self._copies_healthy(server)
                    self.state_changed()
                # Installer tasks and requested restarts run in lab time.
                if installer.advance(self, server, now):
                    self.state_changed()
                next_check = server["eems"].get("next_check")
                if not server.get("rebooting_until") and next_check \
                        and _dt.datetime.fromisoformat(next_check) <= now:
                    due.append(server)
        # OCS calls are real HTTP requests: make them outside the lock.
        for server in due:
            with self.state.lock:
                event = self._eems_check(server)
            if event is not None:
                self.state_changed()

    # -- control API --------------------------------------------------------
    @property
    def ocs_url(self):
        host, port = self.http.address
        return "http://%s:%d/ocs/mitigations" % (host, port)

    @property
    def repo_url(self):
        host, port = self.http.address
        return "http://%s:%d/repo/" % (host, port)

    def control(self, method, action, body):
        if method == "GET" and action == "status":
            return 200, self.status()
        if method == "GET" and action.startswith("server/"):
            with self.state.lock:
                server = json.loads(json.dumps(self.state.server(action[len("server/"):]), default=str))
            server["stats"] = self.stats(server["name"])
            return 200, server
        if method == "POST" and action == "faults":
            self.set_faults(body["server"], body.get("faults") or {})
            return 200, {"server": body["server"], "faults": self.state.server(body["server"])["faults"]}
        if method == "POST" and action == "reboot":
            return 200, {"server": body["server"], "rebooting_until": self.reboot(body["server"], "control API")}
        if method == "POST" and action == "clock":
            self.clock.advance(float(body.get("advance_seconds", 0)))
            return 200, {"now": self.clock.iso()}
        if method == "POST" and action == "eems-check":
            return 200, {"event": self.run_eems_check(body["server"])}
        if method == "GET" and action == "maintenance-log":
            return 200, {"log": self.maintenance_log, "dag_violations": self.dag_violations()}
        if method == "POST" and action == "ocs":
            with self.state.lock:
                self.state.data["ocs"]["reachable"] = bool(body.get("reachable", True))
            self.state_changed()
            return 200, dict(self.state.data["ocs"])
        raise KeyError("control action %s %s" % (method, action))

    def status(self):
        with self.state.lock:
            servers = {s["name"]: {"build": s["build"], "rebooting": bool(s.get("rebooting_until")),
                                   "endpoint": "%s:%d" % self.endpoints[s["name"]]}
                       for s in self.state.servers()}
        return {"now": self.clock.iso(), "servers": servers, "ocs": self.ocs_url, "repository": self.repo_url}

    # -- files a client needs --------------------------------------------------
    def inventory(self):
        """An Ansible inventory (as a dict) for this running lab."""
        credential = self.state.data["lab"]["credential"]
        tls = self.state.data["lab"]["tls"]
        hosts, dags, orgs, edge = {}, {}, {}, {}
        for server in self.state.servers():
            host, port = self.endpoints[server["name"]]
            hosts[server["name"]] = {"ansible_host": host, "ansible_port": port}
            if server.get("local_account"):
                # An Edge Transport server: its own local account, not the domain's.
                hosts[server["name"]].update(ansible_user=server["local_account"]["username"],
                                             ansible_password=server["local_account"]["password"])
                edge.setdefault("exchange_edge", {"hosts": {}})["hosts"][server["name"]] = {}
            if server["dag"]:
                dags.setdefault("dag_" + server["dag"].lower(), {"hosts": {}})["hosts"][server["name"]] = {}
            orgs.setdefault("org_" + server["organization"].lower(), {"hosts": {}})["hosts"][server["name"]] = {}
        exchange_vars = {
            "ansible_connection": "winrm",
            "ansible_winrm_transport": "basic",
            "ansible_winrm_scheme": "https" if tls else "http",
            "ansible_user": credential["username"],
            "ansible_password": credential["password"],
            "exchange_lab_control_url": "http://%s:%d/control/" % self.http.address,
            "exchange_repository_url": self.repo_url,
        }
        if tls:
            exchange_vars["ansible_winrm_server_cert_validation"] = "validate"
            exchange_vars["ansible_winrm_ca_trust_path"] = self.pki.ca_cert_path
        else:
            exchange_vars["ansible_winrm_message_encryption"] = "never"
        children = {"exchange": {"hosts": hosts, "vars": exchange_vars}}
        children.update(dags)
        children.update(orgs)
        children.update(edge)
        return {"all": {"children": children}}

    def write_runtime_files(self, pid=None):
        inventory_path = os.path.join(self.state_dir, "inventory.yml")
        with open(inventory_path, "w", encoding="utf-8") as handle:
            handle.write("# Written by the lab for the running lab; it changes when the lab restarts.\n")
            yaml.safe_dump(self.inventory(), handle, sort_keys=False)
        info = {"pid": pid or os.getpid(), "ready": True, "token": self.token,
                "control_url": "http://%s:%d/control/" % self.http.address,
                "inventory": inventory_path, "ca": self.pki.ca_cert_path,
                "endpoints": {k: list(v) for k, v in self.endpoints.items()}}
        info_path = os.path.join(self.state_dir, "lab.json")
        tmp = info_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(info, handle, indent=1)
        os.chmod(tmp, 0o600)  # it holds the control token
        os.replace(tmp, info_path)
        return info_path
