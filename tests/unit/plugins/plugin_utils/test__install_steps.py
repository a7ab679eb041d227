"""update_install's decisions around its steps, without a host."""
from __future__ import annotations

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils import _install_steps as steps
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import ExchangeBuild
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import load_catalog
from ansible_collections.onprem.exchange.plugins.plugin_utils._install_judge import InstallPlanError

ARGS = {"staging_dir": "C:\\ExchangeUpdates", "resume_installer": None, "setup_username": None,
        "poll_interval": 15.0, "install_timeout": 14400, "reboot_timeout": 1800}


def test_option_values_that_cannot_work_are_refused_before_anything_is_sent():
    assert steps.option_problem(ARGS) is None
    assert "nothing was sent" in steps.option_problem(dict(ARGS, staging_dir="C:\\x\x00"))
    assert steps.option_problem(dict(ARGS, poll_interval=0)) == \
        "poll_interval, install_timeout and reboot_timeout must be positive"


def test_an_installer_is_a_plain_file_in_the_staging_folder():
    assert steps.installer_path("C:\\ExchangeUpdates\\", "a.iso") == "C:\\ExchangeUpdates\\a.iso"
    for bad in ("..\\evil.exe", "x\"y.iso", ".hidden", "C:/a.iso"):
        with pytest.raises(InstallPlanError, match="must be a plain file name"):
            steps.installer_path("C:\\ExchangeUpdates", bad)
    with pytest.raises(InstallPlanError, match="names no installer file"):
        steps.installer_path("C:\\ExchangeUpdates", None)


def test_an_su_for_another_cu_and_a_cu_on_too_old_dotnet_are_stopped_with_the_reason():
    catalog = load_catalog()
    su = {"kind": "su", "action": "install_su", "update": "Nov24SU", "cu": "CU14", "to_build": "15.2.1544.14"}
    assert "the plan is stale" in steps.step_problem(su, "15.2.1748.10", None, None, catalog)
    assert steps.step_problem(su, ExchangeBuild.parse("15.2.1544.4"), None, None, catalog) is None
    cu = {"kind": "cu", "action": "install_cu", "product": "Exchange 2019", "cu": "CU15", "to_build": "15.2.1748.10"}
    assert ".NET Framework release 461808 is too old" in steps.step_problem(cu, "15.2.1544.4", 461808,
                                                                            "Windows Server 2019", catalog)


def test_an_interrupted_setup_needs_a_resume_step_and_its_media():
    resume = [{"action": "resume_setup"}]
    assert "has no resume_setup step" in steps.resume_problem([], "Mailbox", None)
    assert "set resume_installer" in steps.resume_problem(resume, "Mailbox", None)
    assert steps.resume_problem(resume, "Mailbox", "x.iso") is None and steps.resume_problem([], None, None) is None


def test_builds_are_shown_in_the_short_form_and_check_mode_predicts_a_restart_per_step():
    assert steps.short_build("15.02.1748.010") == "15.2.1748.10" and steps.short_build(None) is None
    assert steps.short_build("15.2.1748") == "15.2.1748"
    predicted = steps.predicted_steps(True, [{"action": "install_cu", "update": "CU15"}])
    assert [(p["action"], p["reboot"]) for p in predicted] == [("reboot", True), ("install_cu", True)]


def test_a_second_installer_is_refused_and_a_lost_start_is_adopted_only_from_the_servers_record():
    before = {"state": "running", "installer": "C:\\U\\a.iso", "kind": "cu", "started": "t0", "task_id": "1"}
    assert "another installer is already running on the server: C:\\U\\a.iso (cu) since t0" in \
        steps.busy_problem(before, "C:\\U\\b.iso")
    assert steps.busy_problem(before, "C:\\U\\a.iso") is None            # the same one: adopted
    idle = {"state": "finished", "task_id": "1"}
    assert steps.started_run(idle, {"task_id": "2", "installer": "C:\\U\\b.iso"}, "C:\\U\\b.iso") == "2"
    assert steps.started_run(idle, {"task_id": "1", "installer": "C:\\U\\b.iso"}, "C:\\U\\b.iso") is None
    assert steps.started_run(idle, {"task_id": "2", "installer": "C:\\U\\a.iso"}, "C:\\U\\b.iso") is None
