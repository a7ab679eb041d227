"""examples/estate: the estate's own repository, with onprem.exchange installed from a built tarball.

What AWX does, done here without AWX:
- project sync: the estate repository is checked out (a copy of
  examples/estate) and collections/requirements.yml is installed into a
  collections folder of its own - here the collection tarball built from this
  checkout with `ansible-galaxy collection build`, installed with
  `ansible-galaxy collection install -p`, never the in-place .collections link;
- the job: ansible-runner with a private data directory laid out as AWX lays
  it out (inventory, extravars with the credential-injected variables, the
  Machine credential as -u/--ask-pass), run from the project copy so its
  ansible.cfg applies; the directory is deleted when the job ends.
The thin playbooks import onprem.exchange's by FQCN; the reports the audit
wrote are found afterwards on the upload endpoint the admin named.
"""
from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

from labtools import REPO_ROOT

from uploadserver import UploadServer

ansible_runner = pytest.importorskip("ansible_runner")

from awxjob import run_awx_job  # noqa: E402 (after the skip when ansible-runner is absent)

ESTATE = os.path.join(REPO_ROOT, "examples", "estate")
BIN = os.path.dirname(sys.executable)
JOB_ID = 31


def _galaxy(*args, cwd):
    env = dict(os.environ)
    env.pop("ANSIBLE_CONFIG", None)  # cwd is a folder of the test's, with no ansible.cfg
    result = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=300, check=False, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The collection built into a tarball and installed where AWX would put
    it at project sync; the estate repository copied as AWX checks it out."""
    root = tmp_path_factory.mktemp("estate")
    dist = root / "dist"
    _galaxy("build", "--output-path", str(dist), REPO_ROOT, cwd=str(root))
    (tarball,) = glob.glob(str(dist / "onprem-exchange-*.tar.gz"))
    collections = root / "requirements_collections"
    _galaxy("install", tarball, "-p", str(collections), cwd=str(root))
    installed_at = collections / "ansible_collections" / "onprem" / "exchange"
    assert installed_at.is_dir() and not installed_at.is_symlink()
    assert (installed_at / "playbooks" / "audit.yml").is_file()
    assert not (installed_at / "tests").exists() and not (installed_at / "examples").exists()
    project = root / "project"
    shutil.copytree(ESTATE, str(project))
    return {"collections": str(collections), "project": str(project), "installed_at": str(installed_at),
            "root": root}


def test_requirements_name_the_collection_and_the_thin_playbooks_import_it(installed):
    with open(os.path.join(ESTATE, "collections", "requirements.yml"), encoding="utf-8") as handle:
        requirements = yaml.safe_load(handle)["collections"]
    assert [r["type"] for r in requirements] == ["git"] and requirements[0]["name"].endswith("onprem.exchange.git")
    shipped = {os.path.splitext(name)[0] for name in os.listdir(os.path.join(installed["installed_at"], "playbooks"))}
    thin = glob.glob(os.path.join(ESTATE, "playbooks", "*.yml"))
    assert {"audit", "patch", "eems", "eems_watch"} <= {os.path.splitext(os.path.basename(p))[0] for p in thin}
    for path in thin:
        with open(path, encoding="utf-8") as handle:
            (play,) = yaml.safe_load(handle)
        name = os.path.splitext(os.path.basename(path))[0]
        assert play["ansible.builtin.import_playbook"] == "onprem.exchange." + name, path
        assert name in shipped, "%s imports a playbook the installed collection does not have" % path


def test_the_thin_playbooks_parse_against_the_installed_collection(installed):
    """--syntax-check resolves every import_playbook by FQCN from the installed tarball."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=installed["collections"], ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    playbooks = sorted(os.listdir(os.path.join(installed["project"], "playbooks")))
    assert {"audit.yml", "patch.yml", "eems.yml", "eems_watch.yml", "remediate.yml"} <= set(playbooks)
    result = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check",
                             *["playbooks/" + p for p in playbooks]], cwd=installed["project"], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # With the collection absent, the same check fails: the import really resolves through it.
    env["ANSIBLE_COLLECTIONS_PATH"] = str(installed["root"] / "empty")
    result = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", "playbooks/audit.yml"],
                            cwd=installed["project"], env=env, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode != 0 and "onprem.exchange.audit" in result.stdout + result.stderr


def _private_data_dir(lab, root, project, extravars, collections):
    """An AWX job's private data directory: the inventory AWX built from its
    inventory source (the lab's hosts, plus the estate's group_vars/all it
    imported), the credentials AWX injects, nothing in the inventory secret."""
    inventory = lab.inventory()
    exchange_vars = inventory["all"]["children"]["exchange"]["vars"]
    username = exchange_vars.pop("ansible_user")
    password = exchange_vars.pop("ansible_password")
    os.makedirs(os.path.join(root, "env"))
    shutil.copytree(os.path.join(project, "inventory", "group_vars", "all"),
                    os.path.join(root, "inventory", "group_vars", "all"))
    with open(os.path.join(root, "inventory", "hosts.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(inventory, handle, sort_keys=False)
    files = {
        "extravars": extravars,
        "passwords": {r"^SSH [pP]assword:\s*?$": password},
        # The audit template's job type is check: AWX adds --check.
        "cmdline": "-u %s --ask-pass --check" % shlex.quote(username),
        "envvars": {"PATH": BIN + os.pathsep + os.environ.get("PATH", ""), "ANSIBLE_NOCOLOR": "1",
                    # AWX puts the collections it installed at project sync first.
                    "ANSIBLE_COLLECTIONS_PATH": collections,
                    "ANSIBLE_LOCAL_TEMP": os.path.join(root, ".ansible-tmp")},
        "settings": {"idle_timeout": 600, "job_timeout": 900, "pexpect_timeout": 5},
    }
    for name, content in files.items():
        with open(os.path.join(root, "env", name), "w", encoding="utf-8") as handle:
            handle.write(content if isinstance(content, str) else json.dumps(content))
    return password


@pytest.fixture(scope="module")
def audit_job(installed, default_lab):
    for name in default_lab.endpoints:
        default_lab.run_eems_check(name)
    root = str(installed["root"] / "job")
    with UploadServer() as server:
        extravars = {
            "exchange_target": "eems",
            # AWX sets the job id; the report lands under it.
            "awx_job_id": JOB_ID,
            "exchange_report_dir": os.path.join(root, "reports"),
            "exchange_report_publish_url": server.url + "/exchange/",
            # What the "Exchange report upload" credential injects.
            "exchange_report_publish_username": server.username,
            "exchange_report_publish_password": server.password,
        }
        password = _private_data_dir(default_lab, root, installed["project"], extravars, installed["collections"])
        runner, events, stdout = run_awx_job(root, installed["project"], "playbooks/audit.yml", "audit")
        status = (runner.status, runner.rc)
        # The job ends: AWX deletes its private data directory, reports and all.
        shutil.rmtree(root)
    return {"status": status, "events": events, "stdout": stdout, "server": server, "password": password,
            "root": root}


def test_thin_audit_runs_the_installed_collection_and_publishes_where_the_admin_said(audit_job, installed,
                                                                                    default_lab):
    assert audit_job["status"] == ("successful", 0), audit_job["stdout"][-3000:]
    events = audit_job["events"]
    facts = [e for e in events if e["event"] == "runner_on_ok"
             and e["event_data"].get("task_action") == "onprem.exchange.build_facts"]
    assert sorted(e["event_data"]["host"] for e in facts) == sorted(default_lab.endpoints)
    # The play that ran is the installed tarball's, not this checkout's.
    assert all(e["event_data"]["task_path"].startswith(installed["installed_at"] + "/playbooks/audit.yml")
               for e in facts), facts[0]["event_data"]["task_path"]

    assert not os.path.exists(audit_job["root"])
    server = audit_job["server"]
    folder = "/exchange/%d/" % JOB_ID
    assert set(server.files) == {folder + "exchange-audit." + ext for ext in ("html", "json", "csv", "md")}
    report = json.loads(server.files[folder + "exchange-audit.json"][1])
    assert sorted(s["name"] for s in report["servers"]) == sorted(default_lab.endpoints)
    assert b"EXSE1" in server.files[folder + "exchange-audit.html"][1]

    # Where they went: in the job output and in the artifacts AWX keeps.
    location = server.url + folder
    assert "Audit reports published to %s" % location in audit_job["stdout"]
    (stats,) = [e for e in events if e["event"] == "playbook_on_stats"]
    artifacts = stats["event_data"]["artifact_data"]
    assert artifacts["exchange_audit_published"]["location"] == location
    assert artifacts["exchange_audit_published"]["files"]["html"] == location + "exchange-audit.html"
    # The summary is still there for workflows and notifications.
    assert artifacts["exchange_audit_summary"]["total"] == len(default_lab.endpoints)


def test_no_winrm_or_upload_password_in_any_event(audit_job):
    secrets = (audit_job["password"], audit_job["server"].password)
    assert len(audit_job["events"]) > 20
    for event in audit_job["events"]:
        text = event.get("stdout", "") + json.dumps(event.get("event_data", {}))
        assert not any(secret in text for secret in secrets), event["event"]
    assert not any(secret in audit_job["stdout"] for secret in secrets)


# -- the patch window and EEMS through the thin playbooks ----------------------

def _estate_playbook(installed, inventory, playbook, extravars, *options):
    """ansible-playbook as a shell user of the estate repository runs it: from
    the checkout (its ansible.cfg), with the collection installed from the tarball;
    -vv prints each task's path, which tells whose playbook ran."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=installed["collections"], ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=os.path.join(os.path.dirname(inventory), ".ansible-tmp"),
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    env.pop("ANSIBLE_CONFIG", None)
    variables = os.path.join(os.path.dirname(inventory), "vars-%s.json" % os.path.basename(playbook))
    with open(variables, "w", encoding="utf-8") as handle:
        json.dump(extravars, handle)
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, playbook, "-e", "@" + variables,
                           "-vv", *options],
                          cwd=installed["project"], env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def _task_paths(stdout):
    """The playbook files the tasks came from (-vv's "task path:" lines)."""
    return {line.split("task path:", 1)[1].strip().rsplit(":", 1)[0]
            for line in stdout.splitlines() if "task path:" in line}


def test_thin_patch_then_eems_patch_the_dag_and_switch_eems_on(installed, lab_factory, tmp_path):
    from test_runner_patch_and_slicing import TARGET, _extravars, _fleet
    hosts = ("PM1", "PM2", "PM3", "PS1")
    fleet = _fleet({"PM1": "15.2.1748.46", "PM2": "15.2.1748.46", "PM3": "15.2.1748.46", "PS1": "15.2.1748.39"})
    fleet["organizations"][0]["mitigations_enabled"] = False
    lab = lab_factory(fleet)
    inventory = str(tmp_path / "inventory.yml")
    with open(inventory, "w", encoding="utf-8") as handle:
        yaml.safe_dump(lab.inventory(), handle, sort_keys=False)

    # What the monthly round's patch node runs once the approval node lets it
    # through: AWX's approval has no part in the playbook, so here it is skipped.
    patch = _estate_playbook(installed, inventory, "playbooks/patch.yml", _extravars(str(tmp_path / "reports")))
    assert patch.returncode == 0, patch.stdout[-4000:] + patch.stderr[-2000:]
    paths = _task_paths(patch.stdout)
    assert paths and all(p.startswith(installed["installed_at"] + os.sep) for p in paths), paths
    assert {n: lab.state.server(n)["build"] for n in hosts} == dict.fromkeys(hosts, TARGET)
    assert lab.dag_violations() == []

    eems = _estate_playbook(installed, inventory, "playbooks/eems.yml",
                            {"exchange_eems_verify_timeout": 30, "exchange_eems_verify_interval": 0.5})
    assert eems.returncode == 0, eems.stdout[-4000:] + eems.stderr[-2000:]
    assert lab.state.organization("Contoso")["mitigations_enabled"] is True


def test_thin_eems_watch_compares_across_deleted_job_folders_through_the_endpoint(installed, lab_factory, tmp_path):
    """The hourly watch as AWX runs it: each job starts in a folder of its own
    that is gone afterwards; the history comes back from the report endpoint,
    so the second job raises what changed in between, and a third raises nothing."""
    lab = lab_factory({"organizations": [{"name": "Contoso", "mitigations_enabled": True}],
                       "servers": [{"name": name, "build": "15.2.2562.53"} for name in ("EXSE1", "EXSE2")]})
    for name in ("EXSE1", "EXSE2"):
        assert lab.run_eems_check(name)["id"] == 1005
    inventory = str(tmp_path / "inventory.yml")
    with open(inventory, "w", encoding="utf-8") as handle:
        yaml.safe_dump(lab.inventory(), handle, sort_keys=False)

    def job(job_id, server):
        folder = tmp_path / ("job%d" % job_id)
        result = _estate_playbook(installed, inventory, "playbooks/eems_watch.yml", {
            "awx_job_id": job_id, "exchange_report_dir": str(folder),
            "exchange_report_publish_url": server.url + "/exchange/",
            "exchange_report_publish_username": server.username,
            "exchange_report_publish_password": server.password})
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        paths = _task_paths(result.stdout)
        assert paths and all(p.startswith(installed["installed_at"] + os.sep) for p in paths), paths
        shutil.rmtree(str(folder))
        return " ".join(result.stdout.split())

    with UploadServer() as server:
        first = job(41, server)
        with lab.state.lock:
            lab.state.organization("Contoso")["mitigations_enabled"] = False
        second = job(42, server)
        third = job(43, server)
        history = json.loads(server.files["/exchange/eems-watch/eems-watch-history.json"][1])
    assert "first run: baseline recorded" in first
    for name in ("EXSE1", "EXSE2"):
        assert "ALERT %s [organization_flag_off]" % name in second
    assert "2 alert(s), 0 notice(s)" in second and "0 alert(s), 0 notice(s)" in third
    assert sorted(history["servers"]) == ["EXSE1", "EXSE2"]
    assert server.password not in first + second + third
