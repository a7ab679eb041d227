"""Reports published to a file share through a Windows host of the inventory
(exchange_report_publish_url as \\\\server\\share): the role, the
report_share action and Publish-ReportFile over the lab's real WinRM."""
from __future__ import annotations

import json
import os

import pytest
import yaml

from labtools import run_playbook

from lab.operations.publish_report_file import report_share_path

SHARE = "\\\\fs01.lab.contoso.test\\Reports\\exchange"
ACCOUNT = {"username": "LAB\\svc-exreports", "password": "Share-Pw-4711"}
PLAYBOOK = [{
    "name": "Publish some reports",
    "hosts": "localhost",
    "connection": "local",
    "gather_facts": False,
    "tasks": [{
        "name": "Publish",
        "ansible.builtin.include_role": {"name": "onprem.exchange.exchange_report_publish"},
        "vars": {"exchange_report_publish_kind": "audit", "exchange_report_publish_files": "{{ report_files }}"},
    }],
}]


@pytest.fixture
def share_lab(lab_factory, tmp_path):
    lab = lab_factory({"lab": {"report_share": ACCOUNT},
                       "servers": [{"name": "EXSE1", "build": "15.2.2562.53"},
                                   {"name": "EXSE2", "build": "15.2.2562.53"}]})
    folder = tmp_path / "reports"
    folder.mkdir()
    files = {"html": folder / "exchange-audit.html", "json": folder / "exchange-audit.json"}
    files["html"].write_bytes("<html><body>EXSE1 \u2713 up to date</body></html>".encode("utf-8"))
    files["json"].write_text(json.dumps({"servers": [{"name": "EXSE1"}]}), encoding="utf-8")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(lab.inventory(), sort_keys=False), encoding="utf-8")
    playbook = tmp_path / "publish.yml"
    playbook.write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False), encoding="utf-8")
    return {"lab": lab, "files": {k: str(v) for k, v in files.items()}, "inventory": str(inventory),
            "playbook": str(playbook), "tmp": tmp_path}


def _run(ctx, **variables):
    data = dict({"report_files": ctx["files"], "exchange_report_publish_url": SHARE}, **variables)
    (ctx["tmp"] / "vars.json").write_text(json.dumps(data), encoding="utf-8")
    return run_playbook(ctx["inventory"], ctx["playbook"], "-e", "@" + str(ctx["tmp"] / "vars.json"), "-vvv",
                        timeout=300)


def _shown(text):
    """How Ansible's output shows a message: JSON, backslashes doubled."""
    return json.dumps(text)[1:-1]


def _writes(lab):
    return sum(lab.stats(name)["operations"].get("Publish-ReportFile", 0) for name in lab.endpoints)


def test_reports_land_on_the_share_under_the_job_folder_written_by_one_exchange_server(share_lab):
    lab = share_lab["lab"]
    result = _run(share_lab, awx_job_id=31, exchange_report_publish_host="EXSE2",
                  exchange_report_publish_username=ACCOUNT["username"],
                  exchange_report_publish_password=ACCOUNT["password"])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    folder = report_share_path(lab, SHARE + "\\31")
    for kind, path in share_lab["files"].items():
        with open(os.path.join(folder, os.path.basename(path)), "rb") as written, open(path, "rb") as sent:
            assert written.read() == sent.read(), kind
    assert _shown("Audit reports published to %s\\31\\ (exchange-audit.html, exchange-audit.json)" % SHARE) \
        in " ".join(result.stdout.split())
    # The host named wrote them, through the host-call path, once per file.
    assert lab.stats("EXSE2")["operations"]["Publish-ReportFile"] == 2 and _writes(lab) == 2
    assert ACCOUNT["password"] not in result.stdout + result.stderr


def test_without_the_shares_account_the_second_hop_is_refused_and_the_job_says_where(share_lab):
    result = _run(share_lab, awx_job_id=32)
    assert result.returncode != 0
    text = " ".join(result.stdout.split())
    assert _shown("could not write exchange-audit.html to %s\\32\\ through EXSE1" % SHARE) in text
    assert "Access to the path" in text and "is denied" in text
    assert not os.path.exists(report_share_path(share_lab["lab"], SHARE + "\\32\\exchange-audit.html"))


def test_a_wrong_share_password_fails_without_showing_it(share_lab):
    wrong = "Not-The-Share-Pw-1"
    result = _run(share_lab, awx_job_id=33, exchange_report_publish_username=ACCOUNT["username"],
                  exchange_report_publish_password=wrong)
    assert result.returncode != 0
    assert "The user name or password is incorrect" in result.stdout
    assert wrong not in result.stdout + result.stderr


@pytest.mark.parametrize("share, folder, message", [
    ("\\\\fs01", None, "share must name a server and a share"),
    (SHARE + "\\..\\admin$", None, "'..' is not a valid folder or file name"),
    (SHARE, "../../etc", "folder: '..' is not a valid folder or file name"),
])
def test_a_path_that_leaves_the_share_is_refused_before_any_host_call(share_lab, share, folder, message):
    extra = {"exchange_report_publish_folder": folder} if folder else {}
    result = _run(share_lab, exchange_report_publish_url=share, **extra)
    assert result.returncode != 0
    assert message in result.stdout
    assert _writes(share_lab["lab"]) == 0


def test_the_eems_watch_keeps_its_history_on_the_share_across_deleted_job_folders(share_lab, tmp_path):
    """The hourly watch with a \\\\server\\share: each AWX job starts in a folder of
    its own that is gone afterwards; the Windows host reads the last history
    back from the share, so the second job raises what changed in between."""
    import shutil
    lab = share_lab["lab"]
    for name in ("EXSE1", "EXSE2"):
        assert lab.run_eems_check(name)["id"] == 1005

    def job(job_id):
        folder = tmp_path / ("job%d" % job_id)
        (tmp_path / "watch.json").write_text(json.dumps({
            "awx_job_id": job_id, "exchange_report_dir": str(folder), "exchange_report_publish_url": SHARE,
            "exchange_report_publish_host": "EXSE2", "exchange_report_publish_username": ACCOUNT["username"],
            "exchange_report_publish_password": ACCOUNT["password"]}), encoding="utf-8")
        before = {name: lab.stats(name)["operations"] for name in lab.endpoints}
        result = run_playbook(share_lab["inventory"], "playbooks/eems_watch.yml", "-e",
                              "@" + str(tmp_path / "watch.json"), timeout=300)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        shutil.rmtree(str(folder))  # the job ends, its folder goes
        calls = {name: {op: n - before[name].get(op, 0) for op, n in lab.stats(name)["operations"].items()
                        if n - before[name].get(op, 0)} for name in lab.endpoints}
        return " ".join(result.stdout.split()), calls

    first, calls = job(51)
    assert "first run: baseline recorded" in first
    # One read of the share (nothing there yet) and one write, both by the host named; one observation each.
    assert calls == {"EXSE1": {"Get-EemsState": 1},
                     "EXSE2": {"Get-EemsState": 1, "Get-ReportFile": 1, "Publish-ReportFile": 1}}, calls
    history = report_share_path(lab, SHARE + "\\eems-watch\\eems-watch-history.json")
    assert sorted(json.loads(open(history, encoding="utf-8").read())["servers"]) == ["EXSE1", "EXSE2"]

    with lab.state.lock:
        lab.state.server("EXSE1")["services"]["MSExchangeMitigation"]["start_mode"] = "Disabled"
    second, _ = job(52)
    assert "first run" not in second
    assert "ALERT EXSE1 [service_disabled]" in second and "1 alert(s), 0 notice(s)" in second
    third, _ = job(53)
    assert "0 alert(s), 0 notice(s)" in third
    assert ACCOUNT["password"] not in first + second + third


def test_reading_the_history_back_without_the_shares_account_fails_naming_the_share_and_host(share_lab, tmp_path):
    (tmp_path / "watch.json").write_text(json.dumps({
        "exchange_report_dir": str(tmp_path / "job"), "exchange_report_publish_url": SHARE}), encoding="utf-8")
    result = run_playbook(share_lab["inventory"], "playbooks/eems_watch.yml", "-e", "@" + str(tmp_path / "watch.json"),
                          timeout=300)
    assert result.returncode != 0
    text = " ".join(result.stdout.split())
    assert _shown("could not read %s\\eems-watch\\eems-watch-history.json through EXSE1" % SHARE) in text
    assert "Access to the path" in text and "is denied" in text


@pytest.mark.parametrize("tasks_from, said", [
    ("main", "Publishing to %s needs a Windows host of the inventory to write the files" % SHARE),
    ("fetch", "Reading back from %s needs a Windows host of the inventory to read the file" % SHARE),
])
def test_a_share_without_a_windows_host_to_reach_it_is_refused_saying_what_to_set(tmp_path, tasks_from, said):
    playbook = [dict(PLAYBOOK[0], tasks=[{
        "name": "Publish or read back",
        "ansible.builtin.include_role": {"name": "onprem.exchange.exchange_report_publish", "tasks_from": tasks_from},
        "vars": {"exchange_report_publish_kind": "audit", "exchange_report_publish_files": {"json": "/nowhere.json"},
                 "exchange_report_fetch_name": "eems-watch/eems-watch-history.json",
                 "exchange_report_fetch_dest": str(tmp_path / "history.json")},
    }])]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(playbook, sort_keys=False), encoding="utf-8")
    (tmp_path / "vars.json").write_text(json.dumps({"exchange_report_publish_url": SHARE}), encoding="utf-8")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("localhost\n", encoding="utf-8")
    result = run_playbook(str(inventory), str(tmp_path / "play.yml"), "-e", "@" + str(tmp_path / "vars.json"))
    assert result.returncode != 0
    text = " ".join(result.stdout.split())
    assert _shown(said) in text and "set exchange_report_publish_host, or have an 'exchange' group" in text, text[-2000:]
