# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared base for the collection's action plugins that call host operations.

For internal collection use only; the interface may change in any release.

It holds the opening every action repeats (``_ex_open``: the host's name,
arguments validated once against the plugin's spec with the host named in
every error; ``_ex_today``: the date, parsed at the boundary; ``_ex_catalog``:
the build catalog with the inventory's extra files), resolves the Exchange
Management Shell credential (defaulting to the connection's own), and turns
host-call and plugin_utils failures into task failures that name the host.

Transient connection faults (a reset, a refusal of a few seconds) are retried
here, with a short bounded backoff, for the operations in ``SAFE_TO_REPEAT``
only: reads, and writes whose script reads the state first so that a second
run of the same request changes nothing.  Every other operation meets a lost
connection once: whether it was applied is for its caller to find out.
"""
from __future__ import annotations

import contextlib
import datetime
import time

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure, AnsibleError
from ansible.plugins.action import ActionBase

from ._bounds import host_argument_problem, text_problem
from ._exchange_catalog import CatalogError, catalog_files_from, load_catalog
from ._host_call import HostCallError, connection_error_text, run_host_operation
from ._reboot import _reset as reset_connection

# Host operations that may be sent again after the connection was lost with
# the answer unknown.  Reads change nothing; the maintenance steps check the
# component/cluster/activation state before changing it (a step already in
# place is a no-op, see Enter-/Exit-MaintenanceStep.ps1).
SAFE_TO_REPEAT = frozenset({
    "Get-ActiveDirectoryPrepState", "Get-EemsState", "Get-ExchangeFacts", "Get-HostIdentity",
    "Get-InstallerTaskState", "Get-MaintenanceState", "Get-MitigationServiceEvent", "Get-RepositoryManifest",
    "Get-ReportFile", "Get-RewriteConfiguration", "Get-StagedFile", "Test-ExchangeInstallHealth",
    "Test-ExchangePrerequisite", "Enter-MaintenanceStep", "Exit-MaintenanceStep",
})
# Sent once: a second start would run an installer or a restart twice, or
# the owner of the operation has not shown that repeating it is harmless.
NOT_REPEATED = frozenset({
    "Start-InstallerTask", "Restart-HostComputer", "Invoke-PackageDownload", "Install-UrlRewriteModule",
    "Set-RewriteRules", "Restore-RewriteConfiguration", "Set-EemsOrganizationConfig", "Set-EemsServerConfig",
    "Set-MitigationServiceState", "Publish-ReportFile",
})
# Waits between tries of a repeatable operation after a lost connection
# (seconds), and the most time spent retrying one call: a blip is absorbed,
# a server that stays away is reported within about half a minute.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)
RETRY_BUDGET = 20.0


def connection_errors():
    """Exception types that mean the connection, not the operation, failed."""
    kinds = [AnsibleConnectionFailure, OSError]
    try:  # pywinrm's own transport errors, when it is installed
        from winrm.exceptions import WinRMError, WinRMTransportError
        kinds += [WinRMError, WinRMTransportError]
    except ImportError:  # pragma: no cover - winrm is a collection requirement
        pass
    try:
        from requests.exceptions import RequestException
        kinds.append(RequestException)
    except ImportError:  # pragma: no cover
        pass
    return tuple(kinds)


class _Lost:
    """What a caller that applied changes needs: which operation, how many tries."""

    def _ex_lost(self, operation, tries):
        self.operation = operation
        self.tries = tries
        return self


class HostUnreachable(AnsibleConnectionFailure, _Lost):
    """No connection for ``operation`` (after any retries): an
    AnsibleConnectionFailure, so a task that lets it escape is reported
    unreachable, as before; callers that applied changes catch it."""


class HostAnswerLost(AnsibleActionFail, _Lost):
    """The connection broke while ``operation`` ran and it was not repeated
    (or every repeat broke too): a task failure, not an unreachable host."""


# Catch these where steps were applied before the connection was lost.
CONNECTION_LOST = (HostUnreachable, HostAnswerLost)


def lost_after(error, done, advice):
    """``error`` (one of CONNECTION_LOST) again, of the same kind (unreachable
    or failed), now saying what this run had applied (``done``) and what to
    do, so a summary does not read as "nothing done"."""
    return type(error)("%s. Applied before the connection was lost: %s; %s" % (error, "; ".join(done), advice)) \
        ._ex_lost(error.operation, error.tries)


# Options every Exchange-cmdlet-using plugin accepts; documented once in
# plugins/doc_fragments/ems.py.
EMS_ARGUMENT_SPEC = {
    "ems_mode": {"type": "str", "choices": ["auto", "remote", "snapin"], "default": "auto"},
    "ems_username": {"type": "str"},
    "ems_password": {"type": "str", "no_log": True},
}


class HostActionBase(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    # Subclasses set this to their literal spec, and ARGUMENT_RULES to the
    # validator's cross-option rules (mutually_exclusive, required_one_of...).
    ARGUMENT_SPEC = {}
    ARGUMENT_RULES = {}
    # Options whose text travels to the host, with the most characters each
    # may have: refused right after validation (NUL, control characters,
    # length), naming host and option, before anything is sent or echoed.
    # ems_username is bounded for every action that has it.
    TEXT_BOUNDS = {}

    # -- the opening every action repeats ------------------------------------
    def run(self, tmp=None, task_vars=None):
        """The opening, then the action's own steps (``_ex_run``)."""
        result = super().run(tmp, task_vars)
        del tmp
        args = self._ex_open(task_vars)
        return self._ex_run(args, result)

    def _ex_run(self, args, result):
        """The action's steps, after the opening: host calls, plugin_utils, result."""
        raise NotImplementedError

    def _ex_open(self, task_vars):
        """Remember the task's variables and host, and return the validated
        arguments.  The first line of every ``run``."""
        self._ex_vars = task_vars or {}
        args = self._ex_validate()
        bounds = dict({"ems_username": 256} if "ems_username" in self.ARGUMENT_SPEC else {}, **self.TEXT_BOUNDS)
        for option, longest in bounds.items():
            problem = text_problem(args.get(option), option, max_length=longest)
            if problem:
                raise self._ex_error("%s; nothing was sent to the server" % problem)
        return args

    @property
    def _ex_host(self):
        return (getattr(self, "_ex_vars", None) or {}).get("inventory_hostname", "host")

    def _ex_validate(self):
        """Validated, defaulted arguments; raises, naming the host, on bad input.
        Deprecated options and aliases are announced once per task."""
        try:
            validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC, **self.ARGUMENT_RULES)
        except AnsibleActionFail as error:
            raise AnsibleActionFail("%s: %s" % (self._ex_host, error.message)) from None
        for item in getattr(validation, "_deprecations", None) or ():
            self._display.deprecated(item["msg"], version=item.get("version"), date=item.get("date"),
                                     collection_name=item.get("collection_name"))
        return args

    def _ex_error(self, message):
        """A task failure whose message starts with the host's name."""
        return AnsibleActionFail("%s: %s" % (self._ex_host, message))

    @contextlib.contextmanager
    def _ex_failing(self, *kinds, suffix=""):
        """Turn a plugin_utils refusal (``kinds``) into a task failure naming
        the host; ``suffix`` adds what the person should know (". Nothing was
        changed.")."""
        try:
            yield
        except kinds as error:
            raise self._ex_error("%s%s" % (error, suffix)) from None

    def _ex_today(self, value, option="today"):
        """The date the run judges by: ``value`` (YYYY-MM-DD) or the
        controller's clock, read here at the boundary and nowhere inward."""
        if not value:
            return datetime.date.today()
        try:
            return datetime.date.fromisoformat(value)
        except (TypeError, ValueError):
            raise self._ex_error("%s=%r is not an ISO date (YYYY-MM-DD)" % (option, value)) from None

    def _ex_catalog(self):
        """The shipped build catalog merged with the extra catalog files the
        inventory names (``exchange_catalog_files``); a bad file fails the
        task before the host is contacted."""
        with self._ex_failing(CatalogError):
            return load_catalog(extra=catalog_files_from(getattr(self, "_ex_vars", None), self._templar))

    def _ex_connection_option(self, name):
        try:
            return self._connection.get_option(name)
        except (KeyError, AttributeError):
            return None

    def _ex_ems_args(self, args):
        """The EMS part of a host operation's arguments.  Without an explicit
        credential the connection's own user and password are used: the usual
        case, where the WinRM account is also the Exchange administrator."""
        username = args.get("ems_username") or self._ex_connection_option("remote_user")
        password = args.get("ems_password") or self._ex_connection_option("remote_password")
        return {"mode": args.get("ems_mode", "auto"), "username": username, "password": password}

    def _ex_host_call(self, operation, op_args, task_vars=None):
        if task_vars is None:
            task_vars = getattr(self, "_ex_vars", None)
        host = (task_vars or {}).get("inventory_hostname", "host")
        # The backstop for values no option check covers: nothing with a
        # NUL byte or of absurd length is sent (the message names the
        # argument, never its value: it may be a password).
        problem = host_argument_problem(op_args)
        if problem:
            raise AnsibleActionFail("%s: the %s argument %s; nothing was sent to the server" % (host, operation, problem))
        delays = RETRY_DELAYS if operation in SAFE_TO_REPEAT else ()
        started, tries = None, 0
        while True:
            tries += 1
            try:
                return run_host_operation(self._connection, operation, op_args)
            except HostCallError as error:
                raise AnsibleActionFail("%s: %s" % (host, error)) from None
            except Exception as error:
                if not is_connection_error(error):
                    raise
                now = time.monotonic()
                started = now if started is None else started
                if tries > len(delays) or now - started >= RETRY_BUDGET:
                    kind = HostUnreachable if isinstance(error, AnsibleConnectionFailure) else HostAnswerLost
                    raise kind("%s: %s %s (%s)%s" % (
                        host, "could not connect for" if kind is HostUnreachable else "lost the connection during",
                        operation, connection_error_text(error),
                        "; tried %d times over %d s" % (tries, now - started) if tries > 1 else
                        "; not repeated: it is not safe to send twice" if operation not in SAFE_TO_REPEAT
                        else "")).\
                        _ex_lost(operation, tries) from None
                time.sleep(delays[tries - 1])
                reset_connection(self._connection)


def is_connection_error(error):
    """True when ``error`` from a connection plugin means the host was not
    (or no longer) reachable, rather than a fault of the request."""
    if isinstance(error, connection_errors()):
        return True
    if isinstance(error, AnsibleError):
        text = str(error).lower()
        return any(word in text for word in ("connection", "winrm", "timed out", "refused", "reset"))
    return False
