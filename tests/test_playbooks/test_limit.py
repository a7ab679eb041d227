"""Runs limited to part of the estate (--limit, AWX's limit prompt) and runs
that match no server: the report, the summary and the final check always
run and cover exactly the servers of the run; no server at all is a clear
failure, never a green "Servers: 0"."""
from __future__ import annotations

import json
import re

import pytest

from labtools import run_playbook, write_inventory

TARGET = "15.2.1748.53"   # 2019 CU15 Sep26SUv2 (ESU)
SU_MSP = "Exchange2019-KB5129956-x64-en.msp"
PATCH_VARS = {"exchange_patch_target": TARGET, "exchange_patch_esu_enrolled": True,
              "exchange_patch_poll_interval": 0.3, "exchange_patch_gate_timeout": 4,
              "exchange_patch_reboot_timeout": 60, "exchange_patch_services_timeout": 4}


def _fleet():
    members = ["LM1", "LM2", "LM3"]
    servers = [{"name": n, "build": TARGET, "dag": "LDAG", "reboot_seconds": 10} for n in members]
    servers += [{"name": "LS1", "build": "15.2.1748.46", "reboot_seconds": 10},
                {"name": "LS2", "build": TARGET, "reboot_seconds": 10}]
    databases = [{"name": "LDB%d" % (i + 1), "active": members[i],
                  "copies": {m: {"activation_preference": 1 + (j - i) % 3} for j, m in enumerate(members)}}
                 for i in range(3)]
    databases += [{"name": "SDB%d" % i, "copies": {"LS%d" % i: {}}} for i in (1, 2)]
    return {"lab": {"installer_seconds": {"su": 15}},
            "organizations": [{"name": "Contoso", "esu_enrolled": True}], "dags": [{"name": "LDAG"}],
            "repository": {"packages": [{"name": SU_MSP, "size_kb": 64}]},
            "servers": servers, "databases": databases}


def _run(lab, tmp_path, playbook, *extra, name="run"):
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / ("reports-" + name)
    result = run_playbook(inventory, playbook, "-e", "exchange_report_dir=%s" % reports, *extra)
    return result, reports


def _rows(path):
    with open(path, encoding="utf-8") as handle:
        return {s["name"]: s for s in json.load(handle)["servers"]}


def _out(result):
    return result.stdout[-5000:] + result.stderr[-2000:]


def test_patch_limited_to_one_server_reports_it_and_fails_on_its_failure(lab_factory, tmp_path):
    # LS1 cannot stage (disk full): the report, the console summary and the
    # final failure must all run although localhost is not in the limit.
    lab = lab_factory(_fleet())
    lab.set_faults("LS1", {"disk_full": True})
    result, reports = _run(lab, tmp_path, "playbooks/patch.yml", "--limit", "LS1", "-e", json.dumps(PATCH_VARS))
    assert result.returncode != 0, _out(result)
    rows = _rows(reports / "exchange-patch.json")
    assert set(rows) == {"LS1"}
    assert rows["LS1"]["status"] == "failed" and "disk" in rows["LS1"]["message"].lower()
    assert "Servers: 1, by outcome:" in result.stdout
    assert "1 server(s) not patched as planned: LS1" in result.stdout
    # Nobody else was touched.
    assert all(lab.stats(n)["operations"] == {} for n in ("LM1", "LM2", "LM3", "LS2"))


def test_audit_limited_to_one_dag_reports_exactly_its_members(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    result, reports = _run(lab, tmp_path, "playbooks/audit.yml", "--limit", "dag_ldag")
    assert result.returncode == 0, _out(result)
    assert set(_rows(reports / "exchange-audit.json")) == {"LM1", "LM2", "LM3"}
    assert "Servers: 3, needing updates:" in result.stdout, _out(result)


def test_no_exchange_server_in_the_run_is_a_clear_failure_and_touches_nothing(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    for playbook in ("playbooks/patch.yml", "playbooks/audit.yml", "playbooks/stage.yml"):
        result, reports = _run(lab, tmp_path, playbook, "-e", "exchange_hosts=exchnage", name=playbook[10:15])
        assert result.returncode != 0, (playbook, _out(result))
        assert "No Exchange server in this run: the host pattern exchange_hosts=exchnage matches no host" \
            in result.stdout, (playbook, _out(result))
        assert not reports.exists()
        assert "Servers: 0" not in result.stdout
    # A pattern that exists, but a limit that leaves none of it.
    result, reports = _run(lab, tmp_path, "playbooks/patch.yml", "-e", "exchange_hosts=dag_ldag", "--limit", "LS1",
                           name="limit")
    assert result.returncode != 0
    assert "exchange_hosts=dag_ldag with --limit LS1 matches no host" in result.stdout, _out(result)
    assert all(lab.stats(n)["operations"] == {} for n in ("LM1", "LM2", "LM3", "LS1", "LS2"))


def test_remediate_limited_to_one_server_reports_exactly_it(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    result, reports = _run(lab, tmp_path, "playbooks/remediate.yml", "--limit", "LS2",
                           "-e", json.dumps({"exchange_esu_enrolled": True}))
    assert result.returncode == 0, _out(result)
    assert set(_rows(reports / "exchange-remediation.json")) == {"LS2"}
    assert set(_rows(reports / "after" / "exchange-audit.json")) == {"LS2"}
    assert "Report: %s" % (reports / "exchange-remediation.html") in result.stdout


EEMS_FAST = ("-e", "exchange_eems_verify_timeout=30", "-e", "exchange_eems_verify_interval=0.5")


def _eems_rows(result):
    """The EEMS summary a person reads on the console: (counts line, {server: line})."""
    match = re.search(r'TASK \[Show the summary\].*?"msg": (\[.*?\n    \])', result.stdout, re.S)
    assert match, _out(result)
    lines = json.loads(match.group(1))
    return lines[0], {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in lines[1:]
                      if re.match(r"^[A-Z0-9-]+: ", line)}


@pytest.mark.parametrize("limit, servers", [("LS2", {"LS2"}), ("dag_ldag", {"LM1", "LM2", "LM3"})])
def test_eems_limited_summarises_exactly_the_servers_of_the_run(lab_factory, tmp_path, limit, servers):
    lab = lab_factory(_fleet())
    lab.set_faults("LS2" if limit == "LS2" else "LM2", {"unreachable": True})
    result, _ = _run(lab, tmp_path, "playbooks/eems.yml", "--limit", limit, *EEMS_FAST)
    counts, rows = _eems_rows(result)
    assert set(rows) == servers, (counts, rows)
    lost = "LS2" if limit == "LS2" else "LM2"
    assert rows[lost].startswith(("unreachable", "failed")), rows[lost]
    # The final check runs too: the lost server fails the job, by name.
    assert result.returncode != 0
    assert "EEMS could not be handled on %s;" % lost in result.stdout, _out(result)
    others = {"LM1", "LM2", "LM3", "LS1", "LS2"} - servers
    assert all(lab.stats(n)["operations"] == {} for n in others)


@pytest.mark.parametrize("limit, servers", [("LS1", {"LS1"}), ("dag_ldag", {"LM1", "LM2", "LM3"})])
def test_mitigate_limited_reports_exactly_the_servers_of_the_run(lab_factory, tmp_path, limit, servers):
    lab = lab_factory(_fleet())
    result, reports = _run(lab, tmp_path, "playbooks/mitigate.yml", "--limit", limit)
    assert result.returncode == 0, _out(result)
    rows = _rows(reports / "exchange-protection.json")
    assert set(rows) == servers
    assert all(row["status"] == "checked" for row in rows.values()), rows
    assert "Report: %s" % (reports / "exchange-protection.html") in result.stdout
    others = {"LM1", "LM2", "LM3", "LS1", "LS2"} - servers
    assert all(lab.stats(n)["operations"] == {} for n in others)


def test_no_exchange_server_fails_eems_mitigate_preflight_and_watch_clearly(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    for playbook in ("playbooks/eems.yml", "playbooks/mitigate.yml", "playbooks/preflight.yml",
                     "playbooks/eems_watch.yml"):
        result, reports = _run(lab, tmp_path, playbook, "-e", "exchange_hosts=dag_lgad", name=playbook[10:-4])
        assert result.returncode != 0, (playbook, _out(result))
        assert "No Exchange server in this run: the host pattern exchange_hosts=dag_lgad matches no host" \
            in result.stdout, (playbook, _out(result))
        assert not reports.exists()
        assert "TASK [Show" not in result.stdout, playbook
    assert all(lab.stats(n)["operations"] == {} for n in ("LM1", "LM2", "LM3", "LS1", "LS2"))
