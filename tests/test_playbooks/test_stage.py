"""onprem.exchange.update_stage against the lab: the server fetches, checks and
keeps only verified installers."""
from __future__ import annotations

import os

import pytest
import yaml

from labtools import recap, run_playbook, write_inventory
from lab.fleet import load_fleet

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(HERE, "playbooks", "stage.yml")
SU = "ExchangeSubscriptionEdition-KB5129955-x64-en.msp"
SE_ISO = "ExchangeServerSE-x64.ISO"


def _fleet(**package_changes):
    fleet = load_fleet()
    packages = fleet["repository"]["packages"]
    packages.append({"name": SU, "size_kb": 96})
    for package in packages:
        package.update(package_changes.get(package["name"], {}))
    return fleet


def _stage(lab, tmp_path, hosts="EX19C", *extra):
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    return run_playbook(inventory, PLAYBOOK, "-e", "stage_hosts=%s" % hosts, *extra)


def _staged(lab, name):
    return sorted(r["name"] for r in lab.state.server(name).get("staged_files", {}).values())


def _downloads(lab, name):
    return lab.stats(name)["operations"].get("Invoke-PackageDownload", 0)


@pytest.mark.smoke
def test_stages_the_plan_with_the_su_under_its_cu_and_a_second_run_changes_nothing(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    first = _stage(lab, tmp_path)
    assert first.returncode == 0, first.stdout[-3000:]
    assert recap(first.stdout)["EX19C"]["changed"] == 1
    # 2019 CU15 goes in place to SE RTM, then SE's Sep26SUv2, which belongs to SE RTM.
    assert _staged(lab, "EX19C") == ["ExchangeServerSE-x64.iso", "RTM-" + SU]
    assert "'verified': True" in first.stdout or '"verified": true' in first.stdout
    second = _stage(lab, tmp_path)
    assert second.returncode == 0 and recap(second.stdout)["EX19C"]["changed"] == 0
    assert _downloads(lab, "EX19C") == 2


def test_check_mode_predicts_the_downloads_and_downloads_nothing(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    check = _stage(lab, tmp_path, "EX19C", "--check", "--diff")
    assert check.returncode == 0, check.stdout[-3000:]
    assert recap(check.stdout)["EX19C"]["changed"] == 1
    assert "+RTM-" + SU in check.stdout  # the diff names what would arrive
    assert check.stdout.count("would_download") == 2
    assert _downloads(lab, "EX19C") == 0 and _staged(lab, "EX19C") == []
    real = _stage(lab, tmp_path)
    assert real.returncode == 0 and _downloads(lab, "EX19C") == 2


def test_hash_mismatch_on_the_way_removes_the_file_and_fails(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    lab.set_faults("EX19C", {"hash_mismatch": True})
    result = _stage(lab, tmp_path, "EX19C,EX19D")
    assert result.returncode != 0
    assert "EX19C: ExchangeServerSE-x64.ISO from" in result.stdout
    assert "failed verification: SHA256" in result.stdout
    assert "The downloaded file was removed from C:\\\\ExchangeUpdates, so nothing can be installed from it" \
        in result.stdout
    assert _staged(lab, "EX19C") == []
    # Another server is not affected (EX19D is already at its target: nothing to stage).
    assert recap(result.stdout)["EX19D"]["failed"] == 0


def test_a_corrupt_repository_copy_is_refused_and_removed(lab_factory, tmp_path):
    lab = lab_factory(_fleet(**{SU: {"corrupt": True}}))
    result = _stage(lab, tmp_path)
    assert result.returncode != 0
    assert "%s from" % SU in result.stdout and "does not match the manifest's" in result.stdout
    assert "Already staged and verified: ExchangeServerSE-x64.iso" in result.stdout
    assert _staged(lab, "EX19C") == ["ExchangeServerSE-x64.iso"]


def test_a_full_disk_fails_before_any_download(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    lab.set_faults("EX19C", {"disk_full": True})
    result = _stage(lab, tmp_path)
    assert result.returncode != 0
    assert "EX19C: not enough free disk to stage: 0.0 GB free on the drive of C:\\\\ExchangeUpdates" in result.stdout
    assert "Setup needs 30.0 GB left afterwards (min_free_disk_gb). Nothing was downloaded." in result.stdout
    assert _downloads(lab, "EX19C") == 0


def test_an_installer_missing_from_the_repository_is_named(lab_factory, tmp_path):
    fleet = load_fleet()
    # A repository that lacks the SE security update the plan names.
    fleet["repository"]["packages"] = [p for p in fleet["repository"]["packages"] if p["name"] != SU]
    lab = lab_factory(fleet)
    result = _stage(lab, tmp_path)
    assert result.returncode != 0
    assert "has no %s in its manifest.json" % SU in result.stdout
    assert "scripts/build_manifest.py" in result.stdout


def test_from_a_unc_share_with_its_own_account_and_no_secret_in_output(lab_factory, tmp_path):
    lab = lab_factory(_fleet())
    secret = "Repo-S3cret-Pass!"
    # From a file, as a vault would give it: on the command line ansible-playbook itself echoes it at -vvvv.
    extra = tmp_path / "repo.yml"
    extra.write_text(yaml.safe_dump({"stage_repository": "\\\\files.lab.contoso.test\\exchange$",
                                     "stage_repo_user": "LAB\\svc-repo", "stage_repo_password": secret}))
    result = _stage(lab, tmp_path, "EX19C", "-vvvv", "-e", "@%s" % extra)
    assert result.returncode == 0, result.stdout[-3000:]
    assert _staged(lab, "EX19C") == ["ExchangeServerSE-x64.iso", "RTM-" + SU]
    assert secret not in result.stdout + result.stderr
    assert lab.state.data["lab"]["credential"]["password"] not in result.stdout + result.stderr
