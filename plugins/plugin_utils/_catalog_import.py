# Copyright: Contributors to the onprem.exchange collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Import Exchange builds from a CSV into the build catalog or into an extra catalog file.

For internal collection use only; the interface may change in any release.

Two targets:

* the shipped catalog (``run``): only the generated part, below the
  ``# ---- GENERATED BUILDS`` line, is rewritten (what
  ``scripts/update_catalog.py`` does in a checkout);
* an extra catalog file (``run_overlay``): the file an admin keeps beside an
  installed collection and names in ``exchange_catalog_files``; it holds only
  the rows that are new or different from the shipped catalog, and is checked
  merged over it exactly as the planner will read it.

The CSV has the reference table's columns: ``product, update_name, kind,
cu_level, build, release_date, kb, source``. Rows are matched by product, CU
and update name; a row that differs is changed, a new one is added, rows
absent from the CSV are kept. A second run changes nothing. Whether an update
is public or ESU-only is derived from the hand-written ``lifecycle`` section
(``last_public_update_date``), and a ``CONFLICT: ... lists <build>`` note in
``source`` becomes an accepted alternate build.

No Ansible imports: the CLI script and the ``catalog_import`` action share it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys

import yaml

from ._exchange_build import ExchangeBuild
from ._report.writer import write_atomically
from ._exchange_catalog import (
    DEFAULT_CATALOG_PATH,
    GENERATED_MARKER,
    KINDS,
    RELEASE_KINDS,
    Catalog,
    CatalogError,
    merge_overlay,
    read_overlay_rows,
    to_date,
)

# The C loader, where present, makes an import several times faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(text):
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a SafeLoader


CSV_COLUMNS = ("product", "update_name", "kind", "cu_level", "build", "release_date", "kb", "source")
# Field order in the generated YAML; also the fields compared for "changed".
ROW_FIELDS = ("build", "product", "cu", "update", "kind", "name", "release_date", "kb",
              "availability", "alternate_builds", "source")
_CONFLICT = re.compile(r"CONFLICT:[^;]*?\blists\s+(\d+\.\d+\.\d+\.\d+)")
_KB = re.compile(r"^KB\d{6,8}$")


class CatalogImportError(ValueError):
    """A CSV row that cannot go into the catalog; the message names the row."""


ImportError_ = CatalogImportError  # the name scripts/update_catalog.py has always used


def split_catalog(text):
    """``(hand_written_part, generated_part)``; the marker line stays in the first."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith(GENERATED_MARKER):
            return "".join(lines[: index + 1]), "".join(lines[index + 1:])
    raise CatalogError("the catalog has no line starting with %r; cannot tell hand-written "
                       "data from generated rows" % GENERATED_MARKER)


def short_update_name(name, kind, cu_level):
    """``Exchange Server 2019 CU12 Mar23SU`` -> ``Mar23SU``; CU rows -> ``CU12``."""
    if kind in RELEASE_KINDS:
        return cu_level
    words = re.sub(r"\([^)]*\)", "", name).split()
    return words[-1] if words else ""


def csv_to_rows(csv_path, hand_written):
    """Read and check the CSV; return catalog rows (plain dicts)."""
    products = hand_written["products"]
    lifecycle = hand_written.get("lifecycle", {})
    probe = Catalog({"products": products, "builds": []})
    rows = []
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise CatalogImportError("%s lacks column(s) %s" % (csv_path, ", ".join(missing)))
        for line_no, raw in enumerate(reader, start=2):
            where = "%s line %d" % (csv_path, line_no)
            record = {k: (raw.get(k) or "").strip() for k in CSV_COLUMNS}
            if record["product"] not in products:
                raise CatalogImportError("%s: unknown product %r" % (where, record["product"]))
            if record["kind"] not in KINDS:
                raise CatalogImportError("%s: kind %r is not one of %s" % (where, record["kind"], ", ".join(KINDS)))
            try:
                build = ExchangeBuild.parse(record["build"])
                release = to_date(record["release_date"])
                actual_product = probe.product_of(build)
            except ValueError as err:
                raise CatalogImportError("%s: %s" % (where, err))
            if actual_product != record["product"]:
                raise CatalogImportError("%s: build %s belongs to %s, not %s" % (where, build, actual_product, record["product"]))
            if record["kb"] and not _KB.match(record["kb"]):
                raise CatalogImportError("%s: KB %r does not look like KB1234567" % (where, record["kb"]))
            if not record["cu_level"]:
                raise CatalogImportError("%s: cu_level is empty" % where)
            last_public = lifecycle.get(record["product"], {}).get("last_public_update_date")
            esu = (record["kind"] not in RELEASE_KINDS and last_public is not None
                   and release > to_date(last_public))
            rows.append({
                "build": str(build),
                "product": record["product"],
                "cu": record["cu_level"],
                "update": short_update_name(record["update_name"], record["kind"], record["cu_level"]),
                "kind": record["kind"],
                "name": record["update_name"],
                "release_date": release.isoformat(),
                "kb": record["kb"] or None,
                "availability": "esu" if esu else "public",
                "alternate_builds": [str(ExchangeBuild.parse(b)) for b in _CONFLICT.findall(record["source"])],
                "source": record["source"] or None,
            })
    return rows


def row_key(row):
    return (row["product"], row["cu"], row["update"])


def normalise(row):
    data = {field: row.get(field) for field in ROW_FIELDS}
    data["alternate_builds"] = list(data["alternate_builds"] or [])
    return data


def merge(existing, incoming):
    """Return ``(rows, added, changed, unchanged)``; rows keyed by product/CU/update."""
    merged = {row_key(r): normalise(r) for r in existing}
    added, changed, unchanged = [], [], []
    seen = set()
    for row in incoming:
        key = row_key(row)
        if key in seen:
            raise CatalogImportError("the CSV lists %s %s %s twice" % key)
        seen.add(key)
        row = normalise(row)
        old = merged.get(key)
        if old is None:
            added.append(row)
        elif old != row:
            changed.append((old, row))
        else:
            unchanged.append(row)
        merged[key] = row
    builds = {}
    for row in merged.values():
        other = builds.setdefault(row["build"], row)
        if other is not row:
            raise CatalogImportError("build %s appears twice: %s and %s" % (row["build"], other["name"], row["name"]))
    return list(merged.values()), added, changed, unchanged


def render_rows(rows, products):
    order = list(products)

    def sort_key(row):
        return (order.index(row["product"]), ExchangeBuild.parse(row["build"]))

    out = ["builds:\n"]
    for row in sorted(rows, key=sort_key):
        first = True
        for field in ROW_FIELDS:
            value = row[field]
            if field == "alternate_builds" and not value:
                continue
            # JSON text is valid YAML and quotes every string, so dates stay
            # strings and names such as "RTM" never change type.
            out.append("%s%s: %s\n" % ("- " if first else "  ", field, json.dumps(value, ensure_ascii=False)))
            first = False
    if not rows:
        out[0] = "builds: []\n"
    return "".join(out)


def describe(row):
    return "%s %s (%s, %s%s)" % (row["build"], row["name"], row["release_date"], row["kb"] or "no KB",
                                 ", ESU only" if row["availability"] == "esu" else "")


def run(csv_path, catalog_path=DEFAULT_CATALOG_PATH, dry_run=False, out=None):
    out = out or sys.stdout
    with open(catalog_path, encoding="utf-8") as handle:
        text = handle.read()
    hand_written_text, generated_text = split_catalog(text)
    hand_written = _load(hand_written_text) or {}
    existing = (_load(generated_text) or {}).get("builds") or []
    incoming = csv_to_rows(csv_path, hand_written)
    rows, added, changed, unchanged = merge(existing, incoming)
    new_text = hand_written_text + render_rows(rows, hand_written["products"])
    # Refuse to write a catalog the loader would reject.
    Catalog(_load(new_text))

    for row in added:
        out.write("added:   %s\n" % describe(row))
    for old, row in changed:
        fields = [f for f in ROW_FIELDS if old.get(f) != row.get(f)]
        out.write("changed: %s [%s]\n" % (describe(row), ", ".join(
            "%s: %s -> %s" % (f, json.dumps(old.get(f)), json.dumps(row.get(f))) for f in fields)))
    kept = len(rows) - len(added) - len(changed) - len(unchanged)
    out.write("%d added, %d changed, %d unchanged, %d kept from the catalog (not in the CSV); %d builds in total%s\n"
              % (len(added), len(changed), len(unchanged), kept, len(rows), " (dry run, nothing written)" if dry_run else ""))
    if not dry_run and new_text != text:
        _write(catalog_path, new_text)
    return {"added": len(added), "changed": len(changed), "unchanged": len(unchanged), "kept": kept, "total": len(rows)}


def _write(path, text):
    # The report writer's temporary file has a unique name and is removed on
    # failure, so two imports at once or a full disk never leave a stray
    # "<catalog>.tmp" beside the catalog or half a catalog in its place.
    write_atomically(path, text.encode("utf-8"))


OVERLAY_HEADER = (
    "# Extra Exchange builds for onprem.exchange, merged over the catalog the\n"
    "# collection ships (name this file in exchange_catalog_files). Written by\n"
    "# the catalog import (playbooks/catalog_import.yml or\n"
    "# scripts/update_catalog.py --overlay); rows may also be added by hand in\n"
    "# the same form. A row replaces a shipped row with the same build or the\n"
    "# same product, CU and update; any other row is added.\n"
)


def run_overlay(csv_path, overlay_path, catalog_path=DEFAULT_CATALOG_PATH, dry_run=False, out=None):
    """Add the CSV's new or changed rows to the extra catalog file ``overlay_path``.

    Returns counts like :func:`run` plus ``written`` (True when the file changed).
    Raises ``ImportError_``/``CatalogError`` naming the file and row on bad input;
    nothing is written then.
    """
    out = out or sys.stdout
    with open(catalog_path, encoding="utf-8") as handle:
        text = handle.read()
    hand_written_text, generated_text = split_catalog(text)
    hand_written = _load(hand_written_text) or {}
    shipped = [normalise(r) for r in (_load(generated_text) or {}).get("builds") or []]
    existing = []
    old_text = None
    if os.path.exists(overlay_path):
        with open(overlay_path, encoding="utf-8") as handle:
            old_text = handle.read()
        existing = [normalise(r) for r in read_overlay_rows(old_text, overlay_path, hand_written.get("lifecycle"))]
    incoming = csv_to_rows(csv_path, hand_written)

    def facts(row):
        # The source note is not a fact about the build: a row differing only there is known.
        return {k: v for k, v in row.items() if k != "source"} if row else None

    shipped_by_key = {row_key(r): facts(r) for r in shipped}
    shipped_builds = {r["build"]: facts(r) for r in shipped}
    # Only what the shipped catalog lacks or has differently goes in the file.
    wanted = [r for r in (normalise(r) for r in incoming)
              if facts(r) not in (shipped_by_key.get(row_key(r)), shipped_builds.get(r["build"]))]
    rows, added, changed, unchanged = merge(existing, wanted)
    unchanged += [r for r in incoming if normalise(r) not in wanted]
    new_text = OVERLAY_HEADER + render_rows(rows, hand_written["products"])
    # Refuse to write a file the loader would reject, merged exactly as it will be read.
    data = dict(hand_written)
    data["builds"] = shipped
    Catalog(merge_overlay(data, read_overlay_rows(new_text, overlay_path, hand_written.get("lifecycle")),
                          overlay_path))
    for row in added:
        out.write("added:   %s\n" % describe(row))
    for old, row in changed:
        out.write("changed: %s\n" % describe(row))
    written = not dry_run and new_text != old_text
    out.write("%d added, %d changed, %d already known; %d rows in %s%s\n"
              % (len(added), len(changed), len(unchanged), len(rows), overlay_path,
                 " (dry run, nothing written)" if dry_run else ""))
    if written:
        _write(overlay_path, new_text)
    return {"added": len(added), "changed": len(changed), "unchanged": len(unchanged), "total": len(rows),
            "written": written}
