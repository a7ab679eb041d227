# Copyright: Contributors to the onprem.exchange collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Turn one server's facts and a target policy into an ordered update plan.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports, no clock: ``today`` is an argument.

Facts (a dict; ``build_facts`` produces exactly these keys)
-----------------------------------------------------------
``build``            str, required. ExSetup.exe file version (``15.02.1748.010``);
                     any form ``_exchange_build`` accepts.
``dotnet_release``   int or None. .NET Framework 4.x registry ``Release`` value.
``pending_reboot``   bool or None. A reboot is pending on the server.
``setup_watermark``  str or None. Exchange Setup's watermark left by an
                     interrupted Setup run (None when Setup finished).
``free_disk_gb``     float or None. Free space on the system drive.
``os``               str or None: the WMI caption (``"Microsoft Windows Server 2019
                     Datacenter"``) or a plain name (``"Windows Server 2019"``).
``os_version``       str or None, ``Win32_OperatingSystem.Version`` (``10.0.17763``);
                     identifies the OS when the caption does not.
``roles``            list of str, e.g. ``["Mailbox"]`` or ``["Edge"]``.

Missing optional keys count as None (unknown); unknown never blocks a plan
but yields a warning finding.

Policy (a dict)
---------------
``target``            ``"latest"`` (newest build the server can reach),
                      ``"eems"`` (newest update that restores EEMS, on the
                      server's own product line when that line can; else on
                      the line it can reach), ``"eems_minimal"`` (smallest
                      change meeting both EEMS cut-offs) or a build string
                      (an exact catalog build). Default latest. Anything
                      else is a ``PlanInputError`` (see ``check_target``).
``esu_enrolled``      bool, default False. ESU-only updates are planned only
                      when True.
``min_free_disk_gb``  number, optional. Default 30 when a CU or SE upgrade is
                      planned, 10 when only SUs are.
``installer_format``  ``"msp"`` (default) or ``"exe"`` for SU/HU packages.
``available_media``   list of installer file names the repository holds, or
                      None (unknown). A CU whose media Microsoft no longer
                      offers (catalog ``installers.cu_offered``) is planned
                      only when its file is in this list; otherwise the plan
                      names the missing file.

Output (a JSON-safe dict)
-------------------------
``current``     the catalog classification of ``facts.build`` (None if unreadable).
``target``      ``{policy, requested, build, product, cu, update, name,
                display_name, product_change, description, fallback}``
                (``display_name`` as admins say it, "Exchange 2019 CU14
                Nov24SU"; ``product_change`` True when the plan moves the
                server to another product, 2019 -> SE); ``fallback`` is True when the
                requested target is unreachable and ``steps`` lead to the best
                reachable state instead (only for ``eems``).
``steps``       ordered list of ``{order, action, from_build, to_build, update,
                kb, installer, reason, esu_only}``. Actions: ``reboot``,
                ``resume_setup``, ``free_disk``, ``install_dotnet``,
                ``install_cu``, ``upgrade_to_se``, ``install_su`` (SUs and HUs).
                An interrupted Setup stops the plan after ``resume_setup``:
                gather facts again once Setup has finished.
``findings``    list of ``{id, severity (info|warning|critical), message, remedy}``.
``reachable``   True when the requested target can be reached (or already is) and
                every planned step can run; a step that cannot (a CU the OS
                does not support, a .NET the OS cannot have, media nobody
                offers) makes it False with a critical finding saying why, and
                no step from that one on is planned.
``meets_eems``  ``{march_2023, june_2026}`` after the plan: True, False, or
                None where EEMS does not exist (Exchange 2013) or the catalog
                cannot tell.
``today``       the date the plan was made for (ISO).
"""

from __future__ import annotations

from ._exchange_build import ExchangeBuild, ExchangeBuildError
from ._exchange_catalog import CUTOFF_IDS, load_catalog, to_date

__all__ = ["PlanInputError", "TARGET_POLICIES", "check_target", "plan_update"]

DEFAULT_MIN_FREE_DISK_GB = {"cu": 30.0, "su": 10.0}
TARGET_POLICIES = ("latest", "eems", "eems_minimal")
SEVERITIES = ("info", "warning", "critical")


class PlanInputError(ValueError):
    """Facts or policy with the wrong shape (not a wrong build: that is a finding)."""


def check_target(value):
    """Return the target stripped, or raise ``PlanInputError`` naming the allowed values.

    Allowed: one of ``TARGET_POLICIES`` or a build string in any form
    ``_exchange_build`` accepts (``15.2.1748.53``). Whether the build is in
    the catalog is the plan's business (a finding), not an input error.
    """
    allowed = "%s, or an Exchange build such as 15.2.2562.53" % ", ".join(TARGET_POLICIES)
    if not isinstance(value, str) or not value.strip():
        raise PlanInputError("target must be one of %s; got %r" % (allowed, value))
    text = value.strip()
    if text in TARGET_POLICIES:
        return text
    try:
        ExchangeBuild.parse(text)
    except ExchangeBuildError:
        raise PlanInputError("target %r is not allowed; use one of %s" % (text, allowed)) from None
    return text


class _Hop:
    """One build-changing move: ``cu``, ``upgrade`` (to another product) or ``su``."""

    __slots__ = ("kind", "entry")

    def __init__(self, kind, entry):
        self.kind = kind
        self.entry = entry


class _Candidate:
    __slots__ = ("entry", "build", "hops")

    def __init__(self, entry, build, hops):
        self.entry = entry
        self.build = build
        self.hops = hops


class _Plan:
    """Collects steps and findings while the plan is built."""

    def __init__(self):
        self.steps = []
        self.findings = []

    def step(self, action, from_build, to_build, reason, update=None, kb=None, installer=None, esu_only=False):
        self.steps.append({
            "order": len(self.steps) + 1,
            "action": action,
            "from_build": str(from_build) if from_build is not None else None,
            "to_build": str(to_build) if to_build is not None else None,
            "update": update,
            "kb": kb,
            "installer": installer,
            "reason": reason,
            "esu_only": bool(esu_only),
        })

    def finding(self, finding_id, severity, message, remedy=None):
        if any(f["id"] == finding_id for f in self.findings):
            return
        self.findings.append({"id": finding_id, "severity": severity, "message": message, "remedy": remedy})


def _check_inputs(facts, policy):
    if not isinstance(facts, dict):
        if isinstance(facts, str):
            facts = {"build": facts}
        else:
            raise PlanInputError("facts must be a dict with at least 'build', got %s" % type(facts).__name__)
    if "build" not in facts:
        raise PlanInputError("facts lack the required key 'build' (the ExSetup.exe file version)")
    policy = dict(policy or {})
    target = policy.get("target", "latest")
    if not isinstance(target, str) or not target.strip():
        raise PlanInputError("policy target must be one of %s or a build string, got %r"
                             % (", ".join(TARGET_POLICIES), target))
    media = policy.get("available_media")
    if media is not None and (isinstance(media, (str, bytes, dict)) or not all(isinstance(m, str) for m in media)):
        raise PlanInputError("policy available_media must be a list of installer file names, got %r" % (media,))
    fmt = policy.get("installer_format", "msp")
    if fmt not in ("msp", "exe"):
        raise PlanInputError("policy installer_format must be 'msp' or 'exe', got %r" % (fmt,))
    min_disk = policy.get("min_free_disk_gb")
    if min_disk is not None and (isinstance(min_disk, bool) or not isinstance(min_disk, (int, float))):
        raise PlanInputError("policy min_free_disk_gb must be a number, got %r" % (min_disk,))
    roles = facts.get("roles") or []
    if isinstance(roles, str):
        roles = [roles]
    return facts, {
        "target": target.strip(),
        "esu_enrolled": bool(policy.get("esu_enrolled", False)),
        "min_free_disk_gb": min_disk,
        "installer_format": fmt,
        "available_media": None if media is None else {m.strip().lower() for m in media},
    }, [str(r) for r in roles]


def _media_missing(catalog, policy, entry):
    """The CU installer file ``entry`` needs when nobody can supply it, else None.

    Microsoft's download offers only some CUs (catalog ``installers.cu_offered``);
    any other CU must be in the repository (``policy['available_media']``).
    """
    if catalog.cu_offered(entry.product, entry.cu) is not False:
        return None
    installer = catalog.cu_installer(entry.product, entry.cu)
    media = policy.get("available_media")
    if installer and media is not None and installer.lower() in media:
        return None
    return installer or "%s %s media" % (entry.product, entry.cu)


def _candidates(catalog, current, current_build, policy):
    """Every catalog build the server can end on, with the hops to get there.

    Returns ``(usable, blocked)``: ``blocked`` maps a candidate's entry to the
    CU media its path needs that Microsoft no longer offers and the
    repository does not hold.
    """
    esu_enrolled = policy["esu_enrolled"]
    build = current_build
    product = current["product"]
    found = [_Candidate(None, build, [])]

    def allowed(entry):
        return esu_enrolled or not entry.esu_only

    def add_cu_line(target_product, cu, prefix, first_kind):
        release = catalog.cu_release(target_product, cu)
        if release is None:
            return
        hops = prefix + [_Hop(first_kind, release)]
        found.append(_Candidate(release, release.build, hops))
        for entry in catalog.cu_entries(target_product, cu):
            if not entry.is_release and allowed(entry):
                found.append(_Candidate(entry, entry.build, hops + [_Hop("su", entry)]))

    # Updates on the current CU.
    if current["cu"] is not None:
        for entry in catalog.cu_entries(product, current["cu"]):
            if entry.build > build and not entry.is_release and allowed(entry):
                found.append(_Candidate(entry, entry.build, [_Hop("su", entry)]))
    # Later CUs of the same product; a CU installs directly over any older one.
    for cu in catalog.cus(product):
        release = catalog.cu_release(product, cu)
        if release is not None and release.build.cu_key > build.cu_key:
            add_cu_line(product, cu, [], "cu")
    # In-place upgrades to another product line (2019 CU14 or CU15 -> SE).
    # Newest gate first, so that of two equally short paths the one through
    # the newer CU is kept.
    rules = [r for r in catalog.data.get("upgrades", {}).get("in_place", ()) if r["from_product"] == product]
    gates = [(catalog.cu_release(product, r["from_cu"]), r) for r in rules]
    for gate, rule in sorted((g for g in gates if g[0] is not None), key=lambda g: g[0].build, reverse=True):
        if current["cu"] == rule["from_cu"]:
            prefix = []
        elif gate.build.cu_key > build.cu_key:
            prefix = [_Hop("cu", gate)]
        else:
            continue
        for cu in catalog.cus(rule["to_product"]):
            add_cu_line(rule["to_product"], cu, prefix, "upgrade")

    usable, blocked = [], {}
    best = {}
    for candidate in found:
        missing = [m for m in (_media_missing(catalog, policy, h.entry) for h in candidate.hops
                               if h.kind in ("cu", "upgrade")) if m]
        key = id(candidate.entry)
        if missing:
            if key not in best:
                blocked.setdefault(key, missing)
            continue
        blocked.pop(key, None)
        kept = best.get(key)
        if kept is None or len(candidate.hops) < len(kept.hops):
            best[key] = candidate
    for candidate in found:
        if best.get(id(candidate.entry)) is candidate:
            usable.append(candidate)
    return usable, blocked


def _meets_both(catalog, build):
    verdicts = [catalog.meets_update(build, catalog.cutoff(c)["update"]) for c in CUTOFF_IDS]
    return all(v is True for v in verdicts)


def _smallest(candidates):
    return min(candidates, key=lambda c: (len(c.hops), c.build.version)) if candidates else None


def plan_update(facts, policy=None, today=None, catalog=None):
    """Plan the updates for one server; see the module docstring for the contract."""
    if today is None:
        raise PlanInputError("plan_update needs today's date; the planner never reads the clock")
    today = to_date(today)
    catalog = catalog or load_catalog()
    facts, policy, roles = _check_inputs(facts, policy)
    plan = _Plan()
    target_info = {"policy": policy["target"] if policy["target"] in TARGET_POLICIES else "build",
                   "requested": policy["target"], "build": None, "product": None, "cu": None,
                   "update": None, "name": None, "display_name": None, "product_change": False,
                   "description": None, "fallback": False}
    result = {"current": None, "target": target_info, "steps": plan.steps, "findings": plan.findings,
              "reachable": False, "meets_eems": {c: None for c in CUTOFF_IDS}, "today": today.isoformat()}

    try:
        current = catalog.classify(facts["build"], today).to_dict()
    except ExchangeBuildError as err:
        plan.finding("build_unreadable", "critical", str(err),
                     "Read the build from the ExSetup.exe file version and gather facts again.")
        return result
    result["current"] = current
    facts = dict(facts)
    facts["os_name"] = catalog.normalise_os(facts.get("os"), facts.get("os_version"))
    _current_findings(plan, catalog, current, facts, policy, roles, today)

    # Parsed once here; everything inward takes the ExchangeBuild.
    current_build = ExchangeBuild.parse(current["build"])
    candidates, blocked = _candidates(catalog, current, current_build, policy)
    chosen, reachable = _choose_target(plan, catalog, current, current_build, candidates, blocked, policy, today)
    final = chosen if chosen is not None else _Candidate(catalog.find(current_build), current_build, [])
    _describe_target(target_info, catalog, current, final, reachable, chosen is not None)

    _prerequisite_steps(plan, facts, policy, current_build, final.hops)
    if facts.get("setup_watermark"):
        result["reachable"] = reachable
        target_info["description"] += "; planned after the interrupted Setup is finished and facts are gathered again"
        result["meets_eems"] = _meets_after(catalog, current_build)
        return result
    reached, stopped = _install_steps(plan, catalog, current, current_build, facts, policy, final.hops)
    if stopped:
        reachable = False
        target_info["description"] += "; stopped before %s: %s" % (stopped["what"], stopped["why"])
    result["reachable"] = reachable
    result["meets_eems"] = _meets_after(catalog, reached)
    return result


def _meets_after(catalog, build):
    product = catalog.product_of(build)
    if product not in catalog.eems.get("introduced_in", {}):
        return {c: None for c in CUTOFF_IDS}
    return {c: catalog.meets_update(build, catalog.cutoff(c)["update"]) for c in CUTOFF_IDS}


def _newest(candidates):
    return max(candidates, key=lambda c: (c.build.version, -len(c.hops))) if candidates else None


def _newest_on_own_line(catalog, product, candidates):
    """The newest candidate on the server's own product line if there is one, else the newest of all."""
    own = [c for c in candidates if catalog.product_of(c.build) == product]
    return _newest(own or candidates)


def _media_finding(plan, catalog, blocked, entry, severity, lead):
    missing = blocked.get(id(entry))
    if not missing:
        return False
    plan.finding("media_missing", severity,
                 "%s %s (%s) needs CU media Microsoft no longer offers and the repository does not hold: %s."
                 % (lead, entry.name, entry.build, ", ".join(missing)),
                 "Put %s into the installer repository (with its SHA256 in manifest.json) and plan again."
                 % " and ".join(missing))
    return True


def _choose_target(plan, catalog, current, current_build, candidates, blocked, policy, today):
    """Return ``(candidate or None, reachable)``; record why a target is out of reach."""
    product = current["product"]
    requested = policy["target"]
    esu_hint = "" if policy["esu_enrolled"] else " (ESU-only updates are excluded: esu_enrolled is false)"
    if requested == "latest":
        best = _newest(candidates)
        better = [e for e in catalog.entries if id(e) in blocked and e.build > best.build]
        if better:
            _media_finding(plan, catalog, blocked, max(better, key=lambda e: e.build), "warning", "A newer build,")
        return best, True

    if requested in ("eems", "eems_minimal"):
        if product not in catalog.eems.get("introduced_in", {}):
            plan.finding("eems_unavailable", "critical",
                         "%s has no Emergency Mitigation Service, so no build of it can meet the EEMS cut-offs."
                         % product,
                         "Apply interim mitigations by hand and migrate to Exchange SE.")
            return None, False
        # eems_minimal: the smallest change. eems: nothing when EEMS already
        # works, else the newest update that restores it, staying on the
        # server's product line when that line can.
        pick = _smallest if requested == "eems_minimal" else (
            lambda cands: _newest_on_own_line(catalog, product, cands))
        meeting = [c for c in candidates if _meets_both(catalog, c.build)]
        if meeting:
            stay = [c for c in meeting if not c.hops]
            return (stay[0] if stay and requested == "eems" else pick(meeting)), True
        fetch_cutoff = catalog.cutoff("march_2023")["update"]
        partial = [c for c in candidates if catalog.meets_update(c.build, fetch_cutoff) is True]
        plan.finding("eems_target_unreachable", "critical",
                     "No build reachable from %s meets the June 2026 EEMS cut-off%s." % (current["build"], esu_hint),
                     _dead_end_remedy(catalog, product, policy))
        for entry in catalog.entries:
            if id(entry) in blocked and _meets_both(catalog, entry.build):
                _media_finding(plan, catalog, blocked, entry, "warning", "A build that would meet it,")
                break
        fallback = pick(partial)
        if fallback is not None and fallback.hops:
            return fallback, False
        return None, False

    try:
        wanted = ExchangeBuild.parse(requested)
        wanted_product = catalog.product_of(wanted)
    except ExchangeBuildError as err:
        plan.finding("target_unreadable", "critical", str(err),
                     "Set the policy target to one of %s or a build such as 15.2.2562.53."
                     % ", ".join(TARGET_POLICIES))
        return None, False
    if wanted == current_build:
        return None, True
    entry = catalog.find(wanted)
    if wanted < current_build and wanted_product == product or (
            wanted_product == product and wanted.cu_key < current_build.cu_key):
        plan.finding("target_is_downgrade", "critical",
                     "Target %s is older than the installed build %s; Exchange cannot be downgraded."
                     % (wanted, current_build), "Choose a target newer than the installed build.")
        return None, False
    if entry is None:
        plan.finding("target_unknown", "critical",
                     "Target %s is not a build in the catalog, so no installer can be named for it." % wanted,
                     "Choose a catalog build, or add it with scripts/update_catalog.py.")
        return None, False
    for candidate in candidates:
        if candidate.entry is entry:
            return candidate, True
    if _media_finding(plan, catalog, blocked, entry, "critical", "Target"):
        return None, False
    if entry.esu_only and not policy["esu_enrolled"]:
        plan.finding("esu_required", "critical",
                     "Target %s (%s) is available only to organisations enrolled in Extended Security Updates."
                     % (entry.build, entry.name),
                     "Set esu_enrolled: true if the organisation is enrolled, or choose a public build.")
    elif wanted_product != product:
        plan.finding("no_upgrade_path", "critical",
                     "%s cannot be upgraded in place to %s." % (product, wanted_product),
                     _dead_end_remedy(catalog, product, policy))
    else:
        plan.finding("target_unreachable", "critical",
                     "Target %s (%s) cannot be reached from %s." % (entry.build, entry.name, current_build),
                     "Choose a target on a CU at or above the installed one.")
    return None, False


def _dead_end_remedy(catalog, product, policy):
    for rule in catalog.data.get("upgrades", {}).get("in_place", ()):
        if rule["from_product"] == product:
            return "Upgrade in place to %s from %s %s (policy target 'latest')." % (
                rule["to_product"], product, rule["from_cu"])
    rules = catalog.not_in_place(product)
    if rules:
        return " ".join(r["remedy"].strip() for r in rules)
    if not policy["esu_enrolled"]:
        return "Enrol in ESU if available, or upgrade to Exchange SE."
    return "Upgrade to Exchange SE."


def _describe_target(info, catalog, current, final, reachable, moved):
    if final.entry is not None:
        info.update(build=str(final.entry.build), product=final.entry.product, cu=final.entry.cu,
                    update=final.entry.update, name=final.entry.name)
    else:
        info.update(build=str(final.build), product=current["product"], cu=current["cu"],
                    update=current["update"], name=current["description"])
    info["display_name"] = catalog.display_name(final.build)
    info["product_change"] = info["product"] != current["product"]
    if not final.hops:
        text = "stay on %s (%s)" % (info["build"], info["name"])
    else:
        text = "%s (%s)" % (info["display_name"], info["build"])
        if info["product_change"]:
            text += ", a product change: %s -> %s" % (current["product"], info["product"])
    if not reachable and moved:
        info["fallback"] = True
        text = "requested target unreachable; best reachable instead: " + text
    elif not reachable:
        text = "requested target unreachable; no change planned"
    info["description"] = text


def _current_findings(plan, catalog, current, facts, policy, roles, today):
    product = current["product"]
    if not current["known"]:
        severity = "info" if current["position"] == "newer_than_catalog" else "warning"
        plan.finding("build_not_in_catalog", severity, "Installed build: %s." % current["description"],
                     "If Microsoft released this build, add it with scripts/update_catalog.py.")
    if current["source_form"] == "admin_display_version":
        plan.finding("build_from_admin_display_version", "warning",
                     "The build came from AdminDisplayVersion, which hides installed SUs; the SU level may be higher.",
                     "Read the ExSetup.exe file version instead.")
    life = catalog.lifecycle_data.get(product, {})
    if current["lifecycle"] == "end_of_life":
        plan.finding("end_of_life", "critical",
                     "%s reached end of support on %s." % (product, life.get("end_of_support")),
                     _dead_end_remedy(catalog, product, policy))
    elif current["lifecycle"] == "esu":
        plan.finding("esu_only_support", "warning",
                     "%s is past end of support (%s); updates come only through Extended Security Updates, "
                     "which end on %s." % (product, life.get("end_of_support"), catalog.esu_end(product)),
                     "Plan the move to Exchange SE.")
    if not current["cu_supported"]:
        plan.finding("cu_not_supported", "warning",
                     "%s %s is not a CU that Microsoft services." % (product, current["cu"] or "(unknown CU)"),
                     "Install a supported CU.")
    esu_end = catalog.esu_end(product)
    if policy["esu_enrolled"] and esu_end is not None and today > esu_end:
        plan.finding("esu_ended", "info",
                     "The Extended Security Update programme for %s ended on %s; no further SUs will ship."
                     % (product, esu_end.isoformat()),
                     "Updates already released to ESU customers can still be installed; plan the move to SE.")
    # EEMS does not run on Edge Transport servers (it comes with the Mailbox
    # role): its cut-offs are no finding there; the build is judged on its own.
    edge = any(str(r).strip().lower() in ("edge", "edgetransport") for r in roles)
    if current["eems_fetch_ok"] is False and not edge:
        plan.finding("eems_march_2023_not_met", "critical",
                     "Build %s is older than the March 2023 SU: EEMS cannot fetch any mitigation." % current["build"],
                     "Install at least the March 2023 SU level (policy target 'eems').")
    if current["eems_2026_ok"] is False and not edge:
        plan.finding("eems_june_2026_not_met", "critical" if today >= to_date("2026-07-01") else "warning",
                     "Build %s is older than the June 2026 update: EEMS cannot use definitions published from "
                     "July 2026 on." % current["build"],
                     "Install at least the June 2026 update level (policy target 'eems').")
    if current["hybrid_baseline_ok"] is False:
        plan.finding("hybrid_baseline_not_met", "warning",
                     "Build %s is below the Oct25SU baseline: Exchange Online throttles and then blocks its "
                     "hybrid mail." % current["build"], "Install Oct25SU or later.")
    if current["unfixed_cves"]:
        plan.finding("unfixed_cves", "critical",
                     "Build %s is not fixed for %s." % (current["build"], ", ".join(current["unfixed_cves"])),
                     "Install the fixing update, or apply interim mitigations until it is installed.")
    if product == "Exchange 2013":
        plan.finding("migrate_exchange_2013", "critical",
                     "Exchange 2013 gets no more updates and has no EEMS: only manual mitigations protect it.",
                     _dead_end_remedy(catalog, product, policy))
    elif catalog.not_in_place(product) and product != "Exchange 2013":
        plan.finding("no_in_place_upgrade", "warning",
                     "%s cannot be upgraded in place to Exchange SE; CU23 with ESU SUs is the end of its line."
                     % product, _dead_end_remedy(catalog, product, policy))
    if facts.get("os_name") is None and (facts.get("os") or facts.get("os_version")):
        plan.finding("os_unrecognised", "warning",
                     "The operating system %r (version %r) is not a Windows Server release the catalog knows; "
                     "which .NET it can have and which CUs it supports are not checked."
                     % (facts.get("os"), facts.get("os_version")),
                     "Gather Win32_OperatingSystem Caption and Version again; Exchange runs only on Windows Server.")
    if facts.get("dotnet_release") is None:
        plan.finding("dotnet_unknown", "warning", "The installed .NET Framework release is unknown.",
                     "Gather the Release value from HKLM\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full.")


def _prerequisite_steps(plan, facts, policy, build, hops):
    if facts.get("pending_reboot"):
        plan.finding("pending_reboot", "warning", "A reboot is pending; Exchange Setup refuses to run until it is done.",
                     "Reboot the server (the plan starts with it).")
        plan.step("reboot", build, build, "A reboot is pending; installers must not start before it.")
    if facts.get("setup_watermark"):
        plan.finding("setup_interrupted", "critical",
                     "An earlier Exchange Setup run stopped part-way (watermark %r); the server is not in a "
                     "consistent state." % facts["setup_watermark"],
                     "Run Setup again from the same media to finish it, then gather facts and plan again.")
        plan.step("resume_setup", build, None,
                  "Finish the interrupted Setup (watermark %r) before anything else; plan again afterwards."
                  % facts["setup_watermark"])
        return
    if not hops:
        return
    needs_cu = any(h.kind in ("cu", "upgrade") for h in hops)
    minimum = policy["min_free_disk_gb"]
    if minimum is None:
        minimum = DEFAULT_MIN_FREE_DISK_GB["cu" if needs_cu else "su"]
    free = facts.get("free_disk_gb")
    if free is None:
        plan.finding("free_disk_unknown", "warning", "Free space on the system drive is unknown.",
                     "Check that at least %g GB are free before installing." % minimum)
    elif free < minimum:
        plan.finding("low_disk_space", "critical",
                     "Only %g GB free on the system drive; %g GB are needed for this plan." % (free, minimum),
                     "Free disk space before the patch window.")
        plan.step("free_disk", build, build,
                  "%g GB free, %g GB needed to stage and install %s." % (
                      free, minimum, "a CU" if needs_cu else "the updates"))


def _install_steps(plan, catalog, current, current_build, facts, policy, hops):
    """Add the install steps; return ``(build reached, None)`` or ``(build reached, stop)``.

    ``stop`` (``{what, why}``) means a hop cannot run (its CU is not
    supported on this OS, no .NET it needs can exist on this OS, its media
    is missing): the reason is a critical finding and nothing from that hop
    on is planned.
    """
    state = {"product": current["product"], "cu": current["cu"], "build": current_build,
             "dotnet": facts.get("dotnet_release")}
    os_name = facts.get("os_name")
    for index, hop in enumerate(hops):
        entry = hop.entry
        if hop.kind in ("cu", "upgrade"):
            stop = (_check_os(plan, catalog, entry, os_name)
                    or _ensure_dotnet(plan, catalog, state, entry, os_name, policy))
            if stop:
                return state["build"], stop
            if hop.kind == "cu":
                reason = "Install %s %s (full build, Setup /Mode:Upgrade)%s." % (
                    entry.product, entry.cu, _cu_reason(catalog, state, entry, hops[index + 1:]))
                action = "install_cu"
            else:
                rule = catalog.in_place_upgrade(state["product"], state["cu"], entry.product) or {}
                reason = "Upgrade %s %s in place to %s %s (product change: %s -> %s). %s" % (
                    state["product"], state["cu"], entry.product, entry.cu, state["product"], entry.product,
                    (rule.get("note") or "").strip())
                action = "upgrade_to_se"
            plan.step(action, state["build"], entry.build, reason.strip(), update=entry.update, kb=entry.kb,
                      installer=catalog.cu_installer(entry.product, entry.cu), esu_only=False)
            state.update(product=entry.product, cu=entry.cu, build=entry.build)
            plan.step("reboot", entry.build, entry.build, "Restart after Setup before the next change.")
        else:
            reason = "Install %s, the %s for %s %s (an update installs only on the CU it was built for)%s." % (
                entry.update, "hotfix update" if entry.kind == "HU" else "security update",
                entry.product, entry.cu, _su_reason(catalog, state["build"], entry))
            plan.step("install_su", state["build"], entry.build, reason, update=entry.update, kb=entry.kb,
                      installer=catalog.update_installer(entry, policy["installer_format"]), esu_only=entry.esu_only)
            state["build"] = entry.build
            plan.step("reboot", entry.build, entry.build, "Restart so the updated binaries load.")
    return state["build"], None


def _check_os(plan, catalog, entry, os_name):
    """A stop when Microsoft does not support ``entry``'s CU on this OS (Windows never upgrades under Exchange)."""
    if catalog.os_supported(entry.product, entry.cu, os_name) is not False:
        return None
    supported = catalog.supported_os(entry.product, entry.cu) or []
    plan.finding("os_not_supported", "critical",
                 "%s %s is not supported on %s (it runs on %s), and Windows cannot be upgraded in place under "
                 "Exchange." % (entry.product, entry.cu, os_name, ", ".join(supported)),
                 "Install a new server on a supported Windows Server release and move the mailboxes to it.")
    return {"what": "%s %s" % (entry.product, entry.cu), "why": "not supported on %s" % os_name}


def _ensure_dotnet(plan, catalog, state, entry, os_name, policy):
    """Insert .NET (and, if needed, a bridging CU) so ``entry``'s CU can install; a stop dict if it cannot."""
    need = catalog.dotnet_requirement(entry.product, entry.cu, os_name)
    if need is None:
        return None
    if not need["installable"]:
        plan.finding("dotnet_not_installable", "critical",
                     "%s %s needs .NET Framework %s, none of which can be installed on %s."
                     % (entry.product, entry.cu, " or ".join(need["supported"]), os_name),
                     "Install a new server on a Windows Server release that can run it and move the mailboxes.")
        return {"what": "%s %s" % (entry.product, entry.cu), "why": "no .NET it supports exists for %s" % os_name}
    have = state["dotnet"]
    if have is None:
        return None
    if have >= need["min_release"]:
        if catalog.dotnet_version_of(have) not in need["supported"] and have > catalog.dotnet_release(need["max_version"]):
            plan.finding("dotnet_too_new", "warning",
                         ".NET release %d is newer than %s %s supports (%s)." % (
                             have, entry.product, entry.cu, ", ".join(need["supported"])),
                         "Check the Exchange supportability matrix before installing.")
        return None
    here = catalog.dotnet_requirement(state["product"], state["cu"], os_name) if state["cu"] else None
    usable_here = here["supported"] if here else need["supported"]
    choices = [v for v in need["installable"] if v in usable_here and catalog.dotnet_release(v) > have]
    if choices:
        # With the OS unknown, take the oldest choice: every OS the CU runs on can have it or has newer.
        version = need["recommended"] if need["recommended"] in choices and os_name else min(
            choices, key=catalog.dotnet_release)
        _dotnet_step(plan, catalog, state, entry, need, version)
        return None
    bridge, missing = _bridge_cu(catalog, state, need, entry, os_name, policy)
    if bridge is not None:
        stop = _ensure_dotnet(plan, catalog, state, bridge, os_name, policy)
        if stop:
            return stop
        plan.step("install_cu", state["build"], bridge.build,
                  "Install %s %s first: it runs on the installed .NET and on the .NET that %s needs."
                  % (bridge.product, bridge.cu, entry.cu),
                  update=bridge.update, kb=bridge.kb, installer=catalog.cu_installer(bridge.product, bridge.cu))
        state.update(product=bridge.product, cu=bridge.cu, build=bridge.build)
        plan.step("reboot", bridge.build, bridge.build, "Restart after Setup before the next change.")
        return _ensure_dotnet(plan, catalog, state, entry, os_name, policy)
    # Microsoft's supportability matrix: when no intermediate CU is
    # available, install the newest .NET the target supports, then the CU
    # immediately (the installed CU runs unsupported in between).
    version = need["recommended"] if os_name else min(need["installable"], key=catalog.dotnet_release)
    plan.finding("dotnet_then_cu_directly", "warning",
                 "No CU between %s %s and %s %s that runs on both .NET versions is available%s, so .NET "
                 "Framework %s goes first and %s %s straight after it, as Microsoft's supportability matrix "
                 "describes; %s is not supported on that .NET in between." % (
                     state["product"], state["cu"], entry.product, entry.cu,
                     " (missing media: %s)" % ", ".join(missing) if missing else "", version,
                     entry.product, entry.cu, state["cu"]),
                 "Keep the two steps in one maintenance window; to take the supported path instead, put %s into "
                 "the repository." % (" or ".join(missing) if missing else "an intermediate CU"))
    _dotnet_step(plan, catalog, state, entry, need, version)
    return None


def _dotnet_step(plan, catalog, state, entry, need, version):
    plan.step("install_dotnet", state["build"], state["build"],
              ".NET Framework %s is needed before %s %s (installed release %d, required at least %d)."
              % (version, entry.product, entry.cu, state["dotnet"], need["min_release"]),
              update=".NET Framework %s" % version,
              installer=catalog.data["dotnet"].get("installers", {}).get(version))
    plan.step("reboot", state["build"], state["build"], ".NET Framework setup requires a restart.")
    state["dotnet"] = catalog.dotnet_release(version)


def _bridge_cu(catalog, state, need, entry, os_name, policy):
    """``(CU release, missing media)``: the newest CU below ``entry`` that runs on today's and tomorrow's .NET.

    A CU whose media nobody can supply is not used; its file is returned in
    ``missing`` so the plan can name it.
    """
    have_version = catalog.dotnet_version_of(state["dotnet"])
    best, missing = None, []
    for cu in catalog.cus(state["product"]):
        release = catalog.cu_release(state["product"], cu)
        if release is None or release.build <= state["build"] or release.build >= entry.build:
            continue
        if catalog.os_supported(release.product, release.cu, os_name) is False:
            continue
        rule = catalog.dotnet_requirement(state["product"], cu, os_name)
        if rule and have_version in rule["supported"] and set(rule["installable"]) & set(need["installable"]):
            media = _media_missing(catalog, policy, release)
            if media:
                missing.append(media)
            else:
                best = release
    return best, ([] if best is not None else missing[-1:])


def _cu_reason(catalog, state, entry, rest):
    if rest and rest[0].kind == "upgrade":
        return "; the in-place upgrade to %s starts from this CU" % rest[0].entry.product
    if rest and rest[0].kind == "su":
        return "; %s is published for %s, not for %s" % (rest[0].entry.update, entry.cu, state["cu"] or "the installed CU")
    return ""


def _su_reason(catalog, before, entry):
    gains = []
    has_eems = entry.product in catalog.eems.get("introduced_in", {})
    for cutoff_id in CUTOFF_IDS if has_eems else ():
        update = catalog.cutoff(cutoff_id)["update"]
        if catalog.meets_update(entry.build, update) and not catalog.meets_update(before, update):
            gains.append("meets the %s" % catalog.cutoff(cutoff_id)["title"])
    fixed_before = set(catalog.cve_status(before)[0])
    newly = [c for c in catalog.cve_status(entry.build)[0] if c not in fixed_before]
    if newly:
        gains.append("fixes " + ", ".join(newly))
    if entry.esu_only:
        gains.append("ESU-only")
    return "; " + "; ".join(gains) if gains else ""
