#!/usr/bin/env python3
# Copyright: Contributors to the onprem.exchange collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Import Exchange builds from a CSV into the collection's build catalog.

Usage::

    python scripts/update_catalog.py path/to/builds.csv [--catalog PATH] [--dry-run]

The CSV has the reference table's columns: ``product, update_name, kind,
cu_level, build, release_date, kb, source``. Rows are matched to catalog rows
by product, CU and update name; a row that differs is changed, a new one is
added, and catalog rows absent from the CSV are kept (so a CSV holding only
next month's SU is enough). Only the generated part of the catalog, below the
``# ---- GENERATED BUILDS`` line, is rewritten. A second run changes nothing.

Whether an update is public or ESU-only is derived from the hand-written
``lifecycle`` section (``last_public_update_date``), and a ``CONFLICT: ...
lists <build>`` note in ``source`` becomes an accepted alternate build.

Exit status: 0 on success, 1 when the CSV or the catalog is invalid.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".collections"))

import yaml  # noqa: E402

from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import (  # noqa: E402
    ExchangeBuild,
    ExchangeBuildError,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import (  # noqa: E402
    DEFAULT_CATALOG_PATH,
    GENERATED_MARKER,
    KINDS,
    RELEASE_KINDS,
    Catalog,
    CatalogError,
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


class ImportError_(ValueError):
    """A CSV row that cannot go into the catalog; the message names the row."""


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
            raise ImportError_("%s lacks column(s) %s" % (csv_path, ", ".join(missing)))
        for line_no, raw in enumerate(reader, start=2):
            where = "%s line %d" % (csv_path, line_no)
            record = {k: (raw.get(k) or "").strip() for k in CSV_COLUMNS}
            if record["product"] not in products:
                raise ImportError_("%s: unknown product %r" % (where, record["product"]))
            if record["kind"] not in KINDS:
                raise ImportError_("%s: kind %r is not one of %s" % (where, record["kind"], ", ".join(KINDS)))
            try:
                build = ExchangeBuild.parse(record["build"])
                release = to_date(record["release_date"])
                actual_product = probe.product_of(build)
            except ValueError as err:
                raise ImportError_("%s: %s" % (where, err))
            if actual_product != record["product"]:
                raise ImportError_("%s: build %s belongs to %s, not %s" % (where, build, actual_product, record["product"]))
            if record["kb"] and not _KB.match(record["kb"]):
                raise ImportError_("%s: KB %r does not look like KB1234567" % (where, record["kb"]))
            if not record["cu_level"]:
                raise ImportError_("%s: cu_level is empty" % where)
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
            raise ImportError_("the CSV lists %s %s %s twice" % key)
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
            raise ImportError_("build %s appears twice: %s and %s" % (row["build"], other["name"], row["name"]))
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


def run(csv_path, catalog_path=DEFAULT_CATALOG_PATH, dry_run=False, out=sys.stdout):
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
        tmp = catalog_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(new_text)
        os.replace(tmp, catalog_path)
    return {"added": len(added), "changed": len(changed), "unchanged": len(unchanged), "kept": kept, "total": len(rows)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", help="CSV with the reference build table's columns")
    parser.add_argument("--catalog", default=DEFAULT_CATALOG_PATH, help="catalog YAML to update (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="report what would change without writing")
    args = parser.parse_args(argv)
    try:
        run(args.csv, args.catalog, args.dry_run)
    except (OSError, ValueError, ExchangeBuildError, yaml.YAMLError) as err:
        sys.stderr.write("update_catalog: %s\n" % err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
