"""Fleet definitions: the YAML that describes a simulated Exchange estate.

A fleet file is the lab's input; ``load_fleet`` validates it and fills in
defaults so the rest of the lab can rely on every key being present.  The
resulting plain dict is also the lab's persisted state (see ``state.py``), so
a fleet can be written back out, edited and loaded again.
"""
from __future__ import annotations

import copy
import os

import yaml

from . import iis, value_forms

FLEET_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fleets")
DEFAULT_FLEET = os.path.join(FLEET_DIR, "default.yml")

# Services an Exchange Mailbox server runs; the lab starts every one of them
# unless the fleet says otherwise.
EXCHANGE_SERVICES = (
    "MSExchangeADTopology",
    "MSExchangeFrontEndTransport",
    "MSExchangeTransport",
    "MSExchangeIS",
    "MSExchangeRepl",
    "MSExchangeMitigation",
    "MSExchangeServiceHost",
    "W3SVC",
    "WinRM",
)

# Services an Edge Transport server runs (Microsoft Learn, "Overview of
# Exchange services on Exchange servers", the Edge Transport column): the AD
# LDS instance Setup creates for Edge (ADAM_MSExchange), the Credential
# service EdgeSync's credentials need, Transport and its helpers. No
# Information Store, no Front End Transport, no IIS (W3SVC), no Mitigation
# Service (Learn, "Exchange Emergency Mitigation (EM) service": Mailbox role
# only) and no MSExchangeADTopology (Edge is not in the domain).
EDGE_SERVICES = (
    "ADAM_MSExchange",
    "MSExchangeAntispamUpdate",
    "MSExchangeDiagnostics",
    "MSExchangeEdgeCredential",
    "MSExchangeHM",
    "MSExchangeServiceHost",
    "MSExchangeTransport",
    "MSExchangeTransportLogSearch",
    "WinRM",
)


def is_edge(server):
    """An Edge Transport server (``roles: [Edge]`` in the fleet; Get-ExchangeServer's
    ServerRole value for that role is ``Edge``)."""
    return "Edge" in (server.get("roles") or [])


SERVER_DEFAULTS = {
    "organization": None,
    "roles": ["Mailbox"],
    "edition": "Standard",
    "os": "Windows Server 2019 Datacenter",
    "dotnet_release": 533320,
    "free_disk_gb": 80.0,
    "pending_reboot": False,
    "pending_reboot_reasons": [],
    # HKLM\SOFTWARE\Microsoft\Updates\UpdateExeVolatile has a Flags value
    # (an update waits for a restart; Exchange Setup checks it).
    "update_exe_volatile": False,
    "setup_watermark": None,
    "dag": None,
    "site": "Default-First-Site-Name",
    "domain": "lab.contoso.test",
    "proxy": None,
    "url_rewrite_version": "7.2.1993",
    # What Exchange Setup's readiness check needs besides .NET and URL Rewrite
    # (plugins/plugin_utils/_data/setup_prerequisites.yml): package -> the
    # installed version, or None when it is not installed. Edge servers get
    # only the 2012 runtime by default (all Edge needs).
    "setup_prerequisites": {"vcredist2012": "11.0.61030", "vcredist2013": "12.0.40664", "ucma4": "5.0.8308.0"},
    "rewrite_rules": [],
    "component_states": {},
    "faults": {},
    "reboot_seconds": 30,
    # After a restart WinRM answers before Exchange has started: automatic
    # services stay StartPending this long (lab seconds) after the boot, so a
    # client that judges health at once sees them not running yet.
    "services_start_seconds": 120,
    # Its passive database copies then resynchronize this long (lab seconds)
    # before they are Healthy again (see Lab._copies_down).
    "copy_resync_seconds": 180,
    # The Exchange role groups of the account this server is managed with
    # (inventories may give each host its own ems_username); see data/rbac.yml.
    "ems_role_groups": ["Organization Management"],
    # URL prefixes this server cannot reach (a firewall or a proxy in the
    # way): Test-ExchangePrerequisite's reachability checks fail for them.
    "blocked_urls": [],
}

SETUP_PREREQUISITES = {"vcredist2012", "vcredist2013", "ucma4"}

EEMS_DEFAULTS = {
    "server_enabled": True,
    "blocked": [],
    "applied": [],
    "data_collection": False,
}

FAULT_KEYS = {
    "latency_ms", "http500_next", "drop_next_commands", "installer_exit_code", "hash_mismatch",
    "disk_full", "services_fail_start", "iis_config_locked", "slow_reboot_seconds",
    "queue_stuck",  # transport queues never drain (maintenance_mode's bounded wait)
    "malformed_answer",  # non_json | truncated | huge | wrong_types | off_contract[:path]: a broken host answer
    # The server's WinRM endpoint refuses connections and resets live ones
    # (a network cut), until cleared, or for unreachable_seconds (wall time).
    "unreachable",
    # Cut at a chosen moment: {"event": E} cuts as the maintenance transition
    # E is made (the answer of that step is lost); {"event": E, "operation": O}
    # cuts at the next call of host operation O after E (before it runs).
    "unreachable_at",
    "unreachable_seconds",
}


class FleetError(ValueError):
    """A fleet file that cannot describe an estate; the message names the place."""


def _require(condition, message):
    if not condition:
        raise FleetError(message)


def normalise_fleet(raw, source="<fleet>"):
    """Validate ``raw`` (parsed YAML) and return a complete fleet dict."""
    _require(isinstance(raw, dict), "%s: the fleet must be a mapping" % source)
    fleet = copy.deepcopy(raw)
    fleet.setdefault("lab", {})
    lab = fleet["lab"]
    lab.setdefault("clock_factor", 60.0)
    lab.setdefault("start_time", "2026-11-26T08:00:00+00:00")
    lab.setdefault("credential", {"username": "LAB\\ansible", "password": "Lab-Passw0rd!"})
    lab.setdefault("base_port", 0)
    lab.setdefault("tls", True)
    lab.setdefault("shell_quota", 1500)

    orgs = fleet.setdefault("organizations", [{"name": "Contoso"}])
    _require(isinstance(orgs, list) and orgs, "%s: organizations must be a non-empty list" % source)
    org_names = set()
    for org in orgs:
        _require(isinstance(org, dict) and org.get("name"), "%s: every organization needs a name" % source)
        org.setdefault("mitigations_enabled", True)
        org.setdefault("esu_enrolled", False)
        org.setdefault("schema_version", None)
        org_names.add(org["name"])

    dags = fleet.setdefault("dags", [])
    dag_names = set()
    for dag in dags:
        _require(isinstance(dag, dict) and dag.get("name"), "%s: every DAG needs a name" % source)
        dag.setdefault("witness_server", None)
        dag_names.add(dag["name"])

    fleet.setdefault("ocs", {"reachable": True})
    fleet["ocs"].setdefault("reachable", True)
    fleet.setdefault("repository", {"packages": []})
    fleet["repository"].setdefault("packages", [])

    servers = fleet.get("servers")
    _require(isinstance(servers, list) and servers, "%s: servers must be a non-empty list" % source)
    seen = set()
    default_org = orgs[0]["name"]
    for index, server in enumerate(servers):
        where = "%s: servers[%d]" % (source, index)
        _require(isinstance(server, dict), "%s must be a mapping" % where)
        name = server.get("name")
        _require(isinstance(name, str) and name.replace("-", "").isalnum() and len(name) <= 15,
                 "%s: name %r must be a NetBIOS-style host name (letters, digits, '-', at most 15)" % (where, name))
        _require(name.upper() not in seen, "%s: server name %s appears twice" % (where, name))
        seen.add(name.upper())
        build = server.get("build")
        _require(isinstance(build, str) and build.count(".") == 3 and all(p.isdigit() for p in build.split(".")),
                 "%s (%s): build %r must look like 15.2.1748.10" % (where, name, build))
        if is_edge(server):
            _require(server["roles"] == ["Edge"],
                     "%s (%s): the Edge role is installed alone (roles: [Edge])" % (where, name))
            _require(server.get("dag") is None, "%s (%s): an Edge Transport server is never a DAG member" % (where, name))
            # No IIS on Edge, so no URL Rewrite module and no rewrite rules;
            # usually not domain-joined (Win32_ComputerSystem.Domain is the workgroup).
            server.setdefault("url_rewrite_version", None)
            server.setdefault("setup_prerequisites", {"vcredist2012": "11.0.61030"})
            # Outside the domain, it is reached with one of its own accounts
            # (docs/real-estate.md, "Edge Transport servers").
            server.setdefault("local_account", {"username": "%s\\exadmin" % name.upper(),
                                                "password": "Edge-Passw0rd!"})
            _require(not server.get("rewrite_rules"), "%s (%s): an Edge Transport server has no IIS site for "
                     "rewrite rules" % (where, name))
        for key, value in SERVER_DEFAULTS.items():
            server.setdefault(key, copy.deepcopy(value))
        if server["organization"] is None:
            server["organization"] = default_org
        _require(server["organization"] in org_names,
                 "%s (%s): organization %r is not defined" % (where, name, server["organization"]))
        _require(server["dag"] is None or server["dag"] in dag_names,
                 "%s (%s): DAG %r is not defined" % (where, name, server["dag"]))
        prerequisites = server["setup_prerequisites"]
        _require(isinstance(prerequisites, dict) and set(prerequisites) <= SETUP_PREREQUISITES,
                 "%s (%s): setup_prerequisites must map %s to a version or null"
                 % (where, name, ", ".join(sorted(SETUP_PREREQUISITES))))
        unknown_faults = set(server["faults"]) - FAULT_KEYS
        _require(not unknown_faults, "%s (%s): unknown faults %s (known: %s)"
                 % (where, name, sorted(unknown_faults), ", ".join(sorted(FAULT_KEYS))))
        eems = server.setdefault("eems", {})
        for key, value in EEMS_DEFAULTS.items():
            eems.setdefault(key, copy.deepcopy(value))
        services = server.setdefault("services", {})
        for service in (EDGE_SERVICES if is_edge(server) else EXCHANGE_SERVICES):
            # The Mitigation Service came with the September 2021 CUs, like
            # the EEMS properties; 2013 never had it.
            if service == "MSExchangeMitigation" and not value_forms.has_eems_properties(build):
                continue
            services.setdefault(service, {})
        for service in services.values():
            service.setdefault("start_mode", "Automatic")
            service.setdefault("state", "Running")
        server.setdefault("events", [])
        server.setdefault("installed_packages", [])
        server.setdefault("boot_count", 1)
        # Flat fleet rules become the server's structured IIS configuration.
        iis.normalise_server(server)

    databases = fleet.setdefault("databases", [])
    server_names = {s["name"] for s in servers}
    for db in databases:
        _require(isinstance(db, dict) and db.get("name"), "%s: every database needs a name" % source)
        copies = db.get("copies")
        _require(isinstance(copies, dict) and copies, "%s: database %s needs copies" % (source, db.get("name")))
        for host, copy_state in copies.items():
            _require(host in server_names, "%s: database %s has a copy on unknown server %s" % (source, db["name"], host))
            copy_state.setdefault("status", "Healthy")
            copy_state.setdefault("activation_preference", 1)
            copy_state.setdefault("copy_queue_length", 0)
            copy_state.setdefault("replay_queue_length", 0)
        db.setdefault("active", next(iter(copies)))
        _require(db["active"] in copies, "%s: database %s is active on %s, which holds no copy"
                 % (source, db["name"], db["active"]))
    return fleet


def load_fleet(path=DEFAULT_FLEET):
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return normalise_fleet(raw, source=os.path.basename(path))


def generate_fleet(server_count, dag_count=0, *, builds=None, dag_size=3):
    """A synthetic fleet of ``server_count`` servers, the first
    ``dag_count * dag_size`` of them in DAGs, for benchmarks and scale tests."""
    builds = builds or ["15.2.1748.53", "15.2.1544.48", "15.1.2507.75", "15.2.1118.26", "15.2.2562.53"]
    servers, dags, databases = [], [], []
    for index in range(server_count):
        servers.append({"name": "GEN%05d" % (index + 1), "build": builds[index % len(builds)]})
    for dag_index in range(dag_count):
        members = servers[dag_index * dag_size:(dag_index + 1) * dag_size]
        if len(members) < 2:
            break
        dag_name = "GDAG%03d" % (dag_index + 1)
        dags.append({"name": dag_name})
        for member in members:
            member["dag"] = dag_name
            member["build"] = members[0]["build"]
        for db_index, active in enumerate(members):
            databases.append({
                "name": "%s-DB%02d" % (dag_name, db_index + 1),
                "active": active["name"],
                "copies": {m["name"]: {"activation_preference": 1 + ((i - db_index) % len(members))}
                           for i, m in enumerate(members)},
            })
    return normalise_fleet({"servers": servers, "dags": dags, "databases": databases}, source="<generated>")
