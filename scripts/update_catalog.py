#!/usr/bin/env python3
# Copyright: Contributors to the onprem.exchange collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Import Exchange builds from a CSV into the collection's build catalog.

Usage::

    python scripts/update_catalog.py path/to/builds.csv [--catalog PATH] [--dry-run]
    python scripts/update_catalog.py path/to/builds.csv --overlay extra-builds.yml [--dry-run]

The first form rewrites the shipped catalog's generated part (a checkout, for
a release). The second writes only the new or changed rows to an extra
catalog file that an installed collection reads when it is named in the
inventory variable ``exchange_catalog_files``; ``playbooks/catalog_import.yml``
does the same from an installed collection or AWX. The CSV has the reference
table's columns: ``product, update_name, kind, cu_level, build, release_date,
kb, source``. A second run changes nothing. The logic lives in
``plugins/plugin_utils/_catalog_import.py``.

Exit status: 0 on success, 1 when the CSV or the catalog is invalid.
"""

from __future__ import annotations

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".collections"))

import yaml  # noqa: E402

from ansible_collections.onprem.exchange.plugins.plugin_utils._catalog_import import (  # noqa: E402,F401
    CSV_COLUMNS,
    ROW_FIELDS,
    ImportError_,
    csv_to_rows,
    describe,
    merge,
    normalise,
    render_rows,
    row_key,
    run,
    run_overlay,
    short_update_name,
    split_catalog,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_build import ExchangeBuildError  # noqa: E402
from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import (  # noqa: E402
    DEFAULT_CATALOG_PATH,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", help="CSV with the reference build table's columns")
    parser.add_argument("--catalog", default=DEFAULT_CATALOG_PATH, help="catalog YAML to update (default: %(default)s)")
    parser.add_argument("--overlay", help="write new or changed rows to this extra catalog file instead")
    parser.add_argument("--dry-run", action="store_true", help="report what would change without writing")
    args = parser.parse_args(argv)
    try:
        if args.overlay:
            run_overlay(args.csv, args.overlay, args.catalog, args.dry_run)
        else:
            run(args.csv, args.catalog, args.dry_run)
    except (OSError, ValueError, ExchangeBuildError, yaml.YAMLError) as err:
        sys.stderr.write("update_catalog: %s\n" % err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
