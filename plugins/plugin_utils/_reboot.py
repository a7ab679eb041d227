# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart a Windows host over its Ansible connection and wait until it is back.

For internal collection use only; the interface may change in any release.

Written for this collection in the spirit of ansible.windows' reboot helper:
the restart is requested through a host operation (Restart-HostComputer),
proved by a changed boot time, and the host counts as back only when a
Get-HostIdentity call echoes a fresh random token (an answer from a stale
or half-started shell cannot carry it).  Between tries the connection is
reset, waits grow with jitter, and any connection timeout changed here is
restored.  ``reboot_host`` never raises on timeout: it returns a dict.
"""
from __future__ import annotations

import random
import secrets
import time

from ._host_call import HostCallError, connection_error_text, run_host_operation

# A short connection timeout while the host is down keeps each try cheap;
# the original value is put back afterwards.
_PROBE_CONNECTION_TIMEOUT = 15


def _set_option(connection, name, value):
    try:
        old = connection.get_option(name)
        connection.set_option(name, value)
        return True, old
    except Exception:  # not every connection plugin has the option
        return False, None


def _reset(connection):
    """Drop the old shell and transport; the next call connects afresh.
    A host that is still down makes the reset itself fail: that is fine."""
    reset = getattr(connection, "reset", None)
    try:
        if reset is not None:
            reset()
        else:
            connection.close()
    except Exception:
        try:
            connection.close()
        except Exception:
            pass


def reboot_host(connection, *, reboot_timeout=1800, reason="requested", delay_seconds=2, first_wait=1.0,
                max_wait=15.0, host_call=run_host_operation, sleep=time.sleep, monotonic=time.monotonic,
                rng=None):
    """Restart the host behind ``connection``; return what happened.

    Keys of the returned dict:

    ``rebooted``        True when a new boot time was seen and the host answered.
    ``failed``          True when it did not come back in ``reboot_timeout`` or
                        refused the restart.
    ``unreachable``     True when the failure was that the host never answered
                        again (as opposed to answering and refusing).
    ``msg``             what happened, for a person.
    ``last_boot_before`` / ``last_boot_after``  boot times (ISO) seen.
    ``attempts``        identity checks made while waiting.
    ``elapsed``         seconds spent.
    """
    rng = rng or random.Random()
    start = monotonic()
    result = {"rebooted": False, "failed": False, "unreachable": False, "msg": "", "last_boot_before": None,
              "last_boot_after": None, "attempts": 0, "elapsed": 0.0}
    try:
        before = host_call(connection, "Get-HostIdentity", {"token": secrets.token_hex(8)})["data"]
        result["last_boot_before"] = before.get("last_boot")
        host_call(connection, "Restart-HostComputer", {"reason": reason, "delay_seconds": delay_seconds})
    except HostCallError as error:
        result.update(failed=True, msg="the host refused the restart: %s" % error)
        return result
    except Exception as error:  # the connection dropped as the restart began: it was accepted
        if result["last_boot_before"] is None:
            result.update(failed=True, unreachable=True, msg="could not reach the host to restart it: %s" % error)
            return result

    changed_timeout, old_timeout = _set_option(connection, "connection_timeout", _PROBE_CONNECTION_TIMEOUT)
    wait = first_wait
    last_error = None
    try:
        while True:
            elapsed = monotonic() - start
            if elapsed >= reboot_timeout:
                break
            sleep(min(wait, max(0.0, reboot_timeout - elapsed)))
            wait = min(max_wait, wait * 1.5) + rng.uniform(0, wait * 0.25)
            _reset(connection)
            token = secrets.token_hex(16)
            result["attempts"] += 1
            try:
                identity = host_call(connection, "Get-HostIdentity", {"token": token})["data"]
            except Exception as error:  # still down, or not fully up: try again
                last_error = connection_error_text(error)
                continue
            if identity.get("token") != token:
                last_error = "the host answered with a stale token"
                continue
            if identity.get("last_boot") == result["last_boot_before"]:
                last_error = "the host answers but has not restarted yet (boot time unchanged)"
                continue
            result.update(rebooted=True, last_boot_after=identity.get("last_boot"),
                          msg="restarted; back after %.0f s" % (monotonic() - start))
            return result
    finally:
        if changed_timeout:
            _set_option(connection, "connection_timeout", old_timeout)
        result["elapsed"] = round(monotonic() - start, 1)
    result.update(failed=True, unreachable=True,
                  msg="the host did not come back within %d s of the restart (last error: %s)"
                      % (reboot_timeout, last_error or "none"))
    return result
