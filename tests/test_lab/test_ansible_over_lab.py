"""Real ansible-playbook runs against the lab over WinRM/HTTPS."""
from __future__ import annotations

import pytest
import yaml

from labtools import recap as play_recap, run_playbook, write_inventory

PLAYBOOK = "playbooks/connection_check.yml"


@pytest.mark.smoke
def test_connection_check_reaches_every_server_over_https(default_lab, tmp_path):
    inventory = write_inventory(default_lab, tmp_path / "inventory.yml")
    before = {name: default_lab.stats(name)["operations"].get("Get-HostIdentity", 0) for name in default_lab.endpoints}
    result = run_playbook(inventory, PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    recap = play_recap(result.stdout)
    assert set(recap) == set(default_lab.endpoints)
    assert all(r == {"ok": 2, "changed": 0, "unreachable": 0, "failed": 0} for r in recap.values()), recap
    for name, server in ((s["name"], s) for s in default_lab.state.servers()):
        assert "%s is %s.%s" % (name, name, server["domain"]) in result.stdout
        # One remote process per host: the host call, nothing else.
        assert default_lab.stats(name)["operations"]["Get-HostIdentity"] == before[name] + 1


def test_inventory_validates_the_lab_ca(default_lab):
    exchange_vars = default_lab.inventory()["all"]["children"]["exchange"]["vars"]
    assert exchange_vars["ansible_winrm_scheme"] == "https"
    assert exchange_vars["ansible_winrm_server_cert_validation"] == "validate"
    assert exchange_vars["ansible_winrm_ca_trust_path"] == default_lab.pki.ca_cert_path


def test_wrong_password_fails_each_host_with_an_auth_error(default_lab, tmp_path):
    inventory = yaml.safe_load(open(write_inventory(default_lab, tmp_path / "inv.yml")))
    inventory["all"]["children"]["exchange"]["vars"]["ansible_password"] = "wrong-password"
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(inventory))
    result = run_playbook(path, PLAYBOOK, "--limit", "EX19B,EX19C")
    assert result.returncode != 0
    recap = play_recap(result.stdout)
    assert recap["EX19B"]["unreachable"] == 1 and recap["EX19C"]["unreachable"] == 1
    assert "401" in result.stdout or "credentials were rejected" in result.stdout
    assert "wrong-password" not in result.stdout + result.stderr


def test_a_host_that_is_down_is_unreachable_and_the_others_carry_on(lab_factory, tmp_path):
    lab = lab_factory()
    lab.set_faults("EX16A", {"slow_reboot_seconds": 10 * 3600})
    lab.reboot("EX16A", "test")  # endpoint refuses connections until the (long) reboot ends
    inventory = write_inventory(lab, tmp_path / "inventory.yml")
    result = run_playbook(inventory, PLAYBOOK, "--limit", "EX16A,EX16B,EX16C",
                          env={"ANSIBLE_TIMEOUT": "5"})
    recap = play_recap(result.stdout)
    assert recap["EX16A"]["unreachable"] == 1
    assert recap["EX16B"] == recap["EX16C"] == {"ok": 2, "changed": 0, "unreachable": 0, "failed": 0}
    assert "EX16B is EX16B.lab.contoso.test" in result.stdout


def test_wrong_ca_is_refused(default_lab, tmp_path):
    from lab.tls import ensure_ca
    other = ensure_ca(tmp_path / "other-ca", prefix="other")
    inventory = yaml.safe_load(open(write_inventory(default_lab, tmp_path / "inv.yml")))
    inventory["all"]["children"]["exchange"]["vars"]["ansible_winrm_ca_trust_path"] = other.cert_path
    path = tmp_path / "wrong-ca.yml"
    path.write_text(yaml.safe_dump(inventory))
    result = run_playbook(path, PLAYBOOK, "--limit", "EX19D")
    assert play_recap(result.stdout)["EX19D"]["unreachable"] == 1
    assert "CERTIFICATE_VERIFY_FAILED" in result.stdout or "certificate verify failed" in result.stdout
