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
