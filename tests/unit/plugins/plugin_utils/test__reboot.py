"""reboot_host: proof by boot time and a fresh token, never raises on timeout."""
from __future__ import annotations

import itertools

from ansible_collections.onprem.exchange.plugins.plugin_utils._host_call import HostCallError
from ansible_collections.onprem.exchange.plugins.plugin_utils._reboot import reboot_host


class FakeHost:
    """Answers Get-HostIdentity; goes down after Restart-HostComputer for ``down_polls`` tries."""

    def __init__(self, down_polls=2, comes_back=True, refuse=False, stale_token=False):
        self.boot = "2026-11-20T00:00:00+00:00"
        self.down = 0
        self.down_polls = down_polls
        self.comes_back = comes_back
        self.refuse = refuse
        self.stale_token = stale_token
        self.calls = []
        self.resets = 0
        self.options = {"connection_timeout": 30}

    # connection surface
    def reset(self):
        self.resets += 1

    def get_option(self, name):
        return self.options[name]

    def set_option(self, name, value):
        self.options[name] = value

    def call(self, connection, operation, args):
        self.calls.append(operation)
        if operation == "Restart-HostComputer":
            if self.refuse:
                raise HostCallError("host operation Restart-HostComputer failed: access denied", "operation", operation)
            self.down = self.down_polls if self.comes_back else 10 ** 9
            return {"data": {}}
        if self.down:
            self.down -= 1
            if self.down == 0:
                self.boot = "2026-11-26T08:00:00+00:00"
            raise ConnectionError("connection refused")
        return {"data": {"last_boot": self.boot, "token": "old" if self.stale_token else args["token"]}}


def _run(host, timeout=100):
    clock = itertools.count(0, 5)
    return reboot_host(host, reboot_timeout=timeout, host_call=host.call, sleep=lambda s: None,
                       monotonic=lambda: next(clock))


def test_a_restart_is_proved_by_a_new_boot_time():
    host = FakeHost()
    outcome = _run(host)
    assert outcome["rebooted"] and not outcome["failed"]
    assert outcome["last_boot_before"] != outcome["last_boot_after"]
    assert host.resets == outcome["attempts"] >= 2
    assert host.options["connection_timeout"] == 30  # restored


def test_a_host_that_never_returns_gives_a_result_not_an_exception():
    outcome = _run(FakeHost(comes_back=False), timeout=30)
    assert outcome["failed"] and outcome["unreachable"] and not outcome["rebooted"]
    assert "did not come back within 30 s" in outcome["msg"]


def test_a_refused_restart_is_reported_as_such():
    outcome = _run(FakeHost(refuse=True))
    assert outcome["failed"] and not outcome["unreachable"]
    assert "refused the restart" in outcome["msg"]


def test_a_stale_answer_does_not_count_as_back():
    outcome = _run(FakeHost(stale_token=True), timeout=40)
    assert outcome["failed"] and "stale token" in outcome["msg"]


def test_the_last_error_of_a_host_that_never_returns_is_said_in_a_few_words():
    class Urllib3Refusal(FakeHost):
        def call(self, connection, operation, args):
            try:
                return super().call(connection, operation, args)
            except ConnectionError:
                # What pywinrm's requests/urllib3 stack says, in one long line.
                raise ConnectionError(
                    "basic: HTTPSConnectionPool(host='fs1.lab', port=5986): Max retries exceeded with url: /wsman "
                    "(Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to "
                    "establish a new connection: [Errno 111] Connection refused'))") from None
    outcome = _run(Urllib3Refusal(comes_back=False), timeout=30)
    assert outcome["msg"] == "the host did not come back within 30 s of the restart (last error: connection refused)"
