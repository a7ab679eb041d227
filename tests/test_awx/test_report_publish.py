"""roles/exchange_report_publish: report files uploaded from the controller to where the admin said.

Runs the role for real with ansible-playbook against a tiny upload endpoint
on 127.0.0.1 (no lab needed); the AWX-shaped run of a whole audit that
publishes is in test_estate.py.
"""
from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from labtools import run_playbook

from uploadserver import UploadServer

PLAYBOOK = [{
    "name": "Publish some reports",
    "hosts": "localhost",
    "connection": "local",
    "gather_facts": False,
    "tasks": [{
        "name": "Publish",
        "ansible.builtin.include_role": {"name": "onprem.exchange.exchange_report_publish"},
        "vars": {"exchange_report_publish_kind": "audit",
                 "exchange_report_publish_files": "{{ report_files }}"},
    }],
}]


@pytest.fixture
def reports(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    files = {"html": folder / "exchange-audit.html", "json": folder / "exchange-audit.json"}
    files["html"].write_text("<html><body>EXSE1 up to date</body></html>", encoding="utf-8")
    files["json"].write_text(json.dumps({"servers": [{"name": "EXSE1"}]}), encoding="utf-8")
    playbook = tmp_path / "publish.yml"
    playbook.write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False), encoding="utf-8")
    variables = tmp_path / "vars.json"
    return {"playbook": str(playbook), "files": {k: str(v) for k, v in files.items()}, "vars": variables,
            # Not localhost itself: the implicit localhost runs uri with this
            # interpreter, as the lab inventory and AWX's inventories do.
            "inventory": "unused.invalid,"}


def _run(reports, *options, **publish):
    data = {"report_files": reports["files"]}
    data.update(publish)
    reports["vars"].write_text(json.dumps(data), encoding="utf-8")
    return run_playbook(reports["inventory"], reports["playbook"], "-e", "@" + str(reports["vars"]), "-vvv",
                        *options, timeout=120)


def test_put_uploads_every_file_into_the_job_folder_and_says_where(reports):
    with UploadServer() as server:
        result = _run(reports, exchange_report_publish_url=server.url + "/exchange/",
                      exchange_report_publish_username=server.username,
                      exchange_report_publish_password=server.password, awx_job_id=4711)
    assert result.returncode == 0, result.stdout[-3000:]
    assert set(server.files) == {"/exchange/4711/exchange-audit.html", "/exchange/4711/exchange-audit.json"}
    content_type, body = server.files["/exchange/4711/exchange-audit.html"]
    assert body == b"<html><body>EXSE1 up to date</body></html>" and content_type.startswith("text/html")
    assert json.loads(server.files["/exchange/4711/exchange-audit.json"][1])["servers"][0]["name"] == "EXSE1"
    assert "Audit reports published to %s/exchange/4711/" % server.url in result.stdout
    assert server.password not in result.stdout + result.stderr


def test_check_mode_publishes_too(reports):
    """The audit runs as an AWX check job; its report is output, not managed state."""
    with UploadServer() as server:
        result = _run(reports, "--check", exchange_report_publish_url=server.url + "/exchange",
                      exchange_report_publish_username=server.username,
                      exchange_report_publish_password=server.password, awx_job_id=5)
    assert result.returncode == 0, result.stdout[-3000:]
    assert set(server.files) == {"/exchange/5/exchange-audit.html", "/exchange/5/exchange-audit.json"}


def test_post_sends_multipart_forms(reports):
    with UploadServer() as server:
        result = _run(reports, exchange_report_publish_url=server.url + "/upload",
                      exchange_report_publish_method="POST", exchange_report_publish_folder="audit-nightly",
                      exchange_report_publish_username=server.username,
                      exchange_report_publish_password=server.password)
    assert result.returncode == 0, result.stdout[-3000:]
    assert set(server.files) == {"/upload/audit-nightly/exchange-audit.html", "/upload/audit-nightly/exchange-audit.json"}
    assert server.files["/upload/audit-nightly/exchange-audit.json"][0] == "application/json"


def test_refused_upload_fails_naming_file_address_and_answer_without_the_password(reports):
    wrong = "Wr0ng-Passw0rd-xyz"
    with UploadServer() as server:
        result = _run(reports, exchange_report_publish_url=server.url + "/exchange",
                      exchange_report_publish_username=server.username,
                      exchange_report_publish_password=wrong, awx_job_id=12)
    assert result.returncode != 0
    assert server.files == {} and len(server.refused) == 2
    assert "Could not publish to %s/exchange/12/ with PUT" % server.url in result.stdout
    assert "exchange-audit.html: HTTP 401" in result.stdout
    assert wrong not in result.stdout + result.stderr


def test_credentials_in_the_address_are_refused_before_anything_is_sent(reports):
    with UploadServer() as server:
        address = server.url.replace("http://", "http://reports:Hidden-Pw-99@") + "/exchange"
        result = _run(reports, exchange_report_publish_url=address)
    assert result.returncode != 0
    assert "exchange_report_publish_url must be an http:// or https:// address without credentials" in result.stdout
    assert "Hidden-Pw-99" not in result.stdout + result.stderr
    assert server.files == {} and server.refused == []


# -- reading a published file back (tasks_from: fetch) ---------------------------

FETCH = [{
    "name": "Read a published file back",
    "hosts": "localhost",
    "connection": "local",
    "gather_facts": False,
    "tasks": [
        {"name": "Fetch", "ansible.builtin.include_role": {"name": "onprem.exchange.exchange_report_publish",
                                                          "tasks_from": "fetch"}},
        {"name": "Show", "ansible.builtin.debug": {"msg": "FETCHED {{ exchange_report_publish_fetched | to_json }}"}},
    ],
}]


def _fetch(tmp_path, **variables):
    playbook = tmp_path / "fetch.yml"
    playbook.write_text(yaml.safe_dump(FETCH, sort_keys=False), encoding="utf-8")
    (tmp_path / "fetch-vars.json").write_text(json.dumps(variables), encoding="utf-8")
    result = run_playbook("unused.invalid,", str(playbook), "-e", "@" + str(tmp_path / "fetch-vars.json"),
                          "--check", timeout=120)
    match = [line for line in result.stdout.splitlines() if "FETCHED " in line]
    return result, (json.loads(match[0].split("FETCHED ", 1)[1].rstrip('"').replace('\\"', '"')) if match else None)


def test_fetch_reads_back_a_published_history_and_says_when_there_is_none_yet(tmp_path):
    dest = tmp_path / "history.json"
    with UploadServer() as server:
        common = {"exchange_report_publish_url": server.url + "/exchange/",
                  "exchange_report_publish_username": server.username,
                  "exchange_report_publish_password": server.password,
                  "exchange_report_fetch_name": "eems-watch/history.json", "exchange_report_fetch_dest": str(dest)}
        first, fetched = _fetch(tmp_path, **common)
        assert first.returncode == 0, first.stdout[-3000:]
        assert fetched == {"found": False, "location": server.url + "/exchange/eems-watch/history.json", "path": None}
        assert not dest.exists()
        # Nothing published yet: a history already kept locally stays as it was.
        dest.write_text('{"runs": 1}', encoding="utf-8")
        _fetch(tmp_path, **common)
        assert dest.read_text(encoding="utf-8") == '{"runs": 1}' and not os.path.exists(str(dest) + ".partial")
        server.files["/exchange/eems-watch/history.json"] = ("application/json", b'{"runs": 3}')
        second, fetched = _fetch(tmp_path, **common)
        assert second.returncode == 0, second.stdout[-3000:]
        assert fetched["found"] is True and fetched["path"] == str(dest)
        assert json.loads(dest.read_text(encoding="utf-8")) == {"runs": 3}
        wrong, _ = _fetch(tmp_path, **dict(common, exchange_report_publish_password="Wr0ng-Pw-777"))
    assert wrong.returncode != 0
    assert "Could not read eems-watch/history.json back from %s/exchange/: HTTP 401" % server.url in wrong.stdout
    assert "Wr0ng-Pw-777" not in wrong.stdout + wrong.stderr and server.password not in first.stdout + second.stdout


def test_one_run_publishing_twice_keeps_one_folder_from_a_shell(tmp_path, reports):
    """Without AWX's job id the folder is the run's UTC time, named once, so
    remediate's before/after audits and its own report land side by side."""
    twice = [dict(PLAYBOOK[0], tasks=[
        dict(PLAYBOOK[0]["tasks"][0], vars={"exchange_report_publish_kind": "audit",
                                            "exchange_report_publish_subfolder": sub,
                                            "exchange_report_publish_files": "{{ report_files }}"})
        for sub in ("before", "after")])]
    # A second between them, as between remediate's audits: the clock moves on, the folder must not.
    twice[0]["tasks"].insert(1, {"name": "A second later", "ansible.builtin.pause": {"seconds": 1}})
    (tmp_path / "twice.yml").write_text(yaml.safe_dump(twice, sort_keys=False), encoding="utf-8")
    reports["playbook"] = str(tmp_path / "twice.yml")
    with UploadServer() as server:
        result = _run(reports, exchange_report_publish_url=server.url + "/exchange",
                      exchange_report_publish_username=server.username,
                      exchange_report_publish_password=server.password)
    assert result.returncode == 0, result.stdout[-3000:]
    folders = {path.rsplit("/", 2)[0] for path in server.files}
    assert len(folders) == 1 and re.fullmatch(r"/exchange/\d{8}T\d{6}Z", folders.pop())
    assert {path.rsplit("/", 2)[1] for path in server.files} == {"before", "after"} and len(server.files) == 4


def test_a_failed_audit_still_publishes_its_report_naming_the_unreachable_server(lab_factory, tmp_path):
    """The job goes red because a server could not be audited; the report that
    says so is on the endpoint anyway (published before the final check)."""
    lab = lab_factory({"servers": [{"name": "EXSE1", "build": "15.2.2562.53"}]})
    inventory = lab.inventory()
    hosts = inventory["all"]["children"]["exchange"]["hosts"]
    # A server whose WinRM listener is gone: nothing answers on its port.
    hosts["EXGONE"] = dict(hosts["EXSE1"], ansible_port=9)
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
    with UploadServer() as server:
        (tmp_path / "vars.json").write_text(json.dumps({
            "exchange_report_dir": str(tmp_path / "reports"), "awx_job_id": 77,
            "exchange_report_publish_url": server.url + "/exchange",
            "exchange_report_publish_username": server.username,
            "exchange_report_publish_password": server.password}), encoding="utf-8")
        result = run_playbook(str(path), "playbooks/audit.yml", "-e", "@" + str(tmp_path / "vars.json"), timeout=300)
    assert result.returncode != 0
    assert "1 server(s) unreachable (EXGONE)" in " ".join(result.stdout.split())
    report = json.loads(server.files["/exchange/77/exchange-audit.json"][1])
    assert {s["name"] for s in report["servers"]} == {"EXSE1", "EXGONE"}
    assert "Audit reports published to %s/exchange/77/" % server.url in result.stdout


def test_the_eems_watch_keeps_its_history_on_the_endpoint_across_deleted_job_folders(lab_factory, tmp_path):
    """Each run starts in an empty folder, as an AWX job does; the second run
    still compares with the first because the history came back from the endpoint."""
    from labtools import write_inventory
    lab = lab_factory({"organizations": [{"name": "Contoso", "mitigations_enabled": True}],
                       "servers": [{"name": name, "build": "15.2.2562.53"} for name in ("EXSE1", "EXSE2")]})
    for name in ("EXSE1", "EXSE2"):
        assert lab.run_eems_check(name)["id"] == 1005
    inventory = write_inventory(lab, str(tmp_path / "inventory.yml"))

    def watch(job_id, server):
        folder = tmp_path / ("job%d" % job_id)
        (tmp_path / "vars.json").write_text(json.dumps({
            "exchange_report_dir": str(folder), "awx_job_id": job_id,
            "exchange_report_publish_url": server.url + "/exchange",
            "exchange_report_publish_username": server.username,
            "exchange_report_publish_password": server.password}), encoding="utf-8")
        result = run_playbook(inventory, "playbooks/eems_watch.yml", "-e", "@" + str(tmp_path / "vars.json"),
                              timeout=300)
        assert result.returncode == 0, result.stdout[-3000:]
        import shutil
        shutil.rmtree(str(folder))  # the job ends, its folder goes
        return " ".join(result.stdout.split())

    with UploadServer() as server:
        first = watch(1, server)
        assert "first run: baseline recorded" in first
        assert json.loads(server.files["/exchange/eems-watch/eems-watch-history.json"][1])["servers"]
        with lab.state.lock:
            lab.state.server("EXSE2")["services"]["MSExchangeMitigation"]["state"] = "Stopped"
        second = watch(2, server)
    assert "first run" not in second
    assert "ALERT EXSE2 [service_stopped]" in second
    assert server.password not in first + second
