"""The AD-prep check reads its facts over the Exchange session only and says
plainly what it cannot read there (the schema level)."""
from __future__ import annotations

from unittest.mock import MagicMock

from ansible.playbook.task import Task

from ansible_collections.onprem.exchange.plugins.action import update_install

# Get-ActiveDirectoryPrepState's answer as the script gives it now.
STATE = {
    "organization": "Contoso", "schema_version": None, "organization_version": 16762,
    "servers": [{"name": "EX19B", "build": "15.2.1544.4"}, {"name": "EX13A", "build": "15.0.1497.2"}],
    "unreadable": {"schema_version": "The schema level (rangeUpper of ms-Exch-Schema-Version-Pt) is shown by no "
                                     "Exchange cmdlet; reading it needs an LDAP bind, which from a WinRM logon is "
                                     "the second hop."},
}


def _plugin():
    task = MagicMock(Task)
    task.args = {}
    task.async_val = 0
    plugin = update_install.ActionModule(task=task, connection=MagicMock(), play_context=MagicMock(), loader=None,
                                         templar=None, shared_loader_obj=None)
    plugin._ex_vars = {"inventory_hostname": "EX19B"}
    return plugin


def test_skipped_ad_prep_names_the_organisation_level_and_why_the_schema_is_unread(monkeypatch):
    monkeypatch.setattr("ansible_collections.onprem.exchange.plugins.plugin_utils._host_action.run_host_operation",
                        lambda connection, operation, args=None: {"changed": False, "data": STATE, "steps": []})
    done = []
    action = {"action": "install_cu", "to_build": "15.2.1748.10", "update": "CU15"}
    _plugin()._ex_ad_prep({"allow_ad_prep": False, "ems_mode": "remote"}, action, "C:\\x.iso", None, done)
    assert done and done[0]["result"] == "skipped"
    assert "objectVersion now 16762" in done[0]["detail"]
    assert "schema level not read" in done[0]["detail"] and "second hop" in done[0]["detail"]


def test_a_server_already_on_the_cu_line_means_no_ad_prep(monkeypatch):
    state = dict(STATE, servers=STATE["servers"] + [{"name": "EX19C", "build": "15.2.1748.10"}])
    monkeypatch.setattr("ansible_collections.onprem.exchange.plugins.plugin_utils._host_action.run_host_operation",
                        lambda connection, operation, args=None: {"changed": False, "data": state, "steps": []})
    done = []
    _plugin()._ex_ad_prep({"allow_ad_prep": False, "ems_mode": "remote"},
                          {"action": "install_cu", "to_build": "15.2.1748.10", "update": "CU15"}, "p", None, done)
    assert done == []
