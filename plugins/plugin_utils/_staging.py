# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What to stage before a patch window, under which name, and whether a staged
file can be trusted.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports.  The host reports what it sees (size, SHA256,
Authenticode status and signer); the judgement is made here, so check mode,
the real run and the final verification cannot disagree.
"""
from __future__ import annotations

import re

from ._exchange_build import ExchangeBuild

__all__ = [
    "StagingInputError", "STAGE_ACTIONS", "GIB", "wanted_from_plan", "wanted_from_list", "staged_name",
    "manifest_index", "default_min_free_gb", "judge_file", "staging_plan", "DEFAULT_SIGNERS",
    "staging_dir_problem", "repository_problem", "cu_lookup", "public_entry", "manifest_url",
]

GIB = 1024 ** 3
# Plan actions that need an installer on the server before the window.
STAGE_ACTIONS = ("install_dotnet", "install_cu", "upgrade_to_se", "install_su")
SU_ACTIONS = ("install_su",)
DEFAULT_SIGNERS = ("Microsoft Corporation",)
# Free space Setup needs during the window, after the files are staged: a CU
# unpacks and rewrites the whole product, an SU patches it in place.
DEFAULT_MIN_FREE_GB = {"image": 30.0, "package": 10.0}

# Windows refuses these in file names; a name with a path separator would
# also let a manifest or a plan write outside the staging folder.
_BAD_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_CU_LABEL = re.compile(r"^[A-Za-z0-9]{1,16}$")


class StagingInputError(ValueError):
    """A plan, installer list or manifest that cannot be staged from."""


# A colon after the drive would name an NTFS alternate data stream, not a folder.
_STAGING_DIR = re.compile(r'^[A-Za-z]:\\[^"%*?<>|:\x00-\x1f]*$')
_REPOSITORY = re.compile(r"^(https?://[^\s/]+(/[^\s]*)?|\\\\[^\\/\s]+\\[^\\/]+(\\.*)?)$")


def staging_dir_problem(value):
    """Why ``value`` is not a staging folder (an absolute local folder such
    as C:\\ExchangeUpdates), or None.  update_stage and preflight share it."""
    if not _STAGING_DIR.match(value or ""):
        return ("staging_dir %r must be an absolute local folder such as C:\\ExchangeUpdates (no quotes, colons, %% "
                "or wildcards)" % (value,))
    # C:\ExchangeUpdates\..\Windows passes the pattern but resolves outside the folder it names.
    if ".." in value.replace("/", "\\").split("\\"):
        return "staging_dir %r must not contain '..': name the folder itself, such as C:\\ExchangeUpdates" % (value,)
    return None


def repository_problem(value, option="repository_url"):
    """Why ``value`` is not a package repository (http(s)://server/path/ or
    \\\\server\\share\\path), or None."""
    if not _REPOSITORY.match(value or ""):
        return "%s %r must be http(s)://server/path/ or \\\\server\\share\\path" % (option, value)
    return None


def manifest_url(repository_url):
    """Where the repository's manifest.json lies."""
    if repository_url.lower().startswith(("http://", "https://")):
        return repository_url.rstrip("/") + "/manifest.json"
    return repository_url.rstrip("\\") + "\\manifest.json"


def cu_lookup(catalog):
    """A function build -> CU label (None when unknown), for wanted_from_plan."""
    def cu_of(build):
        try:
            build = ExchangeBuild.parse(build)
            entry = catalog.find(build)
            return entry.cu if entry is not None else catalog.cu_of(build)
        except ValueError:
            return None
    return cu_of


def public_entry(item, observed=None):
    """One entry of update_stage's ``staged`` result."""
    seen = observed if observed is not None else (item.get("observed") or {})
    return {
        "name": item["name"], "staged_name": item["staged_name"], "cu": item.get("cu"), "step": item.get("step"),
        "path": seen.get("path"), "size": item["expected"]["size"], "sha256": item["expected"]["sha256"],
        "signer": seen.get("signer"), "verified": bool(item.get("verified")), "action": item["action"],
    }


def _check_name(name, what):
    if not isinstance(name, str) or not name.strip():
        raise StagingInputError("%s must be a file name, got %r" % (what, name))
    if _BAD_NAME.search(name) or name in (".", "..") or name.startswith(".") or len(name) > 200:
        raise StagingInputError("%s %r is not a plain file name (no folders, no \\ / : * ? \" < > |)" % (what, name))
    return name


def staged_name(name, cu=None):
    """The name a file gets in the staging folder.

    SUs carry the CU they belong to, because Microsoft reuses one KB file name
    for the packages of different CUs: ``CU14-Exchange2019-KB5094139-x64-en.msp``.
    """
    _check_name(name, "installer")
    if not cu:
        return name
    if not _CU_LABEL.match(str(cu)):
        raise StagingInputError("CU label %r for %s must be letters and digits, like CU14 or RTM" % (cu, name))
    prefix = "%s-" % cu
    return name if name.upper().startswith(prefix.upper()) else prefix + name


def is_image(name):
    return name.lower().endswith(".iso")


def wanted_from_plan(plan, cu_of):
    """Installers a plan needs, in plan order, without duplicates.

    ``cu_of(build)`` names the CU of a build (the catalog's answer); an SU
    step's target build is on the CU the package was built for.
    """
    if not isinstance(plan, dict) or not isinstance(plan.get("steps"), list):
        raise StagingInputError("plan must be the 'plan' returned by onprem.exchange.build_facts (a dict with steps)")
    wanted, seen = [], set()
    for step in plan["steps"]:
        if not isinstance(step, dict) or step.get("action") not in STAGE_ACTIONS:
            continue
        label = "step %s (%s %s)" % (step.get("order"), step.get("action"), step.get("update") or "")
        if not step.get("installer"):
            raise StagingInputError("%s names no installer: the catalog has no file name for it" % label.strip())
        cu = None
        if step["action"] in SU_ACTIONS:
            cu = cu_of(step.get("to_build")) if step.get("to_build") else None
            if not cu:
                raise StagingInputError("%s: the CU of build %s is unknown, so its package cannot be named"
                                        % (label, step.get("to_build")))
        item = {"name": _check_name(step["installer"], "installer"), "staged_name": staged_name(step["installer"], cu),
                "cu": cu, "step": step.get("order"), "action": step["action"], "update": step.get("update")}
        if item["staged_name"].lower() not in seen:
            seen.add(item["staged_name"].lower())
            wanted.append(item)
    return wanted


def wanted_from_list(installers):
    """Installers named directly: file names, or ``{name, cu}`` for SUs."""
    if not isinstance(installers, list):
        raise StagingInputError("installers must be a list of file names")
    wanted, seen = [], set()
    for entry in installers:
        if isinstance(entry, dict):
            name, cu = entry.get("name"), entry.get("cu")
        else:
            name, cu = entry, None
        item = {"name": _check_name(name, "installer"), "staged_name": staged_name(name, cu), "cu": cu,
                "step": None, "action": None, "update": None}
        if item["staged_name"].lower() not in seen:
            seen.add(item["staged_name"].lower())
            wanted.append(item)
    return wanted


def manifest_index(manifest):
    """``{lower-case name: {name, size, sha256}}`` from a repository manifest.

    Names compare case-insensitively: Windows shares and IIS do, and the
    catalog and Microsoft's downloads disagree on ``.ISO`` versus ``.iso``.
    """
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list):
        raise StagingInputError("the repository manifest has no 'files' list")
    index = {}
    for number, entry in enumerate(files):
        if not isinstance(entry, dict):
            raise StagingInputError("manifest entry %d is not an object" % number)
        name = _check_name(entry.get("name"), "manifest entry %d name" % number)
        size = entry.get("size")
        digest = entry.get("sha256")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise StagingInputError("manifest entry %s has size %r, expected a byte count" % (name, size))
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise StagingInputError("manifest entry %s has sha256 %r, expected 64 hex digits" % (name, digest))
        index[name.lower()] = {"name": name, "size": size, "sha256": digest.lower()}
    return index


def default_min_free_gb(wanted):
    return DEFAULT_MIN_FREE_GB["image" if any(is_image(w["name"]) for w in wanted) else "package"]


def judge_file(expected, observed, allowed_signers=DEFAULT_SIGNERS):
    """``(verified, reason)`` for one staged file against its manifest entry.

    ``observed`` is what the host saw: ``exists``, ``size``, ``sha256``,
    ``signature_status`` (Authenticode: Valid, NotSigned, HashMismatch...) and
    ``signer`` (the signing certificate's simple name).
    """
    if not observed or not observed.get("exists"):
        return False, "not staged"
    if observed.get("size") != expected["size"]:
        return False, "size %s bytes, the manifest says %d" % (observed.get("size"), expected["size"])
    if (observed.get("sha256") or "").lower() != expected["sha256"]:
        return False, "SHA256 %s does not match the manifest's %s" % (
            (observed.get("sha256") or "not computed").lower(), expected["sha256"])
    if observed.get("signature_status") != "Valid":
        return False, "Authenticode signature is %s, not Valid" % (observed.get("signature_status") or "unknown")
    allowed = {s.lower() for s in allowed_signers}
    if (observed.get("signer") or "").lower() not in allowed:
        return False, "signed by %r, not by %s" % (observed.get("signer"), " or ".join(repr(s) for s in allowed_signers))
    return True, None


def staging_plan(wanted, manifest, observed, free_disk_gb, min_free_gb, allowed_signers=DEFAULT_SIGNERS):
    """Decide what to download.

    ``observed`` maps lower-case staged names to the host's report.  Returns
    ``{"items": [...], "download": [...], "missing": [...], "disk": {...}}``;
    each item has its manifest entry, the verdict on what is staged now and
    ``action`` (``present`` or ``download``).  ``missing`` lists installers
    the manifest does not hold.  ``disk.ok`` is False when the downloads
    would leave less than ``min_free_gb`` free.
    """
    items, download, missing = [], [], []
    for want in wanted:
        entry = manifest.get(want["name"].lower())
        if entry is None:
            missing.append(want["name"])
            continue
        seen = observed.get(want["staged_name"].lower())
        verified, reason = judge_file(entry, seen, allowed_signers)
        item = dict(want, expected=entry, observed=seen, verified=verified, reason=reason,
                    action="present" if verified else "download")
        items.append(item)
        if not verified:
            download.append(item)
    need_bytes = sum(i["expected"]["size"] for i in download)
    # A stale file about to be replaced gives its space back first.
    reclaim = sum((i["observed"] or {}).get("size") or 0 for i in download if (i["observed"] or {}).get("exists"))
    need_gb = round((need_bytes - reclaim) / GIB + min_free_gb, 2) if download else 0.0
    disk = {"free_gb": free_disk_gb, "needed_gb": need_gb, "min_free_gb": min_free_gb,
            "download_gb": round(need_bytes / GIB, 2),
            "ok": not download or (free_disk_gb is not None and free_disk_gb >= need_gb)}
    return {"items": items, "download": download, "missing": missing, "disk": disk}
