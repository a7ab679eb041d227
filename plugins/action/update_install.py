# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.update_install: install the planned CU/SU.

Read the server (Get-ExchangeFacts) -> work out what is left of the plan
(pure, _install_judge.pending_actions) -> in check mode stop and report ->
otherwise: reboot first if one is pending, then per step start the
installer as a scheduled task, poll it with short read-only calls, judge it
from exit code and log, reboot, wait for the Exchange services and check
the build -> read the health once more and fail unless it converged.
The start of an installer is never retried blindly: after a dropped
connection the task's own record says whether it started.
"""
from __future__ import annotations

import time


from ansible_collections.onprem.exchange.plugins.plugin_utils import _install_steps as steps_logic
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import (
    CONNECTION_LOST,
    EMS_ARGUMENT_SPEC,
    HostActionBase,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_facts import planner_facts
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import HostCallError, run_host_operation
from ansible_collections.onprem.exchange.plugins.plugin_utils._install_judge import (
    EXTENDED_PROTECTION_CHOICES,
    InstallPlanError,
    ad_prep_applies,
    ad_prep_needed,
    judge_installer,
    media_rules,
    pending_actions,
    service_modes,
    unpack_style,
    verify_health,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._reboot import reboot_host

ARGUMENT_SPEC = dict(EMS_ARGUMENT_SPEC, **{
    "plan": {"type": "dict"},
    "step": {"type": "dict"},
    "staging_dir": {"type": "str", "default": "C:\\ExchangeUpdates"},
    "setup_username": {"type": "str"},
    "setup_password": {"type": "str", "no_log": True},
    "allow_ad_prep": {"type": "bool", "default": False},
    "resume_installer": {"type": "str"},
    "install_timeout": {"type": "int", "default": 14400},
    "reboot_timeout": {"type": "int", "default": 1800},
    "services_timeout": {"type": "int", "default": 900},
    "poll_interval": {"type": "float", "default": 15.0},
    "services_meant_off": {"type": "list", "elements": "str", "default": []},
    "extended_protection": {"type": "str", "choices": list(EXTENDED_PROTECTION_CHOICES), "default": "setup_default"},
})
MUTUALLY_EXCLUSIVE = [["plan", "step"]]
REQUIRED_ONE_OF = [["plan", "step"]]
ARGUMENT_RULES = {"mutually_exclusive": MUTUALLY_EXCLUSIVE, "required_one_of": REQUIRED_ONE_OF}

# Operations that change the host; check mode must send none of them.
WRITING_OPERATIONS = ("Start-InstallerTask", "Restart-HostComputer")
# Consecutive failed polls (dropped connections) tolerated before giving up.
_MAX_POLL_ERRORS = 30


class _InstallFailed(Exception):
    """Stop the run; ``msg`` for the person, the result keeps what was done."""

    def __init__(self, msg, installer_started=False, log_excerpt=None, unreachable=False):
        super().__init__(msg)
        self.msg = msg
        self.installer_started = installer_started
        self.log_excerpt = log_excerpt or []
        self.unreachable = unreachable


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    ARGUMENT_RULES = ARGUMENT_RULES

    # -- small host-call helpers -------------------------------------------
    def _ex_try(self, operation, op_args):
        """A read that may meet a dropped connection: reset and say so."""
        try:
            return run_host_operation(self._connection, operation, op_args)
        except HostCallError:
            raise
        except Exception as error:  # connection lost; the caller decides whether to retry
            try:
                self._connection.reset()
            except Exception:
                pass
            return error

    def _ex_facts(self, args):
        raw = self._ex_host_call("Get-ExchangeFacts", {"ems": self._ex_ems_args(args)})["data"]
        return raw, planner_facts(raw)

    def _ex_health(self, args):
        return self._ex_host_call("Test-ExchangeInstallHealth", {"ems": self._ex_ems_args(args)})["data"]

    def _ex_task_state(self, args):
        errors = 0
        while True:
            answer = self._ex_try("Get-InstallerTaskState", {"staging_dir": args["staging_dir"], "tail_lines": 200})
            if isinstance(answer, dict):
                return answer["data"]
            errors += 1
            if errors >= _MAX_POLL_ERRORS:
                raise _InstallFailed("lost the connection while polling the installer %d times in a row (last "
                                     "error: %s); the installer task keeps running on the server"
                                     % (errors, answer), installer_started=True, unreachable=True)
            time.sleep(min(args["poll_interval"] * errors, 30))

    # -- the steps ---------------------------------------------------------
    def _ex_reboot(self, args, reason):
        outcome = reboot_host(self._connection, reboot_timeout=args["reboot_timeout"], reason=reason,
                              first_wait=min(max(args["poll_interval"], 0.2), 5.0))
        if outcome["failed"]:
            raise _InstallFailed("restart (%s) failed: %s" % (reason, outcome["msg"]), installer_started=True,
                                 unreachable=outcome["unreachable"])
        return outcome

    def _ex_run_installer(self, args, action, path, setup_account):
        """Start one installer task (or adopt the one already running) and
        poll it to the end; returns (poll answer, verdict)."""
        before = self._ex_task_state(args)
        op_args = {"kind": action["kind"], "installer_path": path, "staging_dir": args["staging_dir"],
                   "licence": action.get("licence") or "diagnostic_data", "update": action.get("update") or "",
                   "extended_protection": args["extended_protection"], "media_rules": self._ex_media_rules,
                   "expected_build": action.get("to_build") or "", "dotnet_release": action.get("dotnet_release"),
                   "unpack": unpack_style(self._ex_catalog_value, action, path),
                   "username": setup_account[0], "password": setup_account[1]}
        problem = steps_logic.busy_problem(before, path)
        if problem:
            raise _InstallFailed(problem)
        answer = self._ex_try("Start-InstallerTask", op_args)
        self._ex_switches = None
        if isinstance(answer, dict):
            task_id = answer["data"]["task_id"]
            self._ex_switches = answer["data"].get("setup_switches") or None
        else:
            # The answer was lost.  Never start again blindly: the task's
            # record on the server says whether this start happened.
            task_id = steps_logic.started_run(before, self._ex_task_state(args), path)
            if task_id is None:
                raise _InstallFailed("the connection dropped while starting the installer and the server shows no "
                                     "new installer run (%s); run the task again" % answer)
        deadline = time.monotonic() + args["install_timeout"]
        while True:
            state = self._ex_task_state(args)
            if state["task_id"] != task_id:
                verdict = {"result": "failed", "reboot_required": False, "log_excerpt": [],
                           "message": "the installer run %s is no longer the server's current one (now %s)"
                                      % (task_id, state["task_id"])}
                return state, verdict
            verdict = judge_installer(state, action["kind"] if action["kind"] in ("cu", "su") else "other")
            if verdict["result"] != "running":
                return state, verdict
            if time.monotonic() > deadline:
                raise _InstallFailed("the installer is still running after %d s (install_timeout); it keeps running "
                                     "on the server - re-run this task later to pick it up" % args["install_timeout"],
                                     installer_started=True)
            time.sleep(args["poll_interval"])

    def _ex_wait_for_services(self, args, expected_build):
        """After a restart WinRM answers before Exchange has started; wait
        (bounded) for the services, then judge."""
        deadline = time.monotonic() + args["services_timeout"]
        while True:
            health = self._ex_health(args)
            verdict = verify_health(health, expected_build, self._ex_modes_before, args["services_meant_off"])
            if verdict["services_ok"] or time.monotonic() > deadline:
                return health, verdict
            time.sleep(args["poll_interval"])

    def _ex_ad_prep(self, args, action, path, setup_account, done):
        state = self._ex_host_call("Get-ActiveDirectoryPrepState", {"ems": self._ex_ems_args(args)})["data"]
        builds = [s.get("build") for s in state.get("servers") or []]
        if not ad_prep_needed(action["to_build"], builds):
            return
        if not args["allow_ad_prep"]:
            done.append({"action": "ad_prep", "update": action.get("update"), "rc": None, "result": "skipped",
                         "log_excerpt": [], "reboot": False,
                         "detail": steps_logic.ad_prep_skipped_detail(state, action.get("update"))})
            return
        for kind in ("prepare_schema", "prepare_ad"):
            prep = dict(action, kind=kind)
            poll, verdict = self._ex_run_installer(args, prep, path, setup_account)
            done.append({"action": kind, "update": action.get("update"), "rc": poll.get("exit_code"),
                         "result": verdict["result"], "log_excerpt": verdict["log_excerpt"], "reboot": False})
            if verdict["result"] != "succeeded":
                raise _InstallFailed("Active Directory preparation (%s) for %s failed: %s"
                                     % (kind, action.get("update"), verdict["message"]),
                                     log_excerpt=verdict["log_excerpt"])

    # -- the run -----------------------------------------------------------
    def _ex_run(self, args, result):
        host = self._ex_host
        steps = (args["plan"] or {}).get("steps") if args["plan"] is not None else [args["step"]]
        problem = steps_logic.option_problem(args)
        if problem:
            raise self._ex_error(problem)

        raw, facts = self._ex_facts(args)
        catalog = self._ex_catalog()
        # Start modes before anything is installed: afterwards each service is
        # judged against its own, so one disabled on purpose stays a non-issue.
        self._ex_modes_before = service_modes(raw.get("services"), bool(facts.get("setup_watermark")))
        self._ex_media_rules = media_rules(catalog)
        self._ex_catalog_value = catalog
        with self._ex_failing(InstallPlanError):
            todo = pending_actions(steps, facts, catalog)
            problem = steps_logic.resume_problem(todo, facts.get("setup_watermark"), args["resume_installer"])
            if problem:
                raise InstallPlanError(problem)
            resume_path = steps_logic.installer_path(args["staging_dir"], args["resume_installer"]) \
                if any(a["action"] == "resume_setup" for a in todo) else None

        build_before = steps_logic.short_build(facts["build"])
        planned_after = next((a["to_build"] for a in reversed(todo) if a.get("to_build")), None)
        result.update(build_before=build_before, steps_done=[], reboots=0, verified=None, installer_started=False,
                      replan=False)
        if self._task.diff:
            result["diff"] = {"before": {"build": build_before, "pending_reboot": bool(facts.get("pending_reboot"))},
                              "after": {"build": planned_after or build_before, "pending_reboot": False}}

        if self._play_context.check_mode:
            predicted = steps_logic.predicted_steps(facts.get("pending_reboot"), todo)
            result.update(changed=bool(predicted), steps_done=predicted, build_after=planned_after or build_before,
                          reboots=sum(1 for p in predicted if p["reboot"]),
                          replan=any(a["action"] == "resume_setup" for a in todo))
            return result

        setup_account = (args["setup_username"] or self._ex_connection_option("remote_user"),
                         args["setup_password"] or self._ex_connection_option("remote_password"))
        done = result["steps_done"]
        try:
            if facts.get("pending_reboot"):
                self._ex_reboot(args, "pending restart before installing")
                result["reboots"] += 1
                done.append({"action": "reboot", "update": None, "rc": None, "result": "succeeded", "log_excerpt": [],
                             "reboot": True})
            current = facts["build"]
            dotnet = facts.get("dotnet_release")
            for action in todo:
                if action["action"] == "resume_setup":
                    path = resume_path
                    action = dict(action, to_build=None)
                else:
                    with self._ex_failing(InstallPlanError):
                        path = steps_logic.installer_path(args["staging_dir"], action["staged_name"])
                problem = steps_logic.step_problem(action, current, dotnet, facts.get("os"), catalog)
                if problem:
                    raise _InstallFailed(problem)
                if ad_prep_applies(action, facts):
                    self._ex_ad_prep(args, action, path, setup_account, done)
                result["installer_started"] = True
                poll, verdict = self._ex_run_installer(args, action, path, setup_account)
                entry = {"action": action["action"], "update": action.get("update"), "rc": poll.get("exit_code"),
                         "result": verdict["result"], "log_excerpt": verdict["log_excerpt"], "reboot": False}
                if action["kind"] == "cu" and self._ex_switches:
                    entry["setup_switches"] = list(self._ex_switches)  # what Setup was told, for the record
                done.append(entry)
                if verdict["result"] != "succeeded":
                    raise _InstallFailed("%s %s failed: %s" % (action["action"], action.get("update") or "",
                                                               verdict["message"]),
                                         installer_started=True, log_excerpt=verdict["log_excerpt"])
                # Every Exchange installer leaves files in use to replace at
                # the next start, whatever its exit code says.
                self._ex_reboot(args, "after %s %s" % (action["action"], action.get("update") or ""))
                result["reboots"] += 1
                entry["reboot"] = True
                health, check = self._ex_wait_for_services(args, action.get("to_build"))
                if action["action"] == "install_dotnet":
                    dotnet = action.get("dotnet_release") or dotnet
                if action["action"] == "resume_setup":
                    result["replan"] = True
                    current = health.get("exsetup_version") or current
                    break
                if not check["build_ok"]:
                    raise _InstallFailed("after %s the build is %s, not the planned %s" % (
                        action.get("update"), health.get("exsetup_version"), action["to_build"]), installer_started=True)
                if action.get("to_build"):
                    current = action["to_build"]
            if not todo:
                # Nothing installed here, maybe just restarted (the pending
                # restart, or the admin's tasks before this check): WinRM
                # answers before Exchange has started, so give its services
                # their time first (at once when they run). Every installer
                # above already waited for them after its own restart.
                health = self._ex_wait_for_services(args, planned_after or build_before)[0]
            else:
                health = self._ex_health(args)
        except CONNECTION_LOST as lost:
            if not result["installer_started"] and not done:
                raise  # nothing was started: the host is simply unreachable
            # After an installer or a restart a lost connection must not
            # escape as a bare unreachable host: the install is unverified.
            result.update(failed=True, changed=True, installer_started=True, unreachable_during_install=True,
                          msg="%s: the connection was lost after the install began (%s); the build and services are "
                              "not verified - the server stays in maintenance" % (host, str(lost).rstrip(".")),
                          build_after=None)
            return result
        except _InstallFailed as failure:
            result.update(failed=True, changed=bool(done), installer_started=result["installer_started"] or
                          failure.installer_started, msg="%s: %s" % (host, failure.msg))
            if failure.log_excerpt:
                result["log_excerpt"] = failure.log_excerpt
            if failure.unreachable:
                result["unreachable_during_install"] = True
            result["build_after"] = self._ex_safe_build(args)
            return result

        expected = None if result["replan"] else (planned_after or build_before)
        verdict = verify_health(health, expected, self._ex_modes_before, args["services_meant_off"])
        result.update(changed=bool(done), build_after=steps_logic.short_build(health.get("exsetup_version")) or build_before,
                      verified={k: verdict[k] for k in ("build_ok", "services_ok", "setup_ok", "web_config_ok",
                                                        "components_ok")},
                      reapply_mitigations=any(a["kind"] == "cu" for a in todo))
        if verdict["problems"]:
            result.update(failed=True, msg="%s: the server is not healthy after the install: %s"
                          % (host, "; ".join(verdict["problems"])))
        return result

    def _ex_safe_build(self, args):
        try:
            return steps_logic.short_build(self._ex_health(args).get("exsetup_version"))
        except Exception:
            return None
