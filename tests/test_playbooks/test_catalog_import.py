"""The catalog import from an installed collection, and the extra catalog in a real audit (issue 13)."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys

import pytest

from labtools import REPO_ROOT, changed_counts, run_playbook, start_lab, write_inventory
from lab.fleet import load_fleet

BIN = os.path.dirname(sys.executable)
HEADER = ["product", "update_name", "kind", "cu_level", "build", "release_date", "kb", "source"]
# A build newer than the shipped catalog, as next month's SU would be.
NEXT_SE_SU = ["Exchange SE", "Exchange Server SE RTM Dec26SU", "SU", "RTM", "15.2.2562.61", "2026-12-08",
              "KB5999004", "test row"]


def _csv(path, *rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return str(path)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The collection built and installed the way an admin gets it (no checkout on the path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    src = tmp_path_factory.mktemp("src") / "exchange"
    shutil.copytree(REPO_ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv*", ".lab", ".pytest_cache", "reports", "__pycache__", "*.tar.gz", "tests", ".collections"))
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(dist), str(src)],
                   check=True, capture_output=True, text=True, timeout=300, env=env, cwd=str(dist))
    [tarball] = dist.glob("*.tar.gz")
    root = tmp_path_factory.mktemp("collections")
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-p", str(root), str(tarball)],
                   check=True, capture_output=True, text=True, timeout=300, env=env, cwd=str(root))
    assert (root / "ansible_collections" / "onprem" / "exchange" / "playbooks" / "catalog_import.yml").exists()
    return root


def _installed_playbook(root, tmp_path, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(root), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / ".tmp"),
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "onprem.exchange.catalog_import",
                           *extra], cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)


def test_catalog_import_runs_from_an_installed_collection(installed, tmp_path):
    assert not (installed / "ansible_collections" / "onprem" / "exchange" / "scripts").exists()
    overlay = tmp_path / "catalog-extra.yml"
    source = _csv(tmp_path / "new.csv", NEXT_SE_SU)
    first = _installed_playbook(installed, tmp_path, "-e", "exchange_catalog_csv=%s" % source,
                                "-e", "exchange_catalog_files=%s" % overlay)
    assert first.returncode == 0, first.stdout + first.stderr
    assert changed_counts(first.stdout) == {"localhost": 1} and "15.2.2562.61" in overlay.read_text(encoding="utf-8")
    again = _installed_playbook(installed, tmp_path, "-e", "exchange_catalog_csv=%s" % source,
                                "-e", "exchange_catalog_files=%s" % overlay)
    assert again.returncode == 0 and changed_counts(again.stdout) == {"localhost": 0}, again.stdout[-3000:]
    bad = _csv(tmp_path / "bad.csv", NEXT_SE_SU[:4] + ["15.2.1748.61"] + NEXT_SE_SU[5:])
    refused = _installed_playbook(installed, tmp_path, "-e", "exchange_catalog_csv=%s" % bad,
                                  "-e", "exchange_catalog_files=%s" % overlay)
    assert refused.returncode != 0 and "line 2" in refused.stdout + refused.stderr


@pytest.fixture(scope="module")
def se_lab(tmp_path_factory):
    fleet = load_fleet()
    fleet["lab"]["clock_factor"] = 0
    lab = start_lab(tmp_path_factory.mktemp("overlay-lab"), fleet)
    yield lab
    lab.stop()


def test_an_audit_reads_the_extra_catalog_and_a_bad_one_touches_no_server(se_lab, tmp_path):
    import io

    from ansible_collections.onprem.exchange.plugins.plugin_utils._catalog_import import run_overlay
    overlay = tmp_path / "catalog-extra.yml"
    run_overlay(_csv(tmp_path / "new.csv", NEXT_SE_SU), str(overlay), out=io.StringIO())
    inventory = write_inventory(se_lab, tmp_path / "inventory.yml")
    reports = tmp_path / "reports"
    result = run_playbook(inventory, "playbooks/audit.yml", "-e", "exchange_report_dir=%s" % reports,
                          "-e", "exchange_catalog_files=%s" % overlay, "-e", "exchange_audit_fail_on_errors=false")
    assert result.returncode == 0, result.stdout + result.stderr
    report = (reports / "exchange-audit.json").read_text(encoding="utf-8")
    assert "15.2.2562.61" in report and "Dec26SU" in report
    overlay.write_text("builds:\n- {build: 15.2.2562.62}\n", encoding="utf-8")
    before = {name: se_lab.stats(name)["processes"] for name in se_lab.endpoints}
    bad = run_playbook(inventory, "playbooks/audit.yml", "-e", "exchange_report_dir=%s" % (tmp_path / "r2"),
                       "-e", "exchange_catalog_files=%s" % overlay)
    assert bad.returncode != 0
    assert "catalog-extra.yml" in bad.stdout + bad.stderr and "builds entry 1" in bad.stdout + bad.stderr
    assert {name: se_lab.stats(name)["processes"] for name in se_lab.endpoints} == before
