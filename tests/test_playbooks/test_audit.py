"""playbooks/audit.yml against the default lab fleet: the report a person reads."""
from __future__ import annotations

import json

import pytest

from labtools import recap, run_playbook, start_lab, write_inventory
from lab.fleet import load_fleet

PLAYBOOK = "playbooks/audit.yml"

# What an Exchange admin should read for each server of the default fleet
# (facts of 2026-11-26): state, product, update, EEMS status and cause.
EXPECTED = {
    "EX13A": ("audited", "Exchange 2013", "Mar23SU", "not_applicable", "not_applicable"),
    "EX16A": ("audited", "Exchange 2016", "Nov22SU", "not_working", "build_before_march_2023"),
    "EX16B": ("audited", "Exchange 2016", "Jan23SU", "not_working", "build_before_march_2023"),
    "EX16C": ("audited", "Exchange 2016", "Feb26SU", "not_working", "build_before_june_2026"),
    "EX19A": ("audited", "Exchange 2019", "Mar23SU", "not_working", "build_before_june_2026"),
    "EX19B": ("audited", "Exchange 2019", "Feb26SU", "not_working", "build_before_june_2026"),
    "EX19C": ("audited", "Exchange 2019", "Jun26SU", "working", None),
    "EX19D": ("audited", "Exchange 2019", "Sep26SUv2", "working", None),
    "EX19E": ("audited", "Exchange 2019", "Nov24SUv2", "not_working", "setup_incomplete"),
    "EX19P": ("audited", "Exchange 2019", "Oct25SU", "not_working", "tls_inspecting_proxy"),
    "EXSE1": ("audited", "Exchange SE", "Sep26SUv2", "working", None),
    "FBEX01": ("audited", "Exchange SE", "Aug26SU", "disabled", "disabled_at_organization"),
}


@pytest.fixture(scope="module")
def audited_lab(tmp_path_factory):
    # Lab time stands still here, so two audits minutes apart (on a busy
    # machine) see the same estate and must write the same report.
    fleet = load_fleet()
    fleet["lab"]["clock_factor"] = 0
    # EX19A lacks the Visual C++ 2013 runtime that Setup's readiness check needs for its planned CU.
    next(s for s in fleet["servers"] if s["name"] == "EX19A")["setup_prerequisites"]["vcredist2013"] = None
    lab = start_lab(tmp_path_factory.mktemp("audit-lab"), fleet)
    # The Mitigation Service has run once everywhere, as it would have within the hour.
    for name in lab.endpoints:
        lab.run_eems_check(name)
    yield lab
    lab.stop()


def _audit(lab, tmp_path, *extra, env=None):
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    reports = tmp_path / "reports"
    result = run_playbook(inventory, PLAYBOOK, "-e", "exchange_report_dir=%s" % reports, *extra, env=env)
    return result, reports


def _report(reports):
    with open(reports / "exchange-audit.json", encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.smoke
def test_audit_reports_every_server_as_an_admin_would_read_it(audited_lab, tmp_path):
    result, reports = _audit(audited_lab, tmp_path, env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = _report(reports)
    rows = {s["name"]: s for s in report["servers"]}
    assert set(rows) == set(EXPECTED)
    for name, (state, product, update, eems, cause) in EXPECTED.items():
        row = rows[name]
        assert (row["status"], row["product"], row["update"], row["eems_status"], row["eems_cause"]) == \
            (state, product, update, eems, cause), name
    assert rows["EX16A"]["next_steps"].startswith("CU23")
    assert rows["EX19E"]["next_steps"] == "reboot → finish Setup"
    assert rows["EXSE1"]["next_steps"] == "none"
    # The missing Visual C++ 2013 runtime is a critical finding there (its plan runs Setup), with the package
    # to install; no other server has a Setup prerequisite finding.
    [vc2013] = [f for f in rows["EX19A"]["findings"] if f["id"] == "setup_prerequisite_missing"]
    assert vc2013["severity"] == "critical" and "Visual Studio 2013 is not installed" in vc2013["message"]
    assert vc2013["remedy"].startswith("Install Visual C++ Redistributable Package for Visual Studio 2013")
    assert [n for n, row in rows.items() if any(f["id"].startswith("setup_prerequisite") for f in row["findings"])] \
        == ["EX19A"]
    summary = report["summary"]
    assert summary["by_eems_status"] == {"working": 3, "not_working": 7, "disabled": 1, "not_applicable": 1,
                                         "unknown": 0}
    for extension in ("html", "json", "csv", "md"):
        assert (reports / ("exchange-audit." + extension)).stat().st_size > 0
    html = (reports / "exchange-audit.html").read_text(encoding="utf-8")
    assert "EX19P" in html and "TLS inspection" in html
    assert "exchange_audit_summary" in result.stdout  # set_stats, for AWX
    assert "Report: %s" % (reports / "exchange-audit.html") in result.stdout


def test_second_run_changes_nothing_and_rewrites_nothing(audited_lab, tmp_path):
    first, reports = _audit(audited_lab, tmp_path)
    assert first.returncode == 0
    stamp = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in reports.iterdir()}
    second, _ = _audit(audited_lab, tmp_path)
    assert second.returncode == 0
    assert all(r["changed"] == 0 for r in recap(second.stdout).values())
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in reports.iterdir()} == stamp


def test_check_mode_gives_the_same_report(audited_lab, tmp_path):
    real, reports = _audit(audited_lab, tmp_path)
    real_report = _report(reports)
    check, check_reports = _audit(audited_lab, tmp_path / "check", "--check")
    assert check.returncode == 0
    assert _report(check_reports)["servers"] == real_report["servers"]
    # Nothing but reads reached the hosts.
    for name in audited_lab.endpoints:
        assert set(audited_lab.stats(name)["operations"]) <= {"Get-ExchangeFacts", "Get-HostIdentity", "<generic>"}


def test_unreachable_server_is_in_the_report_and_fails_the_job(lab_factory, tmp_path):
    lab = lab_factory()
    lab.set_faults("EX16A", {"slow_reboot_seconds": 36000})
    lab.reboot("EX16A", "test")
    result, reports = _audit(lab, tmp_path, "--limit", "EX16A,EX19C,localhost", env={"ANSIBLE_TIMEOUT": "5"})
    assert result.returncode != 0
    rows = {s["name"]: s for s in _report(reports)["servers"]}
    assert rows["EX16A"]["status"] == "unreachable" and rows["EX16A"]["error"]
    assert rows["EX19C"]["status"] == "audited"
    assert "1 server(s) unreachable (EX16A)" in result.stdout


def test_a_host_answering_garbage_fails_alone(lab_factory, tmp_path, monkeypatch):
    lab = lab_factory()
    # Make one host's facts unreadable: its ExSetup version is not a build.
    lab.state.server("EX19D")["build"] = "15.2.9999.1"
    original = lab.host_backend.models["Get-ExchangeFacts"]

    def broken(ctx, args):
        outcome = original(ctx, args)
        if ctx.server["name"] == "EX19C":
            outcome["data"]["setup"]["exsetup_version"] = "not-a-build"
        return outcome

    monkeypatch.setitem(lab.host_backend.models, "Get-ExchangeFacts", broken)
    result, reports = _audit(lab, tmp_path, "--limit", "EX19B,EX19C,EX19D,localhost")
    rows = {s["name"]: s for s in _report(reports)["servers"]}
    assert rows["EX19C"]["status"] == "failed" and "not-a-build" in rows["EX19C"]["error"]
    assert rows["EX19B"]["status"] == "audited"
    # A build newer than the catalog is a finding, never a crash.
    assert rows["EX19D"]["status"] == "audited"
    assert result.returncode != 0


def test_no_secret_in_output_at_high_verbosity(audited_lab, tmp_path):
    password = audited_lab.state.data["lab"]["credential"]["password"]
    result, reports = _audit(audited_lab, tmp_path, "-vvvv", "--limit", "EX19B,EX13A,localhost")
    assert result.returncode == 0, result.stdout[-2000:]
    assert password not in result.stdout + result.stderr
    for path in reports.iterdir():
        assert password not in path.read_text(encoding="utf-8")
