# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one ``onprem.exchange.update_install`` task decides around its steps.

For internal collection use only; the interface may change in any release.

No Ansible imports, no clock, no host.  ``_install_judge`` says what is left
of a plan and how an installer ended; this module holds the task's other
decisions: which option values are refused, where a step's installer lies,
whether a step may start on the build and .NET the server has now, what
check mode predicts, and the words about AD preparation.  A refusal is an
``InstallPlanError`` whose text a person can act on; the caller adds the
host's name.
"""
from __future__ import annotations

from ._bounds import MAX_WINDOWS_FOLDER, text_problem
from ._exchange_build import ExchangeBuild, ExchangeBuildError
from ._install_judge import InstallPlanError

__all__ = ["option_problem", "installer_path", "step_problem", "predicted_steps", "short_build", "schema_note",
           "ad_prep_skipped_detail", "resume_problem", "busy_problem", "started_run"]


def option_problem(args):
    """The first refused option value, or None.  Bounds first, so a hostile
    value is refused before it is echoed or sent."""
    for problem in (text_problem(args["staging_dir"], "staging_dir", max_length=MAX_WINDOWS_FOLDER),
                    text_problem(args.get("resume_installer"), "resume_installer", max_length=255),
                    text_problem(args.get("setup_username"), "setup_username", max_length=256)):
        if problem:
            return "%s; nothing was sent to the server" % problem
    if args["poll_interval"] <= 0 or args["install_timeout"] <= 0 or args["reboot_timeout"] <= 0:
        return "poll_interval, install_timeout and reboot_timeout must be positive"
    return None


def resume_problem(todo, watermark, resume_installer):
    """Why an interrupted Setup stops this run (the plan has no resume step,
    or no media to finish it from), or None."""
    resumes = any(a["action"] == "resume_setup" for a in todo)
    if watermark and not resumes:
        return ("an earlier Exchange Setup stopped part-way (watermark %r) but the plan has no resume_setup step; "
                "gather facts again (onprem.exchange.build_facts) and pass the new plan" % (watermark,))
    if resumes and not resume_installer:
        return ("an earlier Exchange Setup stopped part-way (watermark %r). Setup must be finished from the same CU "
                "media: stage that ISO and set resume_installer to its file name" % (watermark,))
    return None


def installer_path(staging_dir, name):
    """The full path of a staged installer; a name that is not a plain file
    name is refused."""
    if not name:
        raise InstallPlanError("the plan step names no installer file")
    if any(c in name for c in '\\/"%') or name.startswith("."):
        raise InstallPlanError("installer file name %r must be a plain file name" % (name,))
    return staging_dir.rstrip("\\") + "\\" + name


def step_problem(action, current, dotnet, os_name, catalog):
    """Why ``action`` must not start on a server at build ``current`` with
    .NET release ``dotnet``, or None.  ``current`` is an ExchangeBuild or a
    string (parsed here, once)."""
    if action["kind"] == "su":
        have = ExchangeBuild.parse(current)
        if have.cu_key != ExchangeBuild.parse(action["to_build"]).cu_key:
            return ("%s is built for %s, but the server is on %s; the plan is stale - gather facts again"
                    % (action.get("update"), action.get("cu"), current))
    if action["kind"] == "cu" and action["action"] != "resume_setup" and dotnet is not None:
        need = catalog.dotnet_requirement(action.get("product"), action.get("cu"), os_name)
        if need and dotnet < need["min_release"]:
            return (".NET Framework release %d is too old for %s %s (needs at least %d); the plan should install "
                    ".NET first - gather facts again" % (dotnet, action.get("product"), action.get("cu"),
                                                         need["min_release"]))
    return None


def predicted_steps(pending_reboot, todo):
    """What check mode reports: a restart first when one is pending, then
    every step, each followed by its restart."""
    predicted = ([{"action": "reboot", "update": None, "rc": None, "result": "predicted", "log_excerpt": [],
                   "reboot": True}] if pending_reboot else [])
    predicted += [{"action": a["action"], "update": a.get("update"), "rc": None, "result": "predicted",
                   "log_excerpt": [], "reboot": True} for a in todo]
    return predicted


def short_build(version):
    """15.02.1748.010 -> 15.2.1748.10 (the form plans use); anything else as it is."""
    if not version:
        return None
    try:
        return str(ExchangeBuild.parse(str(version)))
    except ExchangeBuildError:
        try:
            return ".".join(str(int(p)) for p in str(version).split("."))
        except ValueError:
            return str(version)


def schema_note(state):
    """What the AD-prep read says about the schema level: its value, or why
    it could not be read over the Exchange session."""
    if state.get("schema_version") is not None:
        return "schema rangeUpper %s" % state["schema_version"]
    reason = (state.get("unreadable") or {}).get("schema_version")
    return "schema level not read: %s" % (reason or "no reason given")


def ad_prep_skipped_detail(state, update):
    """Why AD preparation was not run although no server runs ``update`` yet."""
    version = state.get("organization_version")
    return ("no server of %s runs %s yet, so it may need schema/organisation preparation (organisation objectVersion "
            "now %s; %s); allow_ad_prep is false, so Setup itself will prepare it or say what is missing"
            % (state.get("organization"), update, version if version is not None else "unknown", schema_note(state)))


def busy_problem(before, path):
    """Why no installer may start: another one runs on the server (the
    record read before the start), or None.  The same installer running is
    adopted, not refused."""
    if before["state"] == "running" and before["installer"] != path:
        return ("another installer is already running on the server: %s (%s) since %s; wait for it to finish"
                % (before["installer"], before["kind"], before["started"]))
    return None


def started_run(before, after, path):
    """After a start whose answer was lost: the run the server's record
    shows this start made (a new task id, for this installer), or None.
    A start is never sent again blindly."""
    if after["task_id"] and after["task_id"] != before.get("task_id") and after["installer"] == path:
        return after["task_id"]
    return None
