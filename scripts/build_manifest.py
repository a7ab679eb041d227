#!/usr/bin/env python3
"""Build the package repository's manifest.json from a folder of installers.

onprem.exchange.update_stage checks every staged file against this manifest
(size and SHA256), so build it from files you have verified yourself (for
example against Microsoft's published hashes), and rebuild it whenever a
file is added or replaced.

Usage::

    python scripts/build_manifest.py /srv/exchange-repo            # writes /srv/exchange-repo/manifest.json
    python scripts/build_manifest.py /srv/exchange-repo --check    # exit 1 if the manifest is out of date

Only plain files directly in the folder are listed; manifest.json itself,
hidden files and unfinished downloads (*.partial) are skipped.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

MANIFEST = "manifest.json"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_manifest(folder):
    """The manifest for ``folder`` as a dict: ``{"files": [{name, size, sha256}]}``, sorted by name."""
    files = []
    for name in sorted(os.listdir(folder), key=str.lower):
        path = os.path.join(folder, name)
        if name == MANIFEST or name.startswith(".") or name.endswith(".partial") or not os.path.isfile(path):
            continue
        files.append({"name": name, "size": os.path.getsize(path), "sha256": _sha256(path)})
    return {"files": files}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="folder holding the installers")
    parser.add_argument("--check", action="store_true", help="only compare with the existing manifest")
    options = parser.parse_args(argv)
    if not os.path.isdir(options.folder):
        parser.error("%s is not a folder" % options.folder)
    manifest = build_manifest(options.folder)
    target = os.path.join(options.folder, MANIFEST)
    if options.check:
        try:
            with open(target, encoding="utf-8") as handle:
                current = json.load(handle)
        except (OSError, ValueError) as error:
            print("%s: cannot read: %s" % (target, error), file=sys.stderr)
            return 1
        if current != manifest:
            print("%s is out of date; run without --check to rebuild it" % target, file=sys.stderr)
            return 1
        print("%s is up to date (%d files)" % (target, len(manifest["files"])))
        return 0
    tmp = target + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")
    os.replace(tmp, target)
    print("wrote %s (%d files)" % (target, len(manifest["files"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
