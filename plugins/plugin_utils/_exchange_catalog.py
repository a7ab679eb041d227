# Copyright: Contributors to the onprem.exchange collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Exchange build catalog: load the data file, look builds up, classify.

For internal collection use only; the interface may change in any release.

All product knowledge (builds, lifecycle, EEMS cut-offs, .NET, installer
names, CVE fixes) lives in ``_data/exchange_catalog.yml``; this module only
reads it. A new SU is a data change made with ``scripts/update_catalog.py``.

Nothing here reads the clock: every date rule takes ``today`` from the caller.
No Ansible imports, so the planner and the tests run as plain Python.

Builds: a method that takes a build accepts the string an admin or a host
gives (the public boundary) or an ``ExchangeBuild``; it parses once on entry
and passes the value inward, so a build read from a host is parsed once per
question, not once per rule (``classify`` parses, then every rule it asks
gets the value).
"""

from __future__ import annotations

import datetime
import functools
import os
import re

import yaml

from ._bounds import controller_path_problem
from ._exchange_build import ExchangeBuild, ExchangeBuildError

__all__ = [
    "CATALOG_FILES_VAR",
    "BuildEntry",
    "Catalog",
    "CatalogError",
    "Classification",
    "DEFAULT_CATALOG_PATH",
    "GENERATED_MARKER",
    "ExchangeBuildError",
    "catalog_files_from",
    "classify_build",
    "load_catalog",
    "merge_overlay",
    "read_overlay_rows",
    "to_date",
]

DEFAULT_CATALOG_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_data", "exchange_catalog.yml")

# The import command rewrites the file from this line on; everything above it
# is hand-written and kept byte for byte.
GENERATED_MARKER = "# ---- GENERATED BUILDS"

KINDS = ("RTM", "CU", "SU", "HU")
RELEASE_KINDS = ("RTM", "CU")
CUTOFF_IDS = ("march_2023", "june_2026")


class CatalogError(ValueError):
    """The catalog data is missing or inconsistent."""


def to_date(value):
    """Accept a ``date``, a ``datetime`` or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ValueError("%r is not a date; expected YYYY-MM-DD" % (value,))


def cu_number(cu):
    """``CU15`` -> 15, ``RTM`` -> 0, ``SP1`` -> 4 (Exchange 2013 SP1 is its fourth CU); else None."""
    if cu == "RTM":
        return 0
    if cu == "SP1":
        return 4
    match = re.match(r"^CU(\d+)$", cu or "")
    return int(match.group(1)) if match else None


_OS_CAPTION = re.compile(r"\bServer\s+(2008\s+R2|2012\s+R2|2008|2012|2016|2019|2022|2025)\b", re.IGNORECASE)


def normalise_os(caption=None, version=None, known=None):
    """``Windows Server 2019`` from a WMI caption and/or an OS version; None if neither tells.

    ``caption`` is ``Win32_OperatingSystem.Caption`` ("Microsoft Windows
    Server 2019 Datacenter", "Windows Server 2012 R2 Standard", or already
    "Windows Server 2019"); ``version`` is its ``Version`` ("10.0.17763").
    The caption wins when it names a release; the version (major.minor.build,
    any revision ignored) is the language-independent fallback. ``known``
    maps version strings to names (the catalog's ``windows_versions``).
    """
    if isinstance(caption, str):
        match = _OS_CAPTION.search(caption)
        if match:
            return "Windows Server " + re.sub(r"\s+", " ", match.group(1)).upper()
    if isinstance(version, str) and known:
        parts = version.strip().split(".")
        if len(parts) >= 3:
            return known.get(".".join(parts[:3]))
    return None


class BuildEntry:
    """One row of the catalog: a released build."""

    __slots__ = (
        "product", "cu", "update", "kind", "build", "name", "release_date",
        "kb", "availability", "alternate_builds", "source",
    )

    def __init__(self, row):
        try:
            self.product = row["product"]
            self.cu = row["cu"]
            self.update = row["update"]
            self.kind = row["kind"]
            self.build = ExchangeBuild.parse(row["build"])
            self.name = row["name"]
            self.release_date = to_date(row["release_date"])
        except (KeyError, ValueError) as err:
            raise CatalogError("catalog build row %r is invalid: %s" % (row, err))
        if self.kind not in KINDS:
            raise CatalogError("catalog build row %r has unknown kind %r" % (row.get("build"), self.kind))
        self.kb = row.get("kb") or None
        self.availability = row.get("availability", "public")
        self.alternate_builds = tuple(ExchangeBuild.parse(b) for b in row.get("alternate_builds") or ())
        self.source = row.get("source")

    @property
    def esu_only(self):
        return self.availability == "esu"

    @property
    def is_release(self):
        """True for the build a CU (or RTM) ships as, before any SU."""
        return self.kind in RELEASE_KINDS

    def summary(self):
        return {
            "build": str(self.build),
            "product": self.product,
            "cu": self.cu,
            "update": self.update,
            "name": self.name,
            "release_date": self.release_date.isoformat(),
        }

    def to_dict(self):
        data = self.summary()
        data.update(
            kind=self.kind,
            kb=self.kb,
            availability=self.availability,
            esu_only=self.esu_only,
            alternate_builds=[str(b) for b in self.alternate_builds],
            source=self.source,
        )
        return data

    def __repr__(self):
        return "BuildEntry(%s %s %s)" % (self.build, self.product, self.update)


class Classification:
    """What the catalog knows about one build. ``to_dict()`` is JSON-safe."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def to_dict(self):
        return dict(self.__dict__)

    def __repr__(self):
        return "Classification(%s: %s)" % (self.build, self.description)


class Catalog:
    """Read-only view of the catalog data with the rules that use it."""

    def __init__(self, data):
        if not isinstance(data, dict) or "products" not in data:
            raise CatalogError("catalog data has no 'products' section")
        self.data = data
        self.products = data["products"]
        self.lifecycle_data = data.get("lifecycle", {})
        self.eems = data.get("eems", {})
        self.cves = data.get("cves", {})
        self.entries = sorted(
            (BuildEntry(row) for row in data.get("builds") or ()),
            key=lambda e: (self.product_order(e.product), e.build),
        )
        self._by_product = {}
        self._cu_of = {}
        self._exact = {}
        for entry in self.entries:
            if entry.product not in self.products:
                raise CatalogError("build %s names unknown product %r" % (entry.build, entry.product))
            if self.product_of(entry.build) != entry.product:
                raise CatalogError(
                    "build %s is listed as %s but its number belongs to %s"
                    % (entry.build, entry.product, self.product_of(entry.build))
                )
            self._by_product.setdefault(entry.product, []).append(entry)
            self._cu_of[entry.build.cu_key] = entry.cu
            for build in (entry.build,) + entry.alternate_builds:
                self._exact[build.parts] = entry

    # -- lookups ---------------------------------------------------------

    def product_order(self, product):
        names = list(self.products)
        return names.index(product) if product in names else len(names)

    def product_of(self, build):
        """Product line of a build; raises ``ExchangeBuildError`` for other lines."""
        build = ExchangeBuild.parse(build)
        for name, rule in self.products.items():
            if (build.major, build.minor) != (rule["major"], rule["minor"]):
                continue
            if build.build < rule.get("min_build", 0):
                continue
            if "max_build" in rule and build.build > rule["max_build"]:
                continue
            return name
        raise ExchangeBuildError(
            str(build),
            "%d.%d is not Exchange Server 2013 (15.0), 2016 (15.1), 2019 or SE (15.2)"
            % (build.major, build.minor),
        )

    def entries_for(self, product):
        return list(self._by_product.get(product, ()))

    def find(self, build):
        """The entry for an exact build (an alternate build counts), or None."""
        return self._exact.get(ExchangeBuild.parse(build).parts)

    def cu_of(self, build):
        """CU label for a build whose CU the catalog knows, else None."""
        return self._cu_of.get(ExchangeBuild.parse(build).cu_key)

    def cu_entries(self, product, cu):
        return [e for e in self._by_product.get(product, ()) if e.cu == cu]

    def cu_release(self, product, cu):
        """The CU's own release entry (kind CU or RTM), or None."""
        for entry in self.cu_entries(product, cu):
            if entry.is_release:
                return entry
        return None

    def cus(self, product):
        """CU labels of a product, oldest first."""
        seen = []
        for entry in self._by_product.get(product, ()):
            if entry.cu not in seen:
                seen.append(entry.cu)
        return seen

    def latest_cu(self, product):
        cus = self.cus(product)
        return cus[-1] if cus else None

    def update_entries(self, update):
        return [e for e in self.entries if e.update == update]

    def update_date(self, update):
        dates = [e.release_date for e in self.update_entries(update)]
        return min(dates) if dates else None

    def newest_date(self, product):
        entries = self._by_product.get(product, ())
        return max(e.release_date for e in entries) if entries else None

    # -- rules -----------------------------------------------------------

    def meets_update(self, build, update):
        """Is ``build`` at least ``update`` (e.g. ``Mar23SU``)? True, False or None.

        The rule Health Checker uses: on a CU that received the update, compare
        builds; a CU released after the update already contains it; a CU
        released before it that never received it does not. None means the
        catalog cannot tell (a CU it does not know, in an ambiguous place).
        """
        build = ExchangeBuild.parse(build)
        product = self.product_of(build)
        update_date = self.update_date(update)
        if update_date is None:
            return None
        cu = self.cu_of(build)
        if cu is not None:
            return self._cu_meets(product, cu, build, update, update_date)
        previous_cu, next_cu = self._neighbour_cus(product, build)
        if previous_cu is not None:
            release = self.cu_release(product, previous_cu)
            if release is not None and release.release_date >= update_date:
                return True
        if next_cu is None:
            # A CU newer than every catalog row shipped after the catalog's
            # newest release of that product, so it includes older updates.
            newest = self.newest_date(product)
            return True if newest is not None and update_date <= newest else None
        release = self.cu_release(product, next_cu)
        received = any(e.update == update for e in self.cu_entries(product, next_cu))
        if release is not None and release.release_date < update_date and not received:
            return False
        return None

    def _cu_meets(self, product, cu, build, update, update_date):
        for entry in self.cu_entries(product, cu):
            if entry.update == update:
                lowest = min((entry.build,) + entry.alternate_builds)
                return build >= lowest
        release = self.cu_release(product, cu)
        if release is not None:
            return release.release_date >= update_date
        rows = self.cu_entries(product, cu)
        if rows and min(e.release_date for e in rows) <= update_date:
            return False
        return None

    def _neighbour_cus(self, product, build):
        previous_cu = next_cu = None
        for entry in self._by_product.get(product, ()):
            if entry.build.cu_key < build.cu_key:
                previous_cu = entry.cu
            elif entry.build.cu_key > build.cu_key and next_cu is None:
                next_cu = entry.cu
        return previous_cu, next_cu

    def lifecycle(self, product, cu, today):
        """``supported``, ``esu`` or ``end_of_life`` for a product/CU on a date."""
        today = to_date(today)
        info = self.lifecycle_data.get(product, {})
        end = info.get("end_of_support")
        if end is None or today <= to_date(end):
            return "supported"
        esu = info.get("esu") or {}
        if cu in esu.get("eligible_cus", ()):
            for period in esu.get("periods", ()):
                if to_date(period["start"]) <= today <= to_date(period["end"]):
                    return "esu"
        return "end_of_life"

    def esu_end(self, product):
        esu = self.lifecycle_data.get(product, {}).get("esu") or {}
        ends = [to_date(p["end"]) for p in esu.get("periods", ())]
        return max(ends) if ends else None

    def cu_supported(self, product, cu):
        """Is this CU one Microsoft still services (ignoring product end of life)?"""
        if cu is None:
            return False
        if self.lifecycle_data.get(product, {}).get("only_current_cu_supported"):
            return cu == self.latest_cu(product)
        return cu in self.data.get("supported_cus", {}).get(product, ())

    def eems_present(self, product, cu):
        """Does this build ship the Emergency Mitigation Service at all?"""
        first = self.eems.get("introduced_in", {}).get(product)
        if first is None:
            return False
        number = cu_number(cu)
        if number is None:
            return None
        return number >= cu_number(first)

    def cutoff(self, cutoff_id):
        return self.eems["cutoffs"][cutoff_id]

    def dotnet_release(self, version):
        return self.data["dotnet"]["releases"][version]

    def dotnet_version_of(self, release):
        """Highest named .NET version a registry Release value reaches, or None."""
        best = None
        for version, minimum in sorted(self.data["dotnet"]["releases"].items(), key=lambda kv: kv[1]):
            if release is not None and release >= minimum:
                best = version
        return best

    def normalise_os(self, caption=None, version=None):
        """Canonical Windows Server name (``Windows Server 2019``) or None; see :func:`normalise_os`."""
        return normalise_os(caption, version, self.data.get("windows_versions") or {})

    def _cu_rule(self, rules, product, cu):
        number = cu_number(cu)
        if number is None:
            return None
        for rule in rules or ():
            if rule["product"] == product and rule["from_cu"] <= number <= rule["to_cu"]:
                return rule
        return None

    def dotnet_on_os(self, os_name):
        """.NET versions the OS can have (built in or installable), or None when the OS is unknown."""
        versions = (self.data.get("dotnet", {}).get("os_versions") or {}).get(os_name or "")
        return list(versions) if versions is not None else None

    def os_supported(self, product, cu, os_name):
        """Does Microsoft support this CU on this OS? True, False, or None when either is unknown."""
        if not os_name:
            return None
        rule = self._cu_rule(self.data.get("os_support"), product, cu)
        if rule is None:
            return None
        return os_name in rule["os"]

    def supported_os(self, product, cu):
        rule = self._cu_rule(self.data.get("os_support"), product, cu)
        return list(rule["os"]) if rule else None

    def dotnet_requirement(self, product, cu, os_name=None):
        """What .NET a CU needs, on an OS when it is known; None when the catalog has no rule.

        ``supported``: versions the supportability matrix lists for the CU;
        ``installable``: those the OS can have (all of them when the OS is
        unknown); ``recommended``: what to install (the rule's recommendation
        when the OS can have it, else the newest installable one; None when
        nothing is installable); ``min_release``: the lowest Release value
        that counts as supported.
        """
        rule = self._cu_rule(self.data.get("dotnet", {}).get("requirements"), product, cu)
        if rule is None:
            return None
        supported = list(rule["supported"])
        on_os = self.dotnet_on_os(os_name)
        installable = [v for v in supported if on_os is None or v in on_os]
        if rule["recommended"] in installable:
            recommended = rule["recommended"]
        else:
            recommended = max(installable, key=self.dotnet_release) if installable else None
        return {
            "supported": supported,
            "installable": installable,
            "recommended": recommended,
            "min_release": min(self.dotnet_release(v) for v in supported),
            "max_version": max(supported, key=self.dotnet_release),
        }

    def in_place_upgrade(self, from_product, from_cu, to_product):
        for rule in self.data.get("upgrades", {}).get("in_place", ()):
            if (rule["from_product"], rule["from_cu"], rule["to_product"]) == (from_product, from_cu, to_product):
                return rule
        return None

    def in_place_sources(self, to_product):
        return [r for r in self.data.get("upgrades", {}).get("in_place", ()) if r["to_product"] == to_product]

    def not_in_place(self, from_product):
        return [r for r in self.data.get("upgrades", {}).get("not_in_place", ()) if r["from_product"] == from_product]

    def cu_offered(self, product, cu):
        """Does Microsoft still offer this CU's media for download? (catalog ``installers.cu_offered``)"""
        offered = (self.data["installers"].get("cu_offered") or {}).get(product)
        if offered is None:
            return None
        return cu in offered

    def cu_installer(self, product, cu):
        rule = self.data["installers"]["cu"].get(product)
        if rule is None:
            return None
        if cu in rule:
            return rule[cu]
        return rule["pattern"].format(cu=cu, cu_lower=cu.lower())

    def cu_unpack_style(self, product, cu):
        """How a self-extracting CU package (Exchange 2013) is unpacked:
        ``x``, ``rar`` or ``extract`` (the switch sets Start-InstallerTask
        knows), or None when no source names its switches."""
        rule = self.data["installers"]["cu"].get(product) or {}
        number = cu_number(cu)
        for item in rule.get("unpack") or ():
            if number is not None and item["from_cu"] <= number <= item["to_cu"]:
                return item["style"]
        return None

    def update_installer(self, entry, fmt=None):
        """File name of an SU/HU package; ``.msp`` before ``.exe`` packages existed."""
        rule = self.data["installers"]["update"]
        fmt = fmt or rule.get("preferred_format", "msp")
        if fmt == "exe" and entry.release_date < to_date(rule["exe_from"]):
            fmt = "msp"
        if not entry.kb:
            return None
        return rule["pattern"].format(prefix=rule["prefix"][entry.product], kb=entry.kb, ext=fmt)

    def hybrid_baseline_ok(self, product, build):
        rule = self.data.get("hybrid_baseline") or {}
        if product not in rule.get("products", ()):
            return True if product == "Exchange SE" else None
        return self.meets_update(build, rule["update"])

    def cve_status(self, build):
        """``(fixed, open, undetermined)`` lists of CVE ids for a build."""
        fixed, still_open, unknown = [], [], []
        for cve_id, info in sorted(self.cves.items()):
            verdict = self.meets_update(build, info["fixed_by"])
            (fixed if verdict else unknown if verdict is None else still_open).append(cve_id)
        return fixed, still_open, unknown

    # -- names admins use --------------------------------------------------

    def display_name(self, build):
        """The build the way admins say it: ``Exchange 2019 CU14 Nov24SU``, ``Exchange SE RTM``.

        A build the catalog does not list keeps its number in the name, e.g.
        ``Exchange 2019 CU14 + unknown update (15.2.1544.99)`` or ``Exchange
        2019 unknown CU (15.2.9999.1)``. Raises ``ExchangeBuildError`` for a
        string that is not an Exchange 2013/2016/2019/SE build.
        """
        build = ExchangeBuild.parse(build)
        product = self.product_of(build)
        entry = self.find(build)
        if entry is not None:
            if entry.is_release or entry.update == entry.cu:
                return "%s %s" % (product, entry.cu)
            return "%s %s %s" % (product, entry.cu, entry.update)
        cu = self.cu_of(build)
        if cu is not None:
            return "%s %s + unknown update (%s)" % (product, cu, build)
        return "%s unknown CU (%s)" % (product, build)

    def describe_change(self, from_build, to_build):
        """``Exchange 2019 CU14 Nov24SU -> Exchange SE RTM Sep26SUv2 (product change: Exchange 2019 -> Exchange SE)``."""
        from_build, to_build = ExchangeBuild.parse(from_build), ExchangeBuild.parse(to_build)
        before, after = self.display_name(from_build), self.display_name(to_build)
        old, new = self.product_of(from_build), self.product_of(to_build)
        text = "%s -> %s" % (before, after)
        if old != new:
            text += " (product change: %s -> %s)" % (old, new)
        return text

    # -- classification --------------------------------------------------

    def classify(self, value, today):
        """Everything the catalog can say about a build on ``today``.

        Raises ``ExchangeBuildError`` (a ``ValueError``) for strings that are
        not Exchange 2013/2016/2019/SE builds; any well-formed build of those
        lines classifies, known or not.
        """
        today = to_date(today)
        build = ExchangeBuild.parse(value)
        product = self.product_of(build)
        entry = self.find(build)
        notes = []
        if entry is not None:
            cu = entry.cu
            position = "exact" if entry.build == build else "alternate"
            description = entry.name
            if position == "alternate":
                notes.append(
                    "Sources disagree on this build: %s is also reported for %s, whose "
                    "catalog build is %s; both are accepted." % (build, entry.name, entry.build)
                )
        else:
            cu = self.cu_of(build)
            previous, following = self._neighbours(product, build)
            if following is None and previous is not None:
                position = "newer_than_catalog"
                description = "newer than the catalog: %s is above the newest known %s build %s (%s)" % (
                    build, product, previous.build, previous.name)
            elif previous is None and following is not None:
                position = "older_than_catalog"
                description = "older than the catalog: %s is below the oldest known %s build %s (%s)" % (
                    build, product, following.build, following.name)
            elif previous is None:
                position = "between"
                description = "unknown %s build %s; the catalog has no %s builds" % (product, build, product)
            else:
                position = "between"
                description = "unknown build between %s (%s) and %s (%s)" % (
                    previous.name, previous.build, following.name, following.build)
            if cu is not None:
                notes.append("The CU (%s) is known; the update on top of it is not, e.g. a private "
                             "or interim fix, or a release newer than the catalog." % cu)
        if not build.shows_updates:
            notes.append("Read from AdminDisplayVersion, which shows the CU only; installed SUs "
                         "and HUs are invisible. Use the ExSetup.exe file version.")
        previous, following = self._neighbours(product, build)
        eems_present = self.eems_present(product, cu)
        eems_capable_product = product in self.eems.get("introduced_in", {})
        cutoffs = {}
        for cutoff_id in CUTOFF_IDS:
            cutoffs[cutoff_id] = self.meets_update(build, self.cutoff(cutoff_id)["update"]) if eems_capable_product else None
        if eems_capable_product and eems_present is False:
            notes.append("This CU predates the Emergency Mitigation Service (first shipped with %s %s)."
                         % (product, self.eems["introduced_in"][product]))
        fixed, still_open, undetermined = self.cve_status(build)
        lifecycle = self.lifecycle(product, cu, today)
        return Classification(
            input=value if isinstance(value, str) else str(value),
            build=str(build),
            display_name=self.display_name(build),
            build_long=build.long_form(),
            source_form=build.source_form,
            product=product,
            cu=cu,
            update=entry.update if entry else None,
            kind=entry.kind if entry else "unknown",
            known=entry is not None,
            position=position,
            description=description,
            release_date=entry.release_date.isoformat() if entry else None,
            kb=entry.kb if entry else None,
            esu_only=entry.esu_only if entry else None,
            previous_known=previous.summary() if previous and entry is None else None,
            next_known=following.summary() if following and entry is None else None,
            lifecycle=lifecycle,
            end_of_support=self.lifecycle_data.get(product, {}).get("end_of_support"),
            cu_supported=self.cu_supported(product, cu),
            eems_present=eems_present,
            eems_fetch_ok=cutoffs["march_2023"],
            eems_2026_ok=cutoffs["june_2026"],
            hybrid_baseline_ok=self.hybrid_baseline_ok(product, build),
            fixed_cves=fixed,
            unfixed_cves=still_open,
            undetermined_cves=undetermined,
            today=today.isoformat(),
            notes=notes,
        )

    def _neighbours(self, product, build):
        previous = following = None
        for entry in self._by_product.get(product, ()):
            if entry.build < build:
                previous = entry
            elif entry.build > build and following is None:
                following = entry
        return previous, following


def _read_yaml(path):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # noqa: S506 - a SafeLoader


OVERLAY_KEYS = ("builds",)


def read_overlay_rows(text, path, lifecycle=None):
    """The build rows of an extra catalog file, checked; ``CatalogError`` names the file and entry.

    ``text`` is the file's YAML text (or already-parsed data). The file holds
    a mapping with one key, ``builds``: rows in the form of the shipped
    catalog's generated rows. ``availability`` may be left out: an SU or HU
    released after the product's ``last_public_update_date`` (``lifecycle``)
    is then ESU-only, as the importer decides.
    """
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if isinstance(text, str) else text
    except yaml.YAMLError as err:
        raise CatalogError("extra catalog file %s is not valid YAML: %s" % (path, err))
    if data is None:
        return []
    if not isinstance(data, dict):
        raise CatalogError("extra catalog file %s must be a mapping with a 'builds' list, got %s"
                           % (path, type(data).__name__))
    unknown = sorted(set(data) - set(OVERLAY_KEYS))
    if unknown:
        raise CatalogError("extra catalog file %s has unknown key(s) %s; it may hold only %s"
                           % (path, ", ".join(map(str, unknown)), ", ".join(OVERLAY_KEYS)))
    rows = data.get("builds") or []
    if not isinstance(rows, list):
        raise CatalogError("extra catalog file %s: 'builds' must be a list of build rows" % path)
    checked = []
    for number, row in enumerate(rows, start=1):
        where = "extra catalog file %s, builds entry %d" % (path, number)
        if not isinstance(row, dict):
            raise CatalogError("%s: must be a mapping, got %r" % (where, row))
        where += " (%s)" % row.get("build", "no build")
        try:
            entry = BuildEntry(row)
        except CatalogError as err:
            raise CatalogError("%s: %s" % (where, err)) from None
        except ExchangeBuildError as err:
            raise CatalogError("%s: %s" % (where, err)) from None
        row = dict(row)
        if "availability" not in row:
            last_public = ((lifecycle or {}).get(entry.product) or {}).get("last_public_update_date")
            esu = not entry.is_release and last_public is not None and entry.release_date > to_date(last_public)
            row["availability"] = "esu" if esu else "public"
        elif row["availability"] not in ("public", "esu"):
            raise CatalogError("%s: availability must be public or esu, got %r" % (where, row["availability"]))
        row["_where"] = where
        checked.append(row)
    return checked


def merge_overlay(data, rows, path):
    """Catalog data with the overlay ``rows`` merged over its builds (a new dict; ``data`` is untouched).

    A row replaces a shipped row with the same build (an alternate counts) or
    the same product, CU and update; any other row is added. Rows whose build
    belongs to another product, or that repeat a build within the file, are
    refused with a ``CatalogError`` naming the file and entry.
    """
    probe = Catalog({"products": data["products"], "builds": []})
    merged = dict(data)
    builds = [dict(r) for r in data.get("builds") or ()]
    seen = {}
    for row in rows:
        where = row.get("_where") or "extra catalog file %s" % path
        entry = BuildEntry(row)
        try:
            actual = probe.product_of(entry.build)
        except ExchangeBuildError as err:
            raise CatalogError("%s: %s" % (where, err)) from None
        if row["product"] not in data["products"]:
            raise CatalogError("%s: unknown product %r; expected one of %s"
                               % (where, row["product"], ", ".join(data["products"])))
        if actual != row["product"]:
            raise CatalogError("%s: build %s belongs to %s, not %s" % (where, entry.build, actual, row["product"]))
        if str(entry.build) in seen:
            raise CatalogError("%s: build %s is already given by %s" % (where, entry.build, seen[str(entry.build)]))
        seen[str(entry.build)] = where
        key = (row["product"], row["cu"], row["update"])
        own = {entry.build} | set(entry.alternate_builds)

        def same(other):
            other_entry = BuildEntry(other)
            return (other["product"], other["cu"], other["update"]) == key or \
                bool(own & ({other_entry.build} | set(other_entry.alternate_builds)))

        builds = [b for b in builds if not same(b)]
        clean = {k: v for k, v in row.items() if k != "_where"}
        clean["source"] = clean.get("source") or "extra catalog file %s" % path
        builds.append(clean)
    merged["builds"] = builds
    return merged


@functools.lru_cache(maxsize=8)
def _load_cached(path, mtime_ns, extras):
    # Keyed on the mtimes so an updated file is re-read; the Catalog is never
    # mutated after construction, so sharing one instance is safe.
    data = _read_yaml(path)
    for extra_path, _mtime in extras:
        try:
            with open(extra_path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as err:
            raise CatalogError("cannot read the extra catalog file %s: %s" % (extra_path, err))
        data = merge_overlay(data, read_overlay_rows(text, extra_path, data.get("lifecycle")), extra_path)
    try:
        return Catalog(data)
    except CatalogError as err:
        if extras:
            raise CatalogError("%s (after merging %s)" % (err, ", ".join(p for p, _mtime in extras))) from None
        raise


def _extra_paths(extra):
    if extra is None or extra == "":
        return []
    if isinstance(extra, str):
        paths = [extra]
    elif isinstance(extra, (list, tuple)) and all(isinstance(p, str) for p in extra):
        paths = [p for p in extra if p]
    else:
        raise CatalogError("extra catalog files must be a path or a list of paths, got %r" % (extra,))
    # Bounds before any file is opened: a NUL byte would otherwise escape
    # open() as a bare ValueError, naming neither the variable nor the file.
    for index, path in enumerate(paths):
        problem = controller_path_problem(path, "%s[%d]" % (CATALOG_FILES_VAR, index))
        if problem:
            raise CatalogError(problem)
    return paths


def load_catalog(path=None, extra=None):
    """The catalog at ``path`` (default: the data file shipped beside this module).

    ``extra``: a path or list of paths of extra catalog files (see
    :func:`read_overlay_rows`), merged over it in order and validated the
    same way; a bad file is a ``CatalogError`` naming the file and entry.
    """
    path = os.path.abspath(path or DEFAULT_CATALOG_PATH)
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError as err:
        raise CatalogError("cannot read the Exchange build catalog %s: %s" % (path, err))
    extras = []
    for extra_path in _extra_paths(extra):
        extra_path = os.path.abspath(os.path.expanduser(extra_path))
        try:
            extras.append((extra_path, os.stat(extra_path).st_mtime_ns))
        except OSError as err:
            raise CatalogError("cannot read the extra catalog file %s: %s" % (extra_path, err))
    return _load_cached(path, mtime, tuple(extras))


# Inventory variable naming extra catalog files (a path or a list of paths on
# the controller); every module that reads the catalog honours it.
CATALOG_FILES_VAR = "exchange_catalog_files"


def catalog_files_from(task_vars, templar=None):
    """The extra catalog files named by ``exchange_catalog_files`` in a task's variables, templated."""
    value = (task_vars or {}).get(CATALOG_FILES_VAR)
    if value is not None and templar is not None:
        value = templar.template(value)
    return _extra_paths(value)


def classify_build(value, today, catalog=None):
    """Classify one build string against the default (or a given) catalog."""
    return (catalog or load_catalog()).classify(value, today)
