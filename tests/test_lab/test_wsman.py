"""The lab WS-Management server, driven by unmodified pywinrm and Ansible's winrm connection."""

from __future__ import annotations

import base64
import concurrent.futures
import errno
import itertools
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pytest  # noqa: E402
import requests  # noqa: E402
import winrm  # noqa: E402
import xmltodict  # noqa: E402
from winrm.exceptions import (  # noqa: E402
    InvalidCredentialsError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)

from lab import tls  # noqa: E402
from lab.wsman import (  # noqa: E402
    CommandResult,
    DropConnection,
    WSManServer,
    parse_duration,
    powershell_encoded_script,
)

USER = "LAB\\patcher"
PASSWORD = "Lab-Passw0rd!"
ENCODED_PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "


class FakeBackend:
    """Commands: ``echo ARGS``, ``upper`` (stdin), ``sleep S``, ``exit N``,
    ``big OUT ERR`` (bytes), ``drop``, ``whoami`` (endpoint name), ``crash``,
    and any ``-EncodedCommand`` line, answered with its decoded script."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes]] = []
        self._lock = threading.Lock()

    def authenticate(self, endpoint: str, username: str, password: str) -> bool:
        return username == USER and password == PASSWORD

    def run_command(self, endpoint: str, command_line: str, stdin: bytes) -> CommandResult:
        with self._lock:
            self.calls.append((endpoint, command_line, stdin))
        script = powershell_encoded_script(command_line)
        if script is not None:
            return CommandResult(f"script:{script}".encode() + b"|" + stdin.upper(), b"", 0)
        verb, _, rest = command_line.partition(" ")
        if verb == "echo":
            return CommandResult(rest.encode(), b"", 0)
        if verb == "upper":
            return CommandResult(stdin.upper(), b"", 0)
        if verb == "sleep":
            time.sleep(float(rest))
            return CommandResult(b"slept", b"", 0)
        if verb == "exit":
            return CommandResult(b"", f"failing with {rest}".encode(), int(rest))
        if verb == "big":
            out_size, err_size = (int(n) for n in rest.split())
            return CommandResult(_pattern(b"O", out_size), _pattern(b"E", err_size), 0)
        if verb == "drop":
            raise DropConnection()
        if verb == "whoami":
            return CommandResult(endpoint.encode(), b"", 0)
        if verb == "crash":
            raise RuntimeError("model bug")
        return CommandResult(b"", b"unknown command", 1)


def _pattern(tag: bytes, size: int) -> bytes:
    # Position-dependent content so a reordered or repeated chunk is caught.
    block = b"".join(tag + b"%07d\n" % i for i in range(size // 9 + 1))
    return block[:size]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return tls.ensure_lab_pki(tmp_path_factory.mktemp("pki"), extra_dns_names=["ex01.lab.test"])


@pytest.fixture(scope="module")
def backend():
    return FakeBackend()


@pytest.fixture(scope="module")
def server(pki, backend):
    lab_server = WSManServer(
        backend, certfile=pki.server_cert_path, keyfile=pki.server_key_path, max_operation_timeout_s=30,
    )
    lab_server.start()
    yield lab_server
    lab_server.stop()


_names = itertools.count()


@pytest.fixture
def endpoint(server):
    """A fresh TLS endpoint per test, so faults and counters never leak between tests."""
    name = f"ex{next(_names):03d}"
    host, port = server.add_endpoint(name)
    yield name, port
    server.remove_endpoint(name)


def make_protocol(port, pki, *, scheme="https", password=PASSWORD, ca=None, host="127.0.0.1", **kwargs):
    return winrm.Protocol(
        f"{scheme}://{host}:{port}/wsman",
        transport="basic",
        username=USER,
        password=password,
        server_cert_validation="validate",
        ca_trust_path=ca or pki.ca_cert_path,
        **kwargs,
    )


def run(protocol, command, args=()):
    shell_id = protocol.open_shell()
    try:
        command_id = protocol.run_command(shell_id, command, args)
        result = protocol.get_command_output(shell_id, command_id)
        protocol.cleanup_command(shell_id, command_id)
        return result
    finally:
        protocol.close_shell(shell_id)


# -- shell lifecycle and commands -------------------------------------------


def test_shell_lifecycle_records_shell_and_cleans_up(server, endpoint, pki):
    name, port = endpoint
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell(working_directory="C:\\Temp", env_vars={"LAB": "1"}, codepage=65001)

    [shell] = server.describe_shells(name)
    assert shell["shell_id"] == shell_id
    assert shell["owner"] == USER
    assert shell["environment"] == {"LAB": "1"}
    assert shell["working_directory"] == "C:\\Temp"
    assert shell["codepage"] == "65001"
    assert (shell["input_streams"], shell["output_streams"]) == ("stdin", "stdout stderr")

    command_id = protocol.run_command(shell_id, "echo", ["hello", "world"])
    assert protocol.get_command_output(shell_id, command_id) == (b"hello world", b"", 0)
    protocol.cleanup_command(shell_id, command_id)
    assert server.describe_shells(name)[0]["commands"] == []

    protocol.close_shell(shell_id)
    assert server.describe_shells(name) == []
    stats = server.stats(name)
    assert (stats["shells_created"], stats["commands_started"], stats["open_shells"]) == (1, 1, 0)
    assert stats["recent_command_lines"] == ["echo hello world"]


def test_session_run_cmd(endpoint, pki):
    _, port = endpoint
    session = winrm.Session(
        f"https://127.0.0.1:{port}/wsman", auth=(USER, PASSWORD), transport="basic",
        server_cert_validation="validate", ca_trust_path=pki.ca_cert_path,
    )
    result = session.run_cmd("echo", ["via", "session"])
    assert (result.status_code, result.std_out, result.std_err) == (0, b"via session", b"")


@pytest.mark.parametrize("rc", [0, 1, 3010, 2147942405])
def test_exit_codes(endpoint, pki, rc):
    _, port = endpoint
    stdout, stderr, code = run(make_protocol(port, pki), f"exit {rc}")
    assert (stdout, stderr, code) == (b"", f"failing with {rc}".encode(), rc)


def test_negative_exit_code_is_reported_unsigned_like_windows(endpoint, pki):
    _, port = endpoint
    assert run(make_protocol(port, pki), "exit -1")[2] == 0xFFFFFFFF


def test_backend_exception_becomes_failed_command(server, endpoint, pki):
    name, port = endpoint
    stdout, stderr, rc = run(make_protocol(port, pki), "crash")
    assert rc == 1 and b"RuntimeError: model bug" in stderr
    assert server.stats(name)["backend_errors"] == 1


def test_stdin_via_send_waits_for_end(server, endpoint, pki):
    name, port = endpoint
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "upper", console_mode_stdin=False)
    protocol.send_command_input(shell_id, command_id, b"first ", end=False)
    # Without End the command has not started, so a Receive can only time out.
    with pytest.raises(WinRMOperationTimeoutError):
        make_protocol(port, pki, operation_timeout_sec=1, read_timeout_sec=5).get_command_output_raw(shell_id, command_id)
    protocol.send_command_input(shell_id, command_id, b"second", end=True)
    assert protocol.get_command_output(shell_id, command_id) == (b"FIRST SECOND", b"", 0)
    protocol.close_shell(shell_id)


def test_console_mode_stdin_starts_at_once_and_ignores_later_input(endpoint, pki):
    _, port = endpoint
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "upper")
    assert protocol.get_command_output(shell_id, command_id) == (b"", b"", 0)
    protocol.send_command_input(shell_id, command_id, b"late", end=True)
    protocol.close_shell(shell_id)


def test_long_output_is_split_over_receives(server, endpoint, pki):
    name, port = endpoint
    out_size, err_size = 5 * 1024 * 1024 + 17, 300_000
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "big", [str(out_size), str(err_size)])
    chunks, done, rc = [], False, None
    while not done:
        stdout, stderr, rc, done = protocol.get_command_output_raw(shell_id, command_id)
        chunks.append((stdout, stderr))
    assert all(len(out) + len(err) <= 128 * 1024 for out, err in chunks)
    assert b"".join(out for out, _ in chunks) == _pattern(b"O", out_size)
    assert b"".join(err for _, err in chunks) == _pattern(b"E", err_size)
    assert rc == 0
    assert server.stats(name)["receive_responses"] == len(chunks) > 40
    protocol.close_shell(shell_id)


def test_receive_after_done_repeats_the_exit_code(endpoint, pki):
    _, port = endpoint
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "exit", ["4"])
    assert protocol.get_command_output_raw(shell_id, command_id)[2:] == (4, True)
    assert protocol.get_command_output_raw(shell_id, command_id) == (b"", b"", 4, True)
    protocol.close_shell(shell_id)


def test_command_outliving_operation_timeout_is_delivered_by_retried_receives(server, endpoint, pki):
    name, port = endpoint
    protocol = make_protocol(port, pki, operation_timeout_sec=1, read_timeout_sec=5)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "sleep", ["2.5"])
    with pytest.raises(WinRMOperationTimeoutError):
        protocol.get_command_output_raw(shell_id, command_id)
    assert protocol.get_command_output(shell_id, command_id) == (b"slept", b"", 0)
    assert server.stats(name)["receive_timeouts"] >= 1
    protocol.close_shell(shell_id)


def test_signal_terminate_forgets_running_command(server, endpoint, pki):
    name, port = endpoint
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "sleep", ["3"])
    protocol.cleanup_command(shell_id, command_id)
    assert server.describe_shells(name)[0]["commands"] == []
    with pytest.raises(WSManFaultError) as caught:
        protocol.get_command_output_raw(shell_id, command_id)
    assert caught.value.fault_subcode == "w:InvalidParameter"
    protocol.close_shell(shell_id)


def test_recent_command_lines_keep_the_last_50(server, endpoint, pki):
    name, port = endpoint
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    for i in range(55):
        command_id = protocol.run_command(shell_id, "echo", [str(i)])
        protocol.cleanup_command(shell_id, command_id)
    protocol.close_shell(shell_id)
    stats = server.stats(name)
    assert stats["commands_started"] == 55
    assert stats["recent_command_lines"] == [f"echo {i}" for i in range(5, 55)]


# -- quota, unknown shells, faults ------------------------------------------


def test_operation_quota_gives_the_fault_ansible_recognises(server, endpoint, pki):
    name, port = endpoint
    server.set_command_quota(name, 2)
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    for _ in range(2):
        protocol.cleanup_command(shell_id, protocol.run_command(shell_id, "echo", ["x"]))
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command(shell_id, "echo", ["x"])
    assert caught.value.wmierror_code == 0x803381A6
    assert "maximum number of 2 concurrent operations" in caught.value.reason
    assert server.stats(name)["quota_faults"] == 1
    protocol.close_shell(shell_id)


def test_unknown_shell_after_reset_gives_windows_fault(server, endpoint, pki):
    name, port = endpoint
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    server.reset_shells(name)
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command(shell_id, "echo", ["x"])
    fault = caught.value
    assert fault.code == 500
    assert fault.wsman_fault_code == 2150858843
    assert (fault.fault_code, fault.fault_subcode) == ("s:Sender", "w:InvalidSelectors")
    assert f"ShellId {shell_id} failed because the shell was not found on the server" in fault.response
    with pytest.raises(WSManFaultError):
        protocol.close_shell(shell_id)


def test_reset_while_receiving_reports_missing_shell(server, endpoint, pki):
    name, port = endpoint
    protocol = make_protocol(port, pki, operation_timeout_sec=20, read_timeout_sec=30)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "sleep", ["30"])
    outcome = {}

    def receive():
        try:
            protocol.get_command_output_raw(shell_id, command_id)
        except WSManFaultError as exc:
            outcome["fault"] = exc

    waiter = threading.Thread(target=receive)
    waiter.start()
    _wait_until(lambda: server.stats(name)["requests"] >= 3)
    server.reset_shells(name)
    waiter.join(20)
    assert outcome["fault"].wsman_fault_code == 2150858843


def test_latency_fault_delays_every_answer(server, endpoint, pki):
    name, port = endpoint
    server.set_faults(name, latency_s=0.3)
    protocol = make_protocol(port, pki)
    started = time.monotonic()
    shell_id = protocol.open_shell()
    assert time.monotonic() - started >= 0.3
    protocol.close_shell(shell_id)
    server.set_faults(name)
    assert run(protocol, "echo", ["after"])[0] == b"after"


def test_http500_fault_fails_next_requests_only(server, endpoint, pki):
    name, port = endpoint
    server.set_faults(name, http500_next=2)
    protocol = make_protocol(port, pki)
    for _ in range(2):
        with pytest.raises(WinRMTransportError) as caught:
            protocol.open_shell()
        assert caught.value.code == 500
        assert "Simulated internal server error" in caught.value.response_text
    assert run(protocol, "echo", ["ok"])[0] == b"ok"
    assert server.stats(name)["http500_sent"] == 2


def test_dropped_receive_leaves_command_running_for_a_later_receive(server, endpoint, pki):
    name, port = endpoint
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "sleep", ["0.5"])
    server.set_faults(name, drop_next_commands=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        protocol.get_command_output_raw(shell_id, command_id)
    fresh = make_protocol(port, pki)
    assert fresh.get_command_output(shell_id, command_id) == (b"slept", b"", 0)
    assert server.stats(name)["connections_dropped"] == 1
    fresh.close_shell(shell_id)


def test_drop_fault_also_hits_a_finished_but_undelivered_command(server, endpoint, pki):
    name, port = endpoint
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "echo", ["fast"])
    _wait_until(lambda: any(call[1] == "echo fast" for call in server.backend.calls))
    server.set_faults(name, drop_next_commands=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        protocol.get_command_output_raw(shell_id, command_id)
    assert make_protocol(port, pki).get_command_output(shell_id, command_id) == (b"fast", b"", 0)


def test_backend_drop_closes_connection_then_command_can_be_signalled(server, endpoint, pki):
    name, port = endpoint
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        protocol.get_command_output_raw(shell_id, command_id)
    with pytest.raises(WSManFaultError) as caught:
        protocol.get_command_output_raw(shell_id, command_id)
    assert "lost with the client's connection" in caught.value.response
    protocol.cleanup_command(shell_id, command_id)
    protocol.close_shell(shell_id)


def test_unsupported_resource_and_action_get_faults(endpoint, pki):
    _, port = endpoint
    protocol = make_protocol(port, pki)
    header = protocol.build_wsman_header(
        action="http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
        resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
    )
    with pytest.raises(WSManFaultError) as caught:
        protocol.send_message(xmltodict.unparse({"env:Envelope": dict(header, **{"env:Body": {}})}))
    assert caught.value.fault_subcode == "a:ActionNotSupported"
    header = protocol.build_wsman_header(
        action="http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
        resource_uri="http://schemas.microsoft.com/powershell/Microsoft.PowerShell",
    )
    with pytest.raises(WSManFaultError) as caught:
        protocol.send_message(xmltodict.unparse({"env:Envelope": dict(header, **{"env:Body": {}})}))
    assert caught.value.fault_subcode == "w:DestinationUnreachable"


# -- HTTP, authentication, TLS ---------------------------------------------


def test_wrong_password_is_401(server, endpoint, pki):
    name, port = endpoint
    with pytest.raises(InvalidCredentialsError):
        make_protocol(port, pki, password="wrong").open_shell()
    assert server.stats(name)["auth_failures"] == 1


def test_missing_credentials_get_basic_challenge(endpoint, pki):
    _, port = endpoint
    response = requests.post(
        f"https://127.0.0.1:{port}/wsman", data=b"<x/>", verify=pki.ca_cert_path,
        headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="WSMAN"'


@pytest.mark.parametrize(
    ("method", "path", "content_type", "status"),
    [
        ("POST", "/other", "application/soap+xml;charset=UTF-8", 404),
        ("GET", "/wsman", "application/soap+xml;charset=UTF-8", 405),
        ("POST", "/wsman", "text/plain", 415),
        ("POST", "/WSMAN", "application/soap+xml;charset=UTF-8", 400),
    ],
)
def test_http_errors(endpoint, pki, method, path, content_type, status):
    _, port = endpoint
    response = requests.request(
        method, f"https://127.0.0.1:{port}{path}", data=b"not xml", auth=(USER, PASSWORD),
        verify=pki.ca_cert_path, headers={"Content-Type": content_type},
    )
    assert response.status_code == status


def test_chunked_request_is_refused_with_411(server, pki):
    name = "chunked"
    _, port = server.add_endpoint(name, tls=False)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"POST /wsman HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            reply = b""
            while chunk := client.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 411 ")
    finally:
        server.remove_endpoint(name)


def test_tls_validates_against_lab_ca_by_ip_and_names(endpoint, pki):
    _, port = endpoint
    for host in ("127.0.0.1", "localhost"):
        assert run(make_protocol(port, pki, host=host), "echo", [host])[0] == host.encode()


def test_tls_fails_against_a_different_ca(endpoint, pki, tmp_path):
    _, port = endpoint
    other = tls.ensure_ca(tmp_path, prefix="other")
    with pytest.raises(requests.exceptions.SSLError):
        make_protocol(port, pki, ca=other.cert_path).open_shell()


def test_http_only_endpoint(server, pki):
    name = "plain"
    _, port = server.add_endpoint(name, tls=False)
    try:
        assert run(make_protocol(port, pki, scheme="http"), "echo", ["plain"])[0] == b"plain"
        # HTTPS to a plain listener: the handshake is cut off (reset or EOF).
        with pytest.raises(requests.exceptions.ConnectionError):
            make_protocol(port, pki).open_shell()
    finally:
        server.remove_endpoint(name)


def test_tls_endpoint_needs_certificate(backend):
    plain_only = WSManServer(backend, certfile=None, keyfile=None)
    with pytest.raises(ValueError, match="certfile"):
        plain_only.add_endpoint("x")


def test_set_down_refuses_then_returns_on_same_port(server, endpoint, pki):
    name, port = endpoint
    protocol = make_protocol(port, pki)
    shell_id = protocol.open_shell()
    server.set_down(name, True)
    with pytest.raises(requests.exceptions.ConnectionError):
        make_protocol(port, pki).open_shell()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    server.set_down(name, False)
    assert server.endpoint(name).port == port
    # Shells survive a service outage; only reset_shells (a reboot) loses them.
    command_id = protocol.run_command(shell_id, "echo", ["back"])
    assert protocol.get_command_output(shell_id, command_id) == (b"back", b"", 0)
    protocol.close_shell(shell_id)


def test_a_down_endpoint_keeps_its_port_so_nothing_else_can_take_it(server, endpoint, pki):
    # A client's ephemeral port once landed on a down endpoint's port, and
    # the endpoint could not come back (EADDRINUSE): the port is held now.
    name, port = endpoint
    server.set_down(name, True)
    intruder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(OSError) as taken:
            intruder.bind(("127.0.0.1", port))
        assert taken.value.errno == errno.EADDRINUSE
    finally:
        intruder.close()
    server.set_down(name, False)
    assert server.endpoint(name).port == port
    assert make_protocol(port, pki).open_shell()


def test_set_down_closes_open_connections(server, endpoint, pki):
    name, port = endpoint
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        _wait_until(lambda: server.stats(name)["open_connections"] == 1)
        server.set_down(name, True)
        assert client.recv(1) == b""
    server.set_down(name, False)


def test_idle_keep_alive_connections_time_out(pki, backend):
    with WSManServer(backend, certfile=None, keyfile=None, idle_timeout_s=0.2) as lab_server:
        _, port = lab_server.add_endpoint("idle", tls=False)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            assert client.recv(1) == b""
        _wait_until(lambda: lab_server.stats("idle")["open_connections"] == 0)


def test_stop_returns_while_a_receive_waits(pki, backend):
    lab_server = WSManServer(backend, certfile=pki.server_cert_path, keyfile=pki.server_key_path)
    lab_server.start()
    _, port = lab_server.add_endpoint("stopping")
    protocol = make_protocol(port, pki, operation_timeout_sec=20, read_timeout_sec=30)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "sleep", ["60"])
    errors = []

    def receive():
        try:
            protocol.get_command_output_raw(shell_id, command_id)
        except requests.exceptions.ConnectionError as exc:
            errors.append(exc)

    waiter = threading.Thread(target=receive)
    waiter.start()
    _wait_until(lambda: lab_server.stats("stopping")["requests"] >= 3)
    stopper = threading.Thread(target=lab_server.stop)
    stopper.start()
    stopper.join(15)
    waiter.join(15)
    assert not stopper.is_alive() and not waiter.is_alive()
    assert len(errors) == 1


def test_two_hundred_endpoints_answer_fifty_concurrent_clients(pki, backend):
    with WSManServer(backend, certfile=pki.server_cert_path, keyfile=pki.server_key_path) as lab_server:
        ports = {f"host{i:03d}": lab_server.add_endpoint(f"host{i:03d}")[1] for i in range(200)}
        assert len(set(ports.values())) == 200

        def ask(item):
            name, port = item
            return name, run(make_protocol(port, pki), "whoami")

        with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
            answers = dict(pool.map(ask, ports.items()))
        assert answers == {name: (name.encode(), b"", 0) for name in ports}
        assert all(lab_server.stats(name)["commands_started"] == 1 for name in ports)


# -- Ansible's winrm connection plugin --------------------------------------


def _ansible_connection(port, pki):
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    connection = connection_loader.get("winrm", PlayContext())
    connection.set_options(var_options={
        "ansible_host": "127.0.0.1",
        "ansible_port": port,
        "ansible_user": USER,
        "ansible_password": PASSWORD,
        "ansible_winrm_scheme": "https",
        "ansible_winrm_transport": ["basic"],
        # The task executor passes ansible_winrm_* pass-through options this way.
        "_extras": {"ansible_winrm_ca_trust_path": pki.ca_cert_path},
    })
    return connection


def test_ansible_exec_command_with_pipelined_stdin(server, endpoint, pki, backend):
    name, port = endpoint
    connection = _ansible_connection(port, pki)
    connection._connect()
    payload = b"module-args " * 50_000  # 600 kB: several Send envelopes of Ansible's 200 kB chunks
    rc, stdout, stderr = connection.exec_command("Write-Output 'x'", in_data=payload)
    assert (rc, stderr) == (0, b"")
    assert stdout == b"script:Write-Output 'x'|" + payload.upper()
    connection.close()
    assert server.describe_shells(name) == []


def test_ansible_encoded_command_reaches_backend_unchanged(endpoint, pki, backend):
    name, port = endpoint
    command_line = ENCODED_PREFIX + base64.b64encode("Get-Date".encode("utf-16-le")).decode()
    connection = _ansible_connection(port, pki)
    connection._connect()
    assert connection.exec_command(command_line)[:2] == (0, b"script:Get-Date|")
    connection.close()
    # ansible-core 2.19 splits this line into Command + Arguments, 2.21 sends
    # it whole; either way Windows (and the backend) sees the same text.
    assert [line for ep, line, _ in backend.calls if ep == name] == [command_line]


def test_ansible_recreates_shell_on_quota_fault(server, endpoint, pki):
    name, port = endpoint
    server.set_command_quota(name, 2)
    connection = _ansible_connection(port, pki)
    connection._connect()
    for i in range(3):
        assert connection.exec_command(f"echo {i}")[0] == 0
    connection.close()
    stats = server.stats(name)
    assert (stats["shells_created"], stats["quota_faults"], stats["commands_started"]) == (2, 1, 3)


# -- helpers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT20S", 20), ("PT60.000S", 60), ("PT0.5S", 0.5), ("P1DT1H2M3S", 90123), ("PT7200.000S", 7200)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "20", "PT-1S"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_powershell_encoded_script():
    encoded = base64.b64encode("Get-Item 'C:\\'".encode("utf-16-le")).decode()
    assert powershell_encoded_script(ENCODED_PREFIX + encoded) == "Get-Item 'C:\\'"
    assert powershell_encoded_script(f"powershell.exe -enc {encoded}") == "Get-Item 'C:\\'"
    assert powershell_encoded_script("cmd.exe /c dir") is None
    assert powershell_encoded_script("powershell -EncodedCommand !!!") is None


def test_tls_files_are_reused_and_reissued_for_new_names(tmp_path):
    first = tls.ensure_lab_pki(tmp_path)
    before = {path: open(path, "rb").read() for path in first}
    again = tls.ensure_lab_pki(tmp_path)
    assert again == first and {path: open(path, "rb").read() for path in again} == before

    widened = tls.ensure_lab_pki(tmp_path, extra_dns_names=["ex02.lab.test"])
    assert open(widened.ca_cert_path, "rb").read() == before[first.ca_cert_path]
    assert open(widened.server_cert_path, "rb").read() != before[first.server_cert_path]

    other = tls.ensure_lab_pki(tmp_path, prefix="other")
    assert open(other.ca_cert_path, "rb").read() != before[first.ca_cert_path]


def test_tls_broken_files_are_replaced(tmp_path):
    first = tls.ensure_lab_pki(tmp_path)
    with open(first.server_key_path, "wb") as handle:
        handle.write(b"garbage")
    replaced = tls.ensure_lab_pki(tmp_path)
    assert open(replaced.server_key_path, "rb").read().startswith(b"-----BEGIN PRIVATE KEY-----")


def _wait_until(condition, timeout=15.0):
    # Waits for server-side state, not for time: the bound only stops a hang.
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)
