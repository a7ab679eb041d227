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
``os``               str or None, e.g. ``"Windows Server 2019"``.
``roles``            list of str, e.g. ``["Mailbox"]`` or ``["Edge"]``.

Missing optional keys count as None (unknown); unknown never blocks a plan
but yields a warning finding.

Policy (a dict)
---------------
``target``            ``"latest"`` (newest build the server can reach),
                      ``"eems"`` (smallest change meeting both EEMS cut-offs)
                      or a build string (an exact catalog build). Default latest.
``esu_enrolled``      bool, default False. ESU-only updates are planned only
                      when True.
``min_free_disk_gb``  number, optional. Default 30 when a CU or SE upgrade is
                      planned, 10 when only SUs are.
``installer_format``  ``"msp"`` (default) or ``"exe"`` for SU/HU packages.

Output (a JSON-safe dict)
-------------------------
``current``     the catalog classification of ``facts.build`` (None if unreadable).
``target``      ``{policy, requested, build, product, cu, update, name,
                description, fallback}``; ``fallback`` is True when the
                requested target is unreachable and ``steps`` lead to the best
                reachable state instead (only for ``eems``).
``steps``       ordered list of ``{order, action, from_build, to_build, update,
                kb, installer, reason, esu_only}``. Actions: ``reboot``,
                ``resume_setup``, ``free_disk``, ``install_dotnet``,
                ``install_cu``, ``upgrade_to_se``, ``install_su`` (SUs and HUs).
                An interrupted Setup stops the plan after ``resume_setup``:
                gather facts again once Setup has finished.
``findings``    list of ``{id, severity (info|warning|critical), message, remedy}``.
``reachable``   True when the requested target can be reached (or already is).
``meets_eems``  ``{march_2023, june_2026}`` after the plan: True, False, or
                None where EEMS does not exist (Exchange 2013) or the catalog
                cannot tell.
``today``       the date the plan was made for (ISO).
"""

from __future__ import annotations

from ._exchange_build import ExchangeBuild, ExchangeBuildError
from ._exchange_catalog import CUTOFF_IDS, load_catalog, to_date

__all__ = ["PlanInputError", "plan_update"]

DEFAULT_MIN_FREE_DISK_GB = {"cu": 30.0, "su": 10.0}
TARGET_POLICIES = ("latest", "eems")
SEVERITIES = ("info", "warning", "critical")


class PlanInputError(ValueError):
    """Facts or policy with the wrong shape (not a wrong build: that is a finding)."""


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
        raise PlanInputError("policy target must be 'latest', 'eems' or a build string, got %r" % (target,))
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
    }, [str(r) for r in roles]


def _candidates(catalog, current, esu_enrolled):
    """Every catalog build the server can end on, with the hops to get there."""
    build = ExchangeBuild.parse(current["build"])
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
    # In-place upgrades to another product line (2019 CU15 -> SE).
    for rule in catalog.data.get("upgrades", {}).get("in_place", ()):
        if rule["from_product"] != product:
            continue
        gate = catalog.cu_release(product, rule["from_cu"])
        if gate is None:
            continue
        if current["cu"] == rule["from_cu"]:
            prefix = []
        elif gate.build.cu_key > build.cu_key:
            prefix = [_Hop("cu", gate)]
        else:
            continue
        for cu in catalog.cus(rule["to_product"]):
            add_cu_line(rule["to_product"], cu, prefix, "upgrade")
    return found


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
                   "update": None, "name": None, "description": None, "fallback": False}
    result = {"current": None, "target": target_info, "steps": plan.steps, "findings": plan.findings,
              "reachable": False, "meets_eems": {c: None for c in CUTOFF_IDS}, "today": today.isoformat()}

    try:
        current = catalog.classify(facts["build"], today).to_dict()
    except ExchangeBuildError as err:
        plan.finding("build_unreadable", "critical", str(err),
                     "Read the build from the ExSetup.exe file version and gather facts again.")
        return result
    result["current"] = current
    _current_findings(plan, catalog, current, facts, policy, roles, today)

    current_build = ExchangeBuild.parse(current["build"])
    candidates = _candidates(catalog, current, policy["esu_enrolled"])
    chosen, reachable = _choose_target(plan, catalog, current, candidates, policy, today)
    result["reachable"] = reachable
    final = chosen if chosen is not None else _Candidate(catalog.find(current_build), current_build, [])
    _describe_target(target_info, catalog, current, final, reachable, chosen is not None)

    _prerequisite_steps(plan, facts, policy, current_build, final.hops)
    if facts.get("setup_watermark"):
        target_info["description"] += "; planned after the interrupted Setup is finished and facts are gathered again"
        result["meets_eems"] = _meets_after(catalog, current_build)
        return result
    _install_steps(plan, catalog, current, facts, policy, final.hops)
    result["meets_eems"] = _meets_after(catalog, final.build)
    return result


def _meets_after(catalog, build):
    product = catalog.product_of(build)
    if product not in catalog.eems.get("introduced_in", {}):
        return {c: None for c in CUTOFF_IDS}
    return {c: catalog.meets_update(build, catalog.cutoff(c)["update"]) for c in CUTOFF_IDS}


def _choose_target(plan, catalog, current, candidates, policy, today):
    """Return ``(candidate or None, reachable)``; record why a target is out of reach."""
    product = current["product"]
    requested = policy["target"]
    esu_hint = "" if policy["esu_enrolled"] else " (ESU-only updates are excluded: esu_enrolled is false)"
    if requested == "latest":
        best = max(candidates, key=lambda c: (c.build.version, -len(c.hops)))
        return best, True

    if requested == "eems":
        if product not in catalog.eems.get("introduced_in", {}):
            plan.finding("eems_unavailable", "critical",
                         "%s has no Emergency Mitigation Service, so no build of it can meet the EEMS cut-offs."
                         % product,
                         "Apply interim mitigations by hand and migrate to Exchange SE.")
            return None, False
        meeting = [c for c in candidates if _meets_both(catalog, c.build)]
        if meeting:
            return _smallest(meeting), True
        fetch_cutoff = catalog.cutoff("march_2023")["update"]
        partial = [c for c in candidates if catalog.meets_update(c.build, fetch_cutoff) is True]
        plan.finding("eems_target_unreachable", "critical",
                     "No build reachable from %s meets the June 2026 EEMS cut-off%s." % (current["build"], esu_hint),
                     _dead_end_remedy(catalog, product, policy))
        fallback = _smallest(partial)
        if fallback is not None and fallback.hops:
            return fallback, False
        return None, False

    try:
        wanted = ExchangeBuild.parse(requested)
        wanted_product = catalog.product_of(wanted)
    except ExchangeBuildError as err:
        plan.finding("target_unreadable", "critical", str(err),
                     "Set the policy target to 'latest', 'eems' or a build such as 15.2.2562.53.")
        return None, False
    current_build = ExchangeBuild.parse(current["build"])
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
    if not final.hops:
        text = "stay on %s (%s)" % (info["build"], info["name"])
    else:
        text = "%s (%s)" % (info["name"], info["build"])
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
    if "Edge" in roles:
        plan.finding("eems_not_on_edge", "info",
                     "EEMS does not run on Edge Transport servers; the cut-offs are reported as build levels only.")
    if current["eems_fetch_ok"] is False:
        plan.finding("eems_march_2023_not_met", "critical",
                     "Build %s is older than the March 2023 SU: EEMS cannot fetch any mitigation." % current["build"],
                     "Install at least the March 2023 SU level (policy target 'eems').")
    if current["eems_2026_ok"] is False:
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


def _install_steps(plan, catalog, current, facts, policy, hops):
    state = {"product": current["product"], "cu": current["cu"], "build": ExchangeBuild.parse(current["build"]),
             "dotnet": facts.get("dotnet_release")}
    os_name = facts.get("os")
    for index, hop in enumerate(hops):
        entry = hop.entry
        if hop.kind in ("cu", "upgrade"):
            _ensure_dotnet(plan, catalog, state, entry, os_name)
            if hop.kind == "cu":
                reason = "Install %s %s (full build, Setup /Mode:Upgrade)%s." % (
                    entry.product, entry.cu, _cu_reason(catalog, state, entry, hops[index + 1:]))
                action = "install_cu"
            else:
                rule = catalog.in_place_upgrade(state["product"], state["cu"], entry.product) or {}
                reason = "Upgrade %s %s in place to %s %s. %s" % (
                    state["product"], state["cu"], entry.product, entry.cu, (rule.get("note") or "").strip())
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


def _ensure_dotnet(plan, catalog, state, entry, os_name):
    """Insert .NET (and, if needed, a bridging CU) so ``entry``'s CU can install."""
    need = catalog.dotnet_requirement(entry.product, entry.cu, os_name)
    have = state["dotnet"]
    if need is None or have is None:
        return
    if have >= need["min_release"]:
        if catalog.dotnet_version_of(have) not in need["supported"] and have > catalog.dotnet_release(need["max_version"]):
            plan.finding("dotnet_too_new", "warning",
                         ".NET release %d is newer than %s %s supports (%s)." % (
                             have, entry.product, entry.cu, ", ".join(need["supported"])),
                         "Check the Exchange supportability matrix before installing.")
        return
    here = catalog.dotnet_requirement(state["product"], state["cu"], os_name) if state["cu"] else None
    usable_here = here["supported"] if here else need["supported"]
    choices = [v for v in need["supported"] if v in usable_here and catalog.dotnet_release(v) > have]
    if not choices:
        bridge = _bridge_cu(catalog, state, need, os_name)
        if bridge is None:
            plan.finding("dotnet_path_missing", "critical",
                         "%s %s needs .NET %s, which %s %s does not support, and no CU in between bridges them."
                         % (entry.product, entry.cu, " or ".join(need["supported"]), state["product"], state["cu"]),
                         "Upgrade .NET and the CU by hand following Microsoft's supportability matrix.")
            return
        _ensure_dotnet(plan, catalog, state, bridge, os_name)
        plan.step("install_cu", state["build"], bridge.build,
                  "Install %s %s first: it runs on the installed .NET and on the .NET that %s needs."
                  % (bridge.product, bridge.cu, entry.cu),
                  update=bridge.update, kb=bridge.kb, installer=catalog.cu_installer(bridge.product, bridge.cu))
        state.update(product=bridge.product, cu=bridge.cu, build=bridge.build)
        plan.step("reboot", bridge.build, bridge.build, "Restart after Setup before the next change.")
        _ensure_dotnet(plan, catalog, state, entry, os_name)
        return
    version = need["recommended"] if need["recommended"] in choices else min(choices, key=catalog.dotnet_release)
    plan.step("install_dotnet", state["build"], state["build"],
              ".NET Framework %s is needed before %s %s (installed release %d, required at least %d)."
              % (version, entry.product, entry.cu, have, need["min_release"]),
              update=".NET Framework %s" % version,
              installer=catalog.data["dotnet"].get("installers", {}).get(version))
    plan.step("reboot", state["build"], state["build"], ".NET Framework setup requires a restart.")
    state["dotnet"] = catalog.dotnet_release(version)


def _bridge_cu(catalog, state, need, os_name):
    """Newest CU between here and the target that runs on today's and tomorrow's .NET."""
    have_version = catalog.dotnet_version_of(state["dotnet"])
    best = None
    for cu in catalog.cus(state["product"]):
        release = catalog.cu_release(state["product"], cu)
        if release is None or release.build <= state["build"]:
            continue
        rule = catalog.dotnet_requirement(state["product"], cu, os_name)
        if rule and have_version in rule["supported"] and set(rule["supported"]) & set(need["supported"]):
            best = release
    return best
