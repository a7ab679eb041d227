# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.update_stage: put verified installers on
the server before the patch window.

Read (repository manifest, staging folder) -> decide (pure, _staging) -> in
check mode stop -> the server downloads only what is missing or wrong -> read
again and fail unless every file is verified.
"""
from __future__ import annotations

from ansible_collections.onprem.exchange.plugins.plugin_utils._bounds import (
    MAX_LOCATION,
    MAX_WINDOWS_FOLDER,
    text_problem,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._host_action import HostActionBase
from ansible_collections.onprem.exchange.plugins.plugin_utils._staging import (
    DEFAULT_SIGNERS, StagingInputError, cu_lookup, default_min_free_gb, judge_file, manifest_index, public_entry,
    repository_problem, staging_dir_problem, staging_plan, wanted_from_list, wanted_from_plan)

ARGUMENT_SPEC = {
    "plan": {"type": "dict"},
    "installers": {"type": "list", "elements": "raw"},
    "repository_url": {"type": "str", "required": True},
    "repository_username": {"type": "str"},
    "repository_password": {"type": "str", "no_log": True},
    "staging_dir": {"type": "str", "default": "C:\\ExchangeUpdates"},
    "min_free_disk_gb": {"type": "float"},
    "allowed_signers": {"type": "list", "elements": "str", "default": list(DEFAULT_SIGNERS)},
}

ARGUMENT_RULES = {"mutually_exclusive": [["plan", "installers"]], "required_one_of": [["plan", "installers"]],
                  "required_together": [["repository_username", "repository_password"]]}


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    ARGUMENT_RULES = ARGUMENT_RULES

    def _ex_run(self, args, result):
        # Bounds first, so a hostile value is refused before it is echoed or sent.
        for problem in (text_problem(args["staging_dir"], "staging_dir", max_length=MAX_WINDOWS_FOLDER),
                        text_problem(args["repository_url"], "repository_url", max_length=MAX_LOCATION),
                        text_problem(args.get("repository_username"), "repository_username", max_length=256)):
            if problem:
                raise self._ex_error("%s; nothing was sent to the server" % problem)
        problem = staging_dir_problem(args["staging_dir"]) or repository_problem(args["repository_url"])
        if problem:
            raise self._ex_error(problem)
        with self._ex_failing(StagingInputError):
            if args.get("plan") is not None:
                wanted = wanted_from_plan(args["plan"], cu_lookup(self._ex_catalog()))
            else:
                wanted = wanted_from_list(args["installers"])
        min_free = args["min_free_disk_gb"] if args.get("min_free_disk_gb") is not None else default_min_free_gb(wanted)
        result.update(changed=False, staged=[], free_disk_gb=None, staging_dir=args["staging_dir"])
        if not wanted:
            result["msg"] = "Nothing to stage: the plan has no installer steps."
            return result

        repository = {"url": args["repository_url"], "username": args.get("repository_username"),
                      "password": args.get("repository_password")}
        raw_manifest = self._ex_host_call("Get-RepositoryManifest", {"repository": repository})["data"]
        try:
            manifest = manifest_index(raw_manifest.get("manifest"))
        except StagingInputError as error:
            raise self._ex_error("%s (read from %s)" % (error, args["repository_url"])) from None

        decision = self._ex_decide(wanted, manifest, args, min_free)
        result["free_disk_gb"] = decision["disk"]["free_gb"]
        if decision["missing"]:
            raise self._ex_error(
                "the repository %s has no %s in its manifest.json; copy the file there and rebuild the manifest "
                "(scripts/build_manifest.py)" % (args["repository_url"], ", ".join(decision["missing"])))
        if not decision["disk"]["ok"]:
            disk = decision["disk"]
            raise self._ex_error(
                "not enough free disk to stage: %s GB free on the drive of %s; the downloads need %s GB and "
                "Setup needs %s GB left afterwards (min_free_disk_gb). Nothing was downloaded."
                % (disk["free_gb"], args["staging_dir"], disk["download_gb"], disk["min_free_gb"]))

        before = sorted(i["staged_name"] for i in decision["items"] if i["verified"])
        after = sorted(i["staged_name"] for i in decision["items"])
        if self._task.diff and decision["download"]:
            result["diff"] = {"before_header": args["staging_dir"], "after_header": args["staging_dir"],
                              "before": "".join(n + "\n" for n in before), "after": "".join(n + "\n" for n in after)}
        if self._task.check_mode:
            for item in decision["download"]:
                item["action"] = "would_download"
            result.update(changed=bool(decision["download"]), staged=[public_entry(i) for i in decision["items"]])
            return result

        done = [i["staged_name"] for i in decision["items"] if i["verified"]]
        for item in decision["download"]:
            self._ex_download(item, repository, args, done)
            done.append(item["staged_name"])

        final = self._ex_decide(wanted, manifest, args, min_free)
        wrong = [i for i in final["items"] if not i["verified"]]
        if wrong:
            raise self._ex_error("staged files still do not verify after download: %s" % (
                "; ".join("%s: %s" % (i["staged_name"], i["reason"]) for i in wrong)))
        actions = {i["staged_name"]: i["action"] for i in decision["items"]}
        staged = []
        for item in final["items"]:
            item["action"] = "downloaded" if actions.get(item["staged_name"]) == "download" else "present"
            staged.append(public_entry(item))
        result.update(changed=bool(decision["download"]), staged=staged, free_disk_gb=final["disk"]["free_gb"])
        return result

    def _ex_decide(self, wanted, manifest, args, min_free):
        files = [{"staged_name": w["staged_name"], "size": (manifest.get(w["name"].lower()) or {}).get("size")}
                 for w in wanted]
        seen = self._ex_host_call("Get-StagedFile", {"staging_dir": args["staging_dir"], "files": files})
        observed = {f["staged_name"].lower(): f for f in seen["data"].get("files") or []}
        return staging_plan(wanted, manifest, observed, seen["data"].get("free_disk_gb"), min_free,
                            args["allowed_signers"])

    def _ex_download(self, item, repository, args, done):
        expected = item["expected"]
        op_args = {"repository": repository, "name": expected["name"], "staged_name": item["staged_name"],
                   "staging_dir": args["staging_dir"], "size": expected["size"], "sha256": expected["sha256"],
                   "allowed_signers": args["allowed_signers"]}
        answer = self._ex_host_call("Invoke-PackageDownload", op_args)["data"]
        verified, reason = judge_file(expected, dict(answer, exists=True), args["allowed_signers"])
        if verified and answer.get("exists"):
            return
        raise self._ex_error(
            "%s from %s failed verification: %s. The downloaded file was removed from %s, so nothing can be "
            "installed from it. Check the repository copy against Microsoft's download and rebuild manifest.json "
            "if the file is right.%s" % (
                expected["name"], args["repository_url"], reason or "the server rejected it (%s)"
                % answer.get("mismatch"), args["staging_dir"],
                " Already staged and verified: %s." % ", ".join(done) if done else ""))
