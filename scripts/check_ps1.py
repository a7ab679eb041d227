#!/usr/bin/env python3
"""Syntax-check the collection's PowerShell files with a real grammar.

Controllers have no pwsh (not packaged for Debian, and its npm installer needs
GitHub), so the host scripts are parsed with tree-sitter and the
tree-sitter-pwsh grammar instead. A parse tree holding an ERROR or MISSING
node fails the file. This catches unclosed braces, strings and parentheses
and operators with no operand. It does not catch semantic errors such as a
``try`` with no ``catch``, and it is no substitute for PSScriptAnalyzer.

Usage::

    python scripts/check_ps1.py                    # scan the collection
    python scripts/check_ps1.py --require-files    # CI: zero files is a failure
    python scripts/check_ps1.py a.ps1 b.ps1        # check just these
    python scripts/check_ps1.py --semantics        # cmdlets, parameters and value
                                                   # forms of the host scripts
                                                   # (scripts/check_ps1_semantics.py)

Allow-list: the grammar rejects a few valid constructs (about 2.5% of 280
real scripts from ansible.windows and CSS-Exchange), for example a labelled
``continue outer`` or a one-line ``switch`` with ``default``. Put the marker
comment on the reported line, with a reason::

    continue outer  # ps1-syntax: allow labelled continue, grammar gap

Reported problems on a marked line are listed as allowed and do not fail the
run. A marker without a reason does not count.

Exit status: 0 when every file parses (or is allowed), 1 when any file fails
or ``--require-files`` found nothing, 2 on a usage error or when tree-sitter
is not installed.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

SUFFIXES = (".ps1", ".psm1")

# Relative to the scan root. tests/ holds lab fixtures (some deliberately
# broken) and .collections/ is the self-symlink back to the root.
EXCLUDED_TOP_DIRS = {"tests", ".collections", ".git"}
# Anywhere in the tree: local virtualenvs carry third-party .ps1 activators.
EXCLUDED_DIR_GLOBS = (".venv*",)

# The reason is mandatory so every exception explains itself in review.
ALLOW_MARKER = re.compile(r"#\s*ps1-syntax:\s*allow\s+\S")


@dataclass
class Problem:
    line: int  # 1-based
    col: int  # 1-based, in characters
    message: str
    source_line: str
    allowed: bool = False


def _load_parser():
    try:
        import tree_sitter
        import tree_sitter_pwsh
    except ImportError as exc:
        sys.stderr.write(
            f"check_ps1: {exc}; pip install -r requirements-lint.txt\n"
        )
        sys.exit(2)
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))


def _read_source(path: Path) -> bytes:
    """Return the file as UTF-8 bytes, which is what tree-sitter expects."""
    data = path.read_bytes()
    # Windows editors save UTF-16 or UTF-8 with a BOM; both are valid
    # PowerShell and must not count as a syntax error on the first byte.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16").encode("utf-8")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:]
    return data


def _problem_nodes(node):
    """Yield the outermost ERROR nodes and every MISSING node.

    Nested ERROR nodes repeat their parent's position, so stopping at the
    outermost one gives one report per broken region.
    """
    if node.is_error or node.is_missing:
        yield node
        return
    if node.has_error:
        for child in node.children:
            yield from _problem_nodes(child)


# Quoted (not here-) strings. PowerShell lets these span lines, so an
# unclosed quote swallows code up to the next matching quote and the parser
# only fails there; we point back at where such a string began.
_MULTILINE_STRING_TYPES = {"verbatim_string_characters", "expandable_string_literal"}


def _first_innermost_error(node):
    """Descend to the first ERROR/MISSING node that holds no further errors.

    An outer ERROR can span from a construct the parser gave up on (say a
    ``try {`` 15 lines up) to the end of the file; the first innermost error
    is where the source actually stopped making sense.
    """
    while True:
        child = next((c for c in node.children if c.is_error or c.is_missing or c.has_error), None)
        if child is None:
            return node
        node = child


def _multiline_strings(node, found):
    if node.type in _MULTILINE_STRING_TYPES:
        if node.end_point[0] > node.start_point[0]:
            found.append(node)
        return found
    for child in node.children:
        _multiline_strings(child, found)
    return found


def _snippet(text: bytes, limit: int = 40) -> str:
    first = text.decode("utf-8", "replace").strip().splitlines()
    first = first[0] if first else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."


def check_source(source: bytes, parser=None) -> list[Problem]:
    """Parse PowerShell source and return its problems (allowed ones marked)."""
    parser = parser or _load_parser()
    tree = parser.parse(source)
    lines = source.split(b"\n")
    strings = None
    problems = []
    for region in _problem_nodes(tree.root_node):
        node = _first_innermost_error(region)
        row, byte_col = node.start_point
        raw_line = lines[row] if row < len(lines) else b""
        text_line = raw_line.decode("utf-8", "replace").rstrip("\r")
        # tree-sitter columns count bytes; people count characters.
        col = len(raw_line[:byte_col].decode("utf-8", "replace")) + 1
        if node.is_missing:
            parent = node.parent
            message = f'missing "{node.type}"'
            if parent is not None:
                message += (
                    f" to complete {parent.type} that starts at line "
                    f"{parent.start_point[0] + 1}"
                )
        else:
            message = f'syntax error near "{_snippet(node.text or raw_line[byte_col:])}"'
        if strings is None:
            strings = _multiline_strings(tree.root_node, [])
        opener = next(
            (s for s in strings if s.end_point[0] == row and s.end_point[1] <= byte_col), None
        )
        if opener is not None:
            message += (
                f" (a quoted string from line {opener.start_point[0] + 1} ends on this"
                " line: unclosed quote?)"
            )
        problems.append(
            Problem(
                line=row + 1,
                col=col,
                message=message,
                source_line=text_line,
                allowed=bool(ALLOW_MARKER.search(text_line)),
            )
        )
    return problems


def _excluded_dir(rel_dir: Path) -> bool:
    parts = rel_dir.parts
    if parts and parts[0] in EXCLUDED_TOP_DIRS:
        return True
    return any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in EXCLUDED_DIR_GLOBS)


def find_scripts(root: Path) -> list[Path]:
    """PowerShell files under root, minus excluded folders, in stable order."""
    found = []
    # followlinks=False (the default) also keeps us out of symlink loops.
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(d for d in dirnames if not _excluded_dir(rel / d))
        found.extend(
            Path(dirpath) / name for name in sorted(filenames) if name.lower().endswith(SUFFIXES)
        )
    return found


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", type=Path, help="files to check instead of scanning")
    ap.add_argument(
        "--root", type=Path, default=REPO_ROOT, help="collection root to scan (default: this repo)"
    )
    ap.add_argument(
        "--require-files",
        action="store_true",
        help="fail when the scan finds no files, so a moved folder cannot pass silently",
    )
    ap.add_argument(
        "--semantics",
        action="store_true",
        help="check the host scripts' cmdlets, parameters and Exchange value reads "
        "against Microsoft's cmdlet reference instead (see check_ps1_semantics.py)",
    )
    args = ap.parse_args(argv)

    if args.semantics:
        return _semantics([str(p) for p in args.paths])

    if args.paths:
        missing = [str(p) for p in args.paths if not p.is_file()]
        if missing:
            ap.error("not a file: " + ", ".join(missing))
        files = list(args.paths)
    else:
        if not args.root.is_dir():
            ap.error(f"not a directory: {args.root}")
        files = find_scripts(args.root)

    parser = _load_parser()
    failed = 0
    for path in files:
        shown = _display(path, args.root)
        problems = check_source(_read_source(path), parser)
        for p in problems:
            label = "allowed" if p.allowed else "error"
            print(f"{shown}:{p.line}:{p.col}: {label}: {p.message}")
            print(f"    {p.line:>4} | {p.source_line}")
            print(f"         | {' ' * (p.col - 1)}^")
        if any(not p.allowed for p in problems):
            failed += 1

    print(f"checked {len(files)} files, {failed} failed")
    if not files and args.require_files:
        print(
            f"check_ps1: no PowerShell files found under {args.root} "
            "(--require-files); did the scripts move?",
            file=sys.stderr,
        )
        return 1
    return 1 if failed else 0


def _semantics(paths: list[str]) -> int:
    import importlib.util

    path = Path(__file__).resolve().parent / "check_ps1_semantics.py"
    spec = importlib.util.spec_from_file_location("check_ps1_semantics", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_ps1_semantics", module)
    spec.loader.exec_module(module)
    return module.main(paths)


if __name__ == "__main__":
    sys.exit(main())
