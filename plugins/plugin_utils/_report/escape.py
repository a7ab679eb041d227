# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host text made safe for each report format (HTML is Jinja2 autoescape, see ``page``).

For internal collection use only; the interface may change in any release.

Everything a host sends (server names, messages, Setup log lines, rule
names) is untrusted: a report must show it, never obey it.
"""
from __future__ import annotations

import html
import re
import unicodedata


def text(value):
    """Plain ``str`` or None.  str() also turns str subclasses (Ansible's
    tagged strings) into exact str, so json/csv/Jinja2 never see foreign types."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- CSV --------------------------------------------------------------------

# A cell that starts with one of these is evaluated as a formula by Excel,
# LibreOffice Calc or Google Sheets (OWASP "CSV Injection": = + - @, TAB, CR).
_FORMULA_START = frozenset("=+-@\t\r")
# What may stand before the trigger and still be skipped by a spreadsheet's
# import: spaces, line breaks and other blanks are trimmed by some importers.
_SKIPPED = " \t\r\n\v\f\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u3000\ufeff"
# Full-width and small forms (＝ ＋ － ＠ ﹦ ﹢ ﹣ ﹫) fold to = + - @ under
# Unicode compatibility mapping (NFKC), which East Asian IME input and some
# importers apply; the minus sign U+2212 is read as "-" by LibreOffice.
_EXTRA_TRIGGERS = frozenset("\u2212")


def _is_trigger(char):
    return (char in _FORMULA_START or char in _EXTRA_TRIGGERS
            or unicodedata.normalize("NFKC", char)[:1] in _FORMULA_START)


def csv_cell(value):
    """Text for one CSV cell.  A cell whose first character (after blanks a
    spreadsheet may trim) would start a formula gets a leading quote, which
    spreadsheets read as "this is text" (OWASP's advice)."""
    cell = "" if value is None else text(value)
    stripped = cell.lstrip(_SKIPPED)
    if cell and (cell[0] in _FORMULA_START or (stripped and _is_trigger(stripped[0]))):
        return "'" + cell
    return cell


# --- Markdown ---------------------------------------------------------------

# Characters with a meaning in (GitHub-flavoured) Markdown inline text and
# tables: escaped with a backslash so host text stays literal (< > and &
# are HTML-escaped instead).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#!~])")


def md(value, empty="—"):
    """Host text made inert in Markdown: one line (a newline would end a
    table row), no raw HTML, links, images, code spans or table breaks."""
    if value is None or value == "" or value == []:
        return empty
    one_line = " ".join(text(value).split())
    # html.escape first: an escaped "&lt;" cannot become a tag, and "&" can
    # no longer form an entity that a renderer would decode.
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def label(value, empty="unknown"):
    """A code such as ``not_working`` as words (``not working``)."""
    return (text(value) or empty).replace("_", " ")
