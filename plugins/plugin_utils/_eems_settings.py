# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired versus current EEMS settings: validation, the difference, the diff.

For internal collection use only; the interface may change in any release.

Pure Python, no Ansible imports.  ``onprem.exchange.eems`` reads a server's
state (Get-EemsState), asks this module what differs from what the task
wants, applies only that, and asks again after applying to prove it
converged.

Conventions
-----------
Every desired setting is optional; ``None`` means "not managed by this task"
and is never touched.

The blocked list (``MitigationsBlocked``) is a set of mitigation IDs.
``Set-ExchangeServer -MitigationsBlocked`` replaces the whole list, so the
module never sends the task's list as it is: it computes the new list from
the current one.  The option has the shape of microsoft.ad's list options
(``members`` of microsoft.ad.group):

``add``     the given IDs are blocked as well; others stay blocked;
``remove``  the given IDs are unblocked; others stay blocked;
``set``     the list becomes exactly the given IDs (``[]`` clears it).

``add`` and ``remove`` go together; ``set`` stands alone.  The form before
1.0 (a list with ``mitigations_blocked_mode`` add/remove/exact) is turned
into this one by ``legacy_blocked_args``, with a deprecation.

IDs compare case-insensitively (Exchange stores them as typed); an ID
already present keeps its spelling, and order never counts as a change.

Current state (the ``data`` of Get-EemsState) has the shape ``judge_eems``
reads: ``setup.exsetup_version``, ``setup_watermark``, ``services`` (the
Mitigation Service only), ``mitigation_events`` (newest first), ``ems`` and
``exchange`` (``organization_name``, ``organization_mitigations_enabled``,
``server_mitigations_enabled``, ``mitigations_blocked``,
``mitigations_applied``, ``data_collection_enabled``, ``internet_web_proxy``).
"""
from __future__ import annotations

import re

from ._eems_status import is_disabled_notice

SERVICE_NAME = "MSExchangeMitigation"
BLOCKED_KEYS = ("add", "remove", "set")
# The deprecated mode option's values, and the key each one became.
LEGACY_BLOCKED_MODES = {"add": "add", "remove": "remove", "exact": "set"}
LEGACY_BLOCKED_DEPRECATION = (
    "mitigations_blocked as a list with mitigations_blocked_mode is deprecated; write mitigations_blocked: "
    "{add: [...]}, {remove: [...]} or {set: [...]} (mode exact is now set)")

# Mitigation IDs seen in the field: PING1, M1.1, M2.1.0.  Anything else is a
# typo, and blocking a typo silently protects nothing.
_MITIGATION_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:\.[0-9A-Za-z]+)*$")
# Far above any ID seen (M1.1, PING1); a bound so a runaway value is refused
# up front instead of being sent to every server.
_MAX_MITIGATION_ID = 64
# Set-ExchangeServer -InternetWebProxy takes an absolute http(s) URI.
_PROXY_URL = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+(?::[0-9]{1,5})?/?$")

# The settings of the server object: desired option -> current key, and the
# Set-EemsServerConfig argument each one becomes.
SERVER_SETTINGS = (
    ("mitigations_enabled", "server_mitigations_enabled"),
    ("mitigations_blocked", "mitigations_blocked"),
    ("data_collection_enabled", "data_collection_enabled"),
    ("internet_web_proxy", "internet_web_proxy"),
)


class EemsSettingsError(ValueError):
    """Desired settings that cannot be applied as given; the message says how to fix them."""


def desired_settings(args):
    """Validate the task's options and return the desired settings.

    ``args`` holds the module's options (validated for type already).  Raises
    ``EemsSettingsError`` with a message a person can act on.
    """
    desired = {
        "organization_mitigations_enabled": args.get("organization_mitigations_enabled"),
        "mitigations_enabled": args.get("mitigations_enabled"),
        "mitigations_blocked": blocked_change(args.get("mitigations_blocked")),
        "data_collection_enabled": args.get("data_collection_enabled"),
        "internet_web_proxy": None,
        "service_running": args.get("service_running"),
    }
    proxy = args.get("internet_web_proxy")
    if proxy is not None:
        proxy = proxy.strip()
        if proxy and not _PROXY_URL.match(proxy):
            raise EemsSettingsError(
                "internet_web_proxy %r is not an http(s) URL such as http://proxy.contoso.com:8080/ "
                "(an empty string clears it)" % proxy)
        desired["internet_web_proxy"] = proxy
    if desired["service_running"] is False:
        raise EemsSettingsError(
            "service_running=false is not supported: stopping the Mitigation Service switches off emergency "
            "mitigations; leave service_running unset to leave the service alone")
    return desired


def legacy_blocked_args(args):
    """The task's arguments with the pre-1.0 blocked-list form (a list plus
    ``mitigations_blocked_mode``) rewritten as ``{add|remove|set: list}``.

    Returns ``(args, deprecation)``: ``deprecation`` is None when the task
    used the current form.  Raises ``EemsSettingsError`` for a mode that
    never existed, or ``exact`` without a list (as before).
    """
    blocked = args.get("mitigations_blocked")
    if "mitigations_blocked_mode" not in args and not isinstance(blocked, (list, tuple)):
        return args, None
    new = dict(args)
    mode = new.pop("mitigations_blocked_mode", None) or "add"
    if mode not in LEGACY_BLOCKED_MODES:
        raise EemsSettingsError("mitigations_blocked_mode must be one of %s, got %r (deprecated: write "
                                "mitigations_blocked: {add|remove|set: [...]})" % (", ".join(LEGACY_BLOCKED_MODES), mode))
    if isinstance(blocked, (list, tuple)):
        new["mitigations_blocked"] = {LEGACY_BLOCKED_MODES[mode]: list(blocked)}
    elif blocked is None and mode == "exact":
        raise EemsSettingsError("mitigations_blocked_mode=exact needs mitigations_blocked (use [] to clear the list)")
    return new, LEGACY_BLOCKED_DEPRECATION


def blocked_change(option):
    """``mitigations_blocked`` checked and normalised: None (not managed) or
    ``{"set": list or None, "add": list, "remove": list}`` of stripped,
    unique IDs.  Raises ``EemsSettingsError`` for IDs that are not mitigation
    IDs, ``set`` mixed with ``add``/``remove``, or one ID both added and removed."""
    if option is None:
        return None
    if not isinstance(option, dict):
        raise EemsSettingsError("mitigations_blocked must be a mapping with add, remove or set, for example "
                                "{add: [M1.1]}")
    unknown = sorted(set(option) - set(BLOCKED_KEYS))
    if unknown:
        raise EemsSettingsError("mitigations_blocked takes add, remove and set; %s is not one of them"
                                % ", ".join(unknown))
    change = {"set": None, "add": [], "remove": []}
    for key in BLOCKED_KEYS:
        items = option.get(key)
        if items is None:
            continue
        if isinstance(items, str) or not isinstance(items, (list, tuple)):
            raise EemsSettingsError("mitigations_blocked.%s must be a list of mitigation IDs" % key)
        change[key] = _checked_ids(items, "mitigations_blocked.%s" % key)
    if change["set"] is None and not change["add"] and not change["remove"]:
        return None
    if change["set"] is not None and (change["add"] or change["remove"]):
        raise EemsSettingsError("mitigations_blocked.set gives the whole list; it cannot be combined with add or "
                                "remove")
    both = sorted({i.lower() for i in change["add"]} & {i.lower() for i in change["remove"]})
    if both:
        raise EemsSettingsError("mitigations_blocked adds and removes %s at once; name each ID in one list only"
                                % ", ".join(both))
    return change


def _checked_ids(items, option):
    too_long = [item for item in items if isinstance(item, str) and len(item) > _MAX_MITIGATION_ID]
    if too_long:
        raise EemsSettingsError("%s holds an ID of %d characters; mitigation IDs are short (for example M1.1), at "
                                "most %d characters" % (option, len(too_long[0]), _MAX_MITIGATION_ID))
    wrong = [item for item in items if not isinstance(item, str) or not _MITIGATION_ID.match(item.strip())]
    if wrong:
        raise EemsSettingsError(
            "%s holds %s, which %s not look like mitigation IDs (for example M1.1, M2.1.0, PING1); fix the list"
            % (option, ", ".join(repr(w) for w in wrong), "does" if len(wrong) == 1 else "do"))
    return _unique([item.strip() for item in items])


def _unique(items):
    seen, result = set(), []
    for item in items:
        if item.lower() not in seen:
            seen.add(item.lower())
            result.append(item)
    return result


def blocked_after(current, change):
    """The blocked list after applying ``change`` (``blocked_change``'s
    shape) to ``current``.

    Existing entries keep their place and spelling; additions are appended
    in the order given.
    """
    current = _unique(list(current or []))
    if change.get("set") is not None:
        wanted = _unique(list(change["set"]))
        keys = {item.lower() for item in wanted}
        kept = [item for item in current if item.lower() in keys]
        present = {item.lower() for item in kept}
        return kept + [item for item in wanted if item.lower() not in present]
    present = {item.lower() for item in current}
    added = current + [item for item in _unique(list(change.get("add") or [])) if item.lower() not in present]
    removed = {item.lower() for item in change.get("remove") or []}
    return [item for item in added if item.lower() not in removed]


def same_blocked(first, second):
    return {item.lower() for item in first or []} == {item.lower() for item in second or []}


def _proxy_key(value):
    # Exchange shows the URI it stored; a trailing slash is not a difference.
    return (value or "").strip().rstrip("/").lower()


def mitigation_service(current):
    """The Mitigation Service's entry in ``current`` (None when it is not installed)."""
    return next((s for s in current.get("services") or [] if s.get("name") == SERVICE_NAME), None)


def eems_installed(current):
    """EEMS exists on this server: its service is installed (not on 2013, Edge
    or builds before 2016 CU22 / 2019 CU11)."""
    return mitigation_service(current) is not None


def plan_changes(current, desired):
    """What must change on this server to reach ``desired``.

    Returns ``{"organization": {...} or None, "server": {...}, "service":
    {...} or None, "changes": [...], "left_alone": [...]}`` where
    ``organization`` and ``server`` hold the arguments for the writing host
    operations, ``service`` the wanted service state, ``changes`` one entry
    per setting that differs (``scope``, ``setting``, ``before``, ``after``)
    and ``left_alone`` the managed settings left alone, each with its reason.
    Raises ``EemsSettingsError`` when a managed setting cannot be read.
    """
    plan = {"organization": None, "server": {}, "service": None, "changes": [], "left_alone": []}
    exchange_wanted = [name for name in ("organization_mitigations_enabled", "mitigations_enabled",
                                         "mitigations_blocked", "data_collection_enabled", "internet_web_proxy")
                       if desired.get(name) is not None]
    wanted_anything = bool(exchange_wanted) or desired.get("service_running") is not None
    if not eems_installed(current):
        if wanted_anything:
            plan["left_alone"].append({"setting": "all", "reason": "the Emergency Mitigation Service is not installed "
                                       "on this server (Exchange 2013, Edge, or a build before 2016 CU22 / 2019 CU11)"})
        return plan
    exchange = current.get("exchange")
    if exchange_wanted and not exchange:
        raise EemsSettingsError(
            "cannot read the EEMS settings (%s) because the Exchange cmdlets could not be used: %s. Give the module an "
            "Exchange Management Shell credential (ems_username/ems_password, or the connection's own)"
            % (", ".join(exchange_wanted), (current.get("ems") or {}).get("error") or "no reason given"))

    if exchange_wanted and exchange.get("server_mitigations_enabled") is None:
        # Get-ExchangeServer has no MitigationsEnabled on this build: nothing
        # to set, and Set-ExchangeServer would refuse the parameter.
        plan["left_alone"].append({"setting": "all", "reason": "this Exchange build has no EEMS settings "
                                   "(MitigationsEnabled is absent before 2016 CU22 / 2019 CU11)"})
        return plan

    org_wanted = desired.get("organization_mitigations_enabled")
    if org_wanted is not None and bool(exchange.get("organization_mitigations_enabled")) != org_wanted:
        plan["organization"] = {"mitigations_enabled": org_wanted}
        plan["changes"].append({"scope": "organization", "setting": "MitigationsEnabled",
                                "before": bool(exchange.get("organization_mitigations_enabled")), "after": org_wanted})

    for option, key in SERVER_SETTINGS:
        wanted = desired.get(option)
        if wanted is None:
            continue
        before = exchange.get(key)
        if option == "mitigations_blocked":
            before = list(before or [])
            after = blocked_after(before, wanted)
            differs = not same_blocked(before, after)
        elif option == "internet_web_proxy":
            before = before or ""
            after = wanted
            differs = _proxy_key(before) != _proxy_key(after)
        else:
            before = bool(before)
            after = wanted
            differs = before != after
        if differs:
            plan["server"][option] = after
            plan["changes"].append({"scope": "server", "setting": _CMDLET_NAMES[option], "before": before,
                                    "after": after})

    if desired.get("service_running"):
        service = mitigation_service(current)
        if current.get("setup_watermark"):
            # Setup stops and disables Exchange services while it runs; starting
            # one under an unfinished Setup fights it.
            plan["left_alone"].append({"setting": "service", "reason": "Exchange Setup did not finish (watermark %s); "
                                       "finish Setup before starting %s" % (current["setup_watermark"], SERVICE_NAME)})
        else:
            wanted_service = {}
            if service.get("start_mode") != "Automatic":
                wanted_service["start_mode"] = "Automatic"
                plan["changes"].append({"scope": "service", "setting": "StartType",
                                        "before": service.get("start_mode"), "after": "Automatic"})
            if service.get("state") != "Running":
                wanted_service["start"] = True
                plan["changes"].append({"scope": "service", "setting": "Status", "before": service.get("state"),
                                        "after": "Running"})
            if wanted_service:
                plan["service"] = wanted_service
    return plan


_CMDLET_NAMES = {
    "mitigations_enabled": "MitigationsEnabled",
    "mitigations_blocked": "MitigationsBlocked",
    "data_collection_enabled": "DataCollectionEnabled",
    "internet_web_proxy": "InternetWebProxy",
}


def settings_view(current):
    """The managed settings as one flat dict: the body of the diff and of the result."""
    exchange = current.get("exchange") or {}
    service = mitigation_service(current) or {}
    return {
        "organization": {"name": exchange.get("organization_name"),
                         "MitigationsEnabled": exchange.get("organization_mitigations_enabled")},
        "server": {"MitigationsEnabled": exchange.get("server_mitigations_enabled"),
                   "MitigationsBlocked": list(exchange.get("mitigations_blocked") or []),
                   "DataCollectionEnabled": exchange.get("data_collection_enabled"),
                   "InternetWebProxy": exchange.get("internet_web_proxy") or ""},
        "service": {"name": SERVICE_NAME, "StartType": service.get("start_mode"), "Status": service.get("state")},
    }


def diff_for(current, changes):
    """Ansible's ``diff`` (before/after) built from the same changes that decide."""
    before = settings_view(current)
    after = settings_view(current)
    for change in changes:
        after[change["scope"]][change["setting"]] = change["after"]
    return {"before": before, "after": after,
            "before_header": "EEMS settings (current)", "after_header": "EEMS settings (wanted)"}


def stale_disabled_notice(current):
    """The newest event says EEMS is "disabled by configuration" although both
    flags are on now: evidence from before EEMS was switched on, not proof
    that it works."""
    events = current.get("mitigation_events") or []
    exchange = current.get("exchange") or {}
    if not events or not exchange:
        return False
    newest = events[0]
    return (is_disabled_notice(newest)
            and bool(exchange.get("organization_mitigations_enabled"))
            and bool(exchange.get("server_mitigations_enabled")))


def check_is_due(current, verdict, classification):
    """Whether the newest evidence is stale, so a forced check should replace it.

    Stale means: the newest event blames a cut-off the installed build now
    meets (after a patch window raised the build, the last event still shows
    the old failure until the next hourly check), or it reports EEMS
    disabled by configuration while both flags are on now.

    The event for the March 2023 cut-off is only the bare "Exception
    encountered while fetching mitigations" (Exchange Team blog, January
    2025): on a build that meets that cut-off it cannot be told from a stale
    one, so a check is forced to get fresh evidence.  A server whose fetch
    keeps failing that way is therefore re-checked on every run.
    """
    classification = classification or {}
    cause = (verdict or {}).get("cause")
    if cause in ("build_before_march_2023", "fetch_failed") and classification.get("eems_fetch_ok") is True:
        return True
    if cause == "build_before_june_2026" and classification.get("eems_2026_ok") is True:
        return True
    return stale_disabled_notice(current)
