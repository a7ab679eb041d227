# Copyright: Contributors to the onprem.exchange collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Parse and compare Exchange Server build numbers.

For internal collection use only; the interface may change in any release.

Admins meet one build in three spellings, and all three parse to the same
:class:`ExchangeBuild`:

* ``15.2.1748.10`` - the short form used by Microsoft's build tables;
* ``15.02.1748.010`` - the zero-padded form ``ExSetup.exe`` reports as its
  file version (the only one that includes SUs and HUs);
* ``Version 15.2 (Build 1748.10)`` - ``AdminDisplayVersion`` from
  ``Get-ExchangeServer``; it shows the CU level only, never an SU.

Ordering compares whole versions (``packaging.version``), never part by part,
so ``15.2.1258.12`` is correctly newer than ``15.2.1118.40``.

This module knows nothing about products; which major.minor.build belongs to
which product is catalog data (``_exchange_catalog``).
"""

from __future__ import annotations

import functools
import re

try:
    from packaging.version import Version
except ImportError:  # pragma: no cover - ansible-core itself requires packaging
    # Importing must not fail (ansible-test's import sanity test loads plugins
    # without third-party libraries); the first build compared says what is missing.
    Version = None

__all__ = ["ExchangeBuild", "ExchangeBuildError", "parse_build"]


class ExchangeBuildError(ValueError):
    """A string that is not an Exchange build number; the message quotes it."""

    def __init__(self, value, why="it is not an Exchange build number"):
        self.value = value
        self.why = why
        super().__init__(
            "%s is not a valid Exchange build: %s. Expected a form such as "
            "'15.2.1748.10', '15.02.1748.010' or 'Version 15.2 (Build 1748.10)'."
            % (_quote(value), why)
        )


def _quote(value):
    # repr() shows stray whitespace, None and non-strings unambiguously.
    if isinstance(value, str):
        return "'%s'" % value.replace("'", "\\'")
    return repr(value)


# Widths are bounded so that a typo such as a pasted date or an IP address
# with a fifth octet is rejected rather than read as a build.
_DOTTED = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,5})\.(\d{1,5})$")
_ADMIN_DISPLAY = re.compile(
    r"^Version\s+(\d{1,3})\.(\d{1,3})\s*\(\s*Build\s+(\d{1,5})\.(\d{1,5})\s*\)$",
    re.IGNORECASE,
)


@functools.total_ordering
class ExchangeBuild:
    """One Exchange build, immutable, ordered by ``packaging`` version."""

    __slots__ = ("major", "minor", "build", "revision", "source_form", "_version")

    def __init__(self, major, minor, build, revision, source_form="dotted"):
        for part in (major, minor, build, revision):
            if not isinstance(part, int) or isinstance(part, bool) or part < 0:
                raise ExchangeBuildError(
                    (major, minor, build, revision), "each part must be a whole number"
                )
        object.__setattr__(self, "major", major)
        object.__setattr__(self, "minor", minor)
        object.__setattr__(self, "build", build)
        object.__setattr__(self, "revision", revision)
        object.__setattr__(self, "source_form", source_form)
        if Version is None:
            raise ImportError(
                "onprem.exchange needs the Python library 'packaging' on the Ansible controller "
                "to compare Exchange builds; install the collection's requirements.txt "
                "(pip install 'packaging>=23.0')."
            )
        object.__setattr__(self, "_version", Version("%d.%d.%d.%d" % self.parts))

    def __setattr__(self, name, value):
        raise AttributeError("ExchangeBuild is immutable")

    @classmethod
    def parse(cls, value):
        """Read any accepted spelling; raise :class:`ExchangeBuildError` otherwise."""
        if isinstance(value, ExchangeBuild):
            return value
        if not isinstance(value, str):
            raise ExchangeBuildError(value, "expected a string, got %s" % type(value).__name__)
        text = value.strip()
        if not text:
            raise ExchangeBuildError(value, "it is empty")
        match = _DOTTED.match(text)
        form = "dotted"
        if match is None:
            match = _ADMIN_DISPLAY.match(text)
            form = "admin_display_version"
        if match is None:
            raise ExchangeBuildError(value)
        if form == "dotted" and any(len(p) > 1 and p.startswith("0") for p in match.groups()):
            form = "exsetup"
        major, minor, build, revision = (int(p) for p in match.groups())
        return cls(major, minor, build, revision, form)

    @property
    def parts(self):
        return (self.major, self.minor, self.build, self.revision)

    @property
    def version(self):
        """The ``packaging.version.Version`` used for every comparison."""
        return self._version

    @property
    def cu_key(self):
        """``(major, minor, build)``: the part that identifies the CU."""
        return self.parts[:3]

    @property
    def shows_updates(self):
        """False when read from AdminDisplayVersion, which hides SUs and HUs."""
        return self.source_form != "admin_display_version"

    def __str__(self):
        return "%d.%d.%d.%d" % self.parts

    def long_form(self):
        """The zero-padded spelling ExSetup.exe reports, e.g. ``15.02.1748.010``."""
        return "%d.%02d.%04d.%03d" % self.parts

    def __repr__(self):
        return "ExchangeBuild('%s')" % self

    def __eq__(self, other):
        if not isinstance(other, ExchangeBuild):
            return NotImplemented
        return self._version == other._version

    def __lt__(self, other):
        if not isinstance(other, ExchangeBuild):
            return NotImplemented
        return self._version < other._version

    def __hash__(self):
        return hash(self.parts)


def parse_build(value):
    """Shorthand for :meth:`ExchangeBuild.parse`."""
    return ExchangeBuild.parse(value)
