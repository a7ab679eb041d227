"""A WS-Management (WinRM) listener for the lab, spoken to by unmodified pywinrm.

One ``WSManServer`` holds any number of endpoints (one listening TCP port per
simulated Windows host). It implements the WinRS ``cmd`` shell the way the
Windows service behaves towards pywinrm and Ansible's ``winrm`` connection:
Create / Command / Send / Receive / Signal / Delete, Basic authentication,
HTTPS, operation timeouts on Receive, the per-shell operation quota and the
faults real Windows returns. What a command *does* is the backend's business.

Threads: one acceptor thread multiplexes every listening socket; each client
connection gets a thread; backend commands run on a bounded pool of daemon
worker threads, so a Receive can time out and be retried while the command
keeps running, and a command outlives the TCP connection that started it.

Deliberate simplifications (each one a choice, not an accident):

* Only Basic authentication (no NTLM / Kerberos / CredSSP, so no message
  encryption); use HTTPS endpoints for anything resembling production.
* A backend returns its whole output at the end, so Receive never streams
  partial output of a running command.
* Stdin arriving after a command started (console-mode stdin, the default)
  is acknowledged and discarded, as for a process that never reads stdin.
* A Receive or Signal naming an unknown CommandId gets ``w:InvalidParameter``
  ("The parameter is incorrect.", WSManFault code 87); the exact fault Windows
  sends for that case was not available to copy.
"""

from __future__ import annotations

import base64
import binascii
import collections
import email.utils
import http.client
import re
import selectors
import socket
import ssl
import sys
import threading
import traceback
import uuid
import xml.etree.ElementTree as ET
from typing import Callable, NamedTuple, Protocol
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "Backend",
    "CommandResult",
    "DropConnection",
    "ListeningEndpoint",
    "WSManServer",
    "parse_duration",
    "powershell_encoded_script",
]

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_MS_WSMAN = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_WSMANFAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
NS_WMIERROR = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"

RESOURCE_CMD_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
ACTION_CREATE = NS_TRANSFER + "/Create"
ACTION_DELETE = NS_TRANSFER + "/Delete"
ACTION_COMMAND = NS_SHELL + "/Command"
ACTION_SEND = NS_SHELL + "/Send"
ACTION_RECEIVE = NS_SHELL + "/Receive"
ACTION_SIGNAL = NS_SHELL + "/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
STATE_RUNNING = NS_SHELL + "/CommandState/Running"
STATE_DONE = NS_SHELL + "/CommandState/Done"
SIGNALS_THAT_END_A_COMMAND = ("/signal/terminate", "/signal/ctrl_c", "/signal/ctrl_break")

# HRESULTs the clients look for. pywinrm turns 0x80338029 into
# WinRMOperationTimeoutError; Ansible re-creates its shell on 0x803381A6.
WSMAN_OPERATION_TIMEOUT = 0x80338029
WSMAN_SHELL_NOT_FOUND = 0x8033805B
WSMAN_QUOTA_MAX_OPERATIONS = 0x803381A6
ERROR_INVALID_PARAMETER = 87

# Windows' default MaxTimeoutms is 60000: no Receive waits longer, whatever
# OperationTimeout the client asks for.
DEFAULT_MAX_OPERATION_TIMEOUT_S = 60.0
# Windows' default MaxConcurrentOperationsPerUser is 1500 and WinRS never
# gives an operation back within a shell, hence the per-shell quota.
DEFAULT_COMMANDS_PER_SHELL = 1500
# Most stdout+stderr bytes per ReceiveResponse, before base64.
MAX_OUTPUT_PER_RECEIVE = 128 * 1024
# Room kept for the envelope around the base64 payload when the client's
# MaxEnvelopeSize limits a ReceiveResponse.
_ENVELOPE_OVERHEAD = 4096
MAX_REQUEST_BODY = 32 * 1024 * 1024
_MAX_HEADER_LINE = 65536
_RECENT_COMMAND_LINES = 50

_DURATION = re.compile(
    r"^P(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_ENCODED_COMMAND = re.compile(r"(?:^|\s)-(?:EncodedCommand|enc|e|ec)\s+([A-Za-z0-9+/=]+)", re.IGNORECASE)


class CommandResult(NamedTuple):
    stdout: bytes
    stderr: bytes
    rc: int


class Backend(Protocol):
    def authenticate(self, endpoint: str, username: str, password: str) -> bool: ...

    def run_command(self, endpoint: str, command_line: str, stdin: bytes) -> CommandResult: ...


class DropConnection(Exception):
    """Raised by a backend: the client's connection is closed without a response."""


def parse_duration(text: str) -> float:
    """Seconds in an xs:duration such as ``PT20S``, ``PT60.000S`` or ``P0DT1H``."""
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        raise ValueError(f"not an xs:duration: {text!r}")
    parts = {key: float(value) if value else 0.0 for key, value in match.groupdict().items()}
    return parts["days"] * 86400 + parts["hours"] * 3600 + parts["minutes"] * 60 + parts["seconds"]


def powershell_encoded_script(command_line: str) -> str | None:
    """The script text behind ``-EncodedCommand`` in a command line, or None.

    Ansible runs everything as ``powershell ... -EncodedCommand <base64 of
    UTF-16-LE script>``; backends decode it here instead of each parsing it.
    """
    match = _ENCODED_COMMAND.search(command_line)
    if not match:
        return None
    try:
        return base64.b64decode(match.group(1), validate=True).decode("utf-16-le")
    except (binascii.Error, UnicodeDecodeError):
        return None


class _SoapFault(Exception):
    """A WS-Management fault to send back with HTTP 500, as Windows does."""

    def __init__(self, code: str, subcode: str, reason: str, detail_xml: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.detail_xml = detail_xml


class _Drop(Exception):
    """Close the client's connection without answering."""


def _wsman_fault_detail(code: int, machine: str, message: str) -> str:
    return (
        f'<f:WSManFault xmlns:f="{NS_WSMANFAULT}" Code="{code}" Machine={quoteattr(machine)}>'
        f"<f:Message>{escape(message)}</f:Message></f:WSManFault>"
    )


def _shell_not_found(shell_id: str, machine: str) -> _SoapFault:
    message = (
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
        "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
        "exists on the server. Provide the correct ShellId or create a new shell and retry the operation. "
    )
    return _SoapFault(
        "s:Sender",
        "w:InvalidSelectors",
        "The WS-Management service cannot process the request because the request contained invalid "
        "selectors for the resource. ",
        _wsman_fault_detail(WSMAN_SHELL_NOT_FOUND, machine, message),
    )


def _operation_timeout(machine: str) -> _SoapFault:
    reason = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
    return _SoapFault("s:Receiver", "w:TimedOut", reason, _wsman_fault_detail(WSMAN_OPERATION_TIMEOUT, machine, reason))


def _invalid_parameter(machine: str, message: str) -> _SoapFault:
    return _SoapFault(
        "s:Sender", "w:InvalidParameter", "The parameter is incorrect. ",
        _wsman_fault_detail(ERROR_INVALID_PARAMETER, machine, message),
    )


def _quota_exceeded(limit: int) -> _SoapFault:
    # Windows reports this one as an MSFT_WmiError, which is where pywinrm
    # reads wmierror_code and where Ansible looks for 0x803381A6.
    message = (
        "The WS-Management service cannot process the request. This user is allowed a maximum number of "
        f"{limit} concurrent operations, which has been exceeded. Close existing operations for this user, "
        "or raise the quota for this user. "
    )
    detail = (
        f'<p:MSFT_WmiError xmlns:p="{NS_WMIERROR}" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="p:MSFT_WmiError_Type">'
        '<p:CIMStatusCode xsi:type="cim:cimUnsignedInt">27</p:CIMStatusCode>'
        f'<p:Message xsi:type="cim:cimString">{escape(message)}</p:Message>'
        f'<p:MessageID xsi:type="cim:cimString">HRESULT 0x{WSMAN_QUOTA_MAX_OPERATIONS:08x}</p:MessageID>'
        '<p:error_Category xsi:type="cim:cimUnsignedInt">30</p:error_Category>'
        f'<p:error_Code xsi:type="cim:cimUnsignedInt">{WSMAN_QUOTA_MAX_OPERATIONS}</p:error_Code>'
        '<p:error_Type xsi:type="cim:cimString">HRESULT</p:error_Type>'
        f'<p:error_WindowsErrorMessage xsi:type="cim:cimString">{escape(message)}</p:error_WindowsErrorMessage>'
        "</p:MSFT_WmiError>"
    )
    return _SoapFault("s:Receiver", "w:InternalError", message, detail)


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        f'<s:Envelope xml:lang="en-US" xmlns:s="{NS_SOAP}" xmlns:a="{NS_ADDRESSING}" xmlns:x="{NS_TRANSFER}" '
        f'xmlns:w="{NS_WSMAN}" xmlns:rsp="{NS_SHELL}" xmlns:p="{NS_MS_WSMAN}">'
        f"<s:Header><a:Action>{action}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To><a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode("utf-8")


def _fault_envelope(fault: _SoapFault, relates_to: str) -> bytes:
    detail = f"<s:Detail>{fault.detail_xml}</s:Detail>" if fault.detail_xml else ""
    body = (
        f"<s:Fault><s:Code><s:Value>{fault.code}</s:Value>"
        f"<s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>{detail}</s:Fault>'
    )
    return _envelope(ACTION_FAULT, relates_to, body)


class _SoapRequest(NamedTuple):
    action: str
    resource_uri: str
    message_id: str
    shell_id: str | None
    options: dict
    operation_timeout_s: float | None
    max_envelope_size: int | None
    body: ET.Element


def _header_text(header: ET.Element, tag: str) -> str:
    node = header.find(tag)
    return (node.text or "").strip() if node is not None else ""


def _parse_soap(data: bytes) -> _SoapRequest:
    root = ET.fromstring(data)
    header = root.find(f"{{{NS_SOAP}}}Header")
    body = root.find(f"{{{NS_SOAP}}}Body")
    if root.tag != f"{{{NS_SOAP}}}Envelope" or header is None or body is None:
        raise ValueError("not a SOAP 1.2 envelope")
    shell_id = None
    for selector in header.iterfind(f"{{{NS_WSMAN}}}SelectorSet/{{{NS_WSMAN}}}Selector"):
        if selector.get("Name") == "ShellId":
            shell_id = (selector.text or "").strip()
    options = {
        option.get("Name", ""): (option.text or "").strip()
        for option in header.iterfind(f"{{{NS_WSMAN}}}OptionSet/{{{NS_WSMAN}}}Option")
    }
    timeout_text = _header_text(header, f"{{{NS_WSMAN}}}OperationTimeout")
    envelope_text = _header_text(header, f"{{{NS_WSMAN}}}MaxEnvelopeSize")
    return _SoapRequest(
        action=_header_text(header, f"{{{NS_ADDRESSING}}}Action"),
        resource_uri=_header_text(header, f"{{{NS_WSMAN}}}ResourceURI"),
        message_id=_header_text(header, f"{{{NS_ADDRESSING}}}MessageID"),
        shell_id=shell_id,
        options=options,
        operation_timeout_s=parse_duration(timeout_text) if timeout_text else None,
        max_envelope_size=int(envelope_text) if envelope_text.isdigit() else None,
        body=body,
    )


class _Command:
    """One WinRS command. All fields are guarded by its endpoint's lock."""

    def __init__(self, command_id: str, command_line: str, waits_for_stdin: bool) -> None:
        self.command_id = command_id
        self.command_line = command_line
        self.stdin_chunks: list[bytes] = []
        self.stdin_closed = not waits_for_stdin
        # pending (waiting for stdin) -> running -> done | lost
        self.state = "pending"
        self.result: CommandResult | None = None
        self.stdout_sent = 0
        self.stderr_sent = 0
        self.drop_delivered = False
        self.done_reported = False


class _Shell:
    def __init__(self, shell_id: str, owner: str, client_ip: str, spec: dict) -> None:
        self.shell_id = shell_id
        self.owner = owner
        self.client_ip = client_ip
        self.spec = spec
        self.commands: dict[str, _Command] = {}
        self.commands_started = 0


class _Connection:
    def __init__(self, sock: socket.socket, peer: tuple) -> None:
        self.sock = sock
        self.peer = peer
        self.closing = False

    def abort(self) -> None:
        """Wake the connection's thread by shutting the socket down under it."""
        self.closing = True
        try:
            # socket.socket.shutdown skips SSLSocket's wrapper, which would
            # tear down the TLS object while another thread is inside it.
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass


class ListeningEndpoint:
    """One simulated host: a listening port, its shells, faults and counters."""

    def __init__(self, name: str, host: str, port: int, tls: bool, commands_per_shell: int) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.down = False
        self.listener: socket.socket | None = None
        # While down: a socket bound to the port but not listening, so
        # connections are refused as on a host whose listener is off, and no
        # other socket (a client's ephemeral port) can take the port meanwhile.
        self.holder: socket.socket | None = None
        self.connections: set[_Connection] = set()
        self.shells: dict[str, _Shell] = {}
        self.commands_per_shell = commands_per_shell
        self.latency_s = 0.0
        self.http500_next = 0
        self.drop_next_commands = 0
        self.counters: collections.Counter = collections.Counter()
        self.recent_command_lines: collections.deque = collections.deque(maxlen=_RECENT_COMMAND_LINES)
        self.lock = threading.Lock()
        # Signalled whenever a command finishes or shells vanish, so waiting
        # Receives wake up at once instead of polling.
        self.changed = threading.Condition(self.lock)

    def _bound_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # SO_REUSEADDR lets the port be bound again while old connections
        # linger in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        return sock

    def open_listener(self) -> None:
        # Back up: the socket that held the port starts listening on it.
        listener, self.holder = self.holder or self._bound_socket(), None
        try:
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self.listener = listener

    def hold_port(self) -> None:
        """Keep the port bound while down (best effort: if it was taken in
        the instant after the listener closed, open_listener binds anew)."""
        try:
            self.holder = self._bound_socket()
        except OSError:
            self.holder = None

    def release_port(self) -> None:
        if self.holder is not None:
            self.holder.close()
            self.holder = None

    def close_connections(self) -> None:
        with self.lock:
            connections = list(self.connections)
            self.changed.notify_all()
        for connection in connections:
            connection.abort()

    def find_shell(self, shell_id: str | None) -> _Shell:
        shell = self.shells.get(shell_id or "")
        if shell is None:
            raise _shell_not_found(shell_id or "", self.name)
        return shell

    def find_command(self, shell: _Shell, command_id: str | None) -> _Command:
        command = shell.commands.get(command_id or "")
        if command is None:
            raise _invalid_parameter(
                self.name, f"The Windows Remote Shell has no command with CommandId {command_id} in shell {shell.shell_id}."
            )
        return command


class _WorkerPool:
    """Bounded pool of daemon threads; idle ones exit after a while.

    Daemon threads because a backend may sleep for minutes of simulated work:
    stop() and interpreter exit must not wait for it.
    """

    def __init__(self, max_workers: int, idle_exit_s: float = 30.0) -> None:
        self._max_workers = max_workers
        self._idle_exit_s = idle_exit_s
        self._tasks: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._available = threading.Condition(self._lock)
        self._threads = 0
        self._idle = 0
        self._stopping = False

    def submit(self, task: Callable[[], None]) -> None:
        with self._lock:
            if self._stopping:
                return
            self._tasks.append(task)
            if len(self._tasks) > self._idle and self._threads < self._max_workers:
                self._threads += 1
                threading.Thread(target=self._work, name="wsman-worker", daemon=True).start()
            self._available.notify()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
                while not self._tasks and not self._stopping:
                    if not self._available.wait(self._idle_exit_s) and not self._tasks:
                        break
                self._idle -= 1
                if self._stopping or not self._tasks:
                    self._threads -= 1
                    return
                task = self._tasks.popleft()
            task()

    def shutdown(self) -> None:
        with self._lock:
            self._stopping = True
            self._tasks.clear()
            self._available.notify_all()


_STATUS_TEXT = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
    411: "Length Required", 413: "Payload Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error",
}


class _Response(NamedTuple):
    status: int
    body: bytes = b""
    content_type: str = "application/soap+xml;charset=UTF-8"
    extra_headers: tuple = ()
    close: bool = False


class WSManServer:
    """WinRM listeners for many simulated hosts in one process."""

    def __init__(
        self,
        backend: Backend,
        *,
        certfile: str | None,
        keyfile: str | None,
        max_workers: int = 256,
        idle_timeout_s: float = 30.0,
        max_operation_timeout_s: float = DEFAULT_MAX_OPERATION_TIMEOUT_S,
        commands_per_shell: int = DEFAULT_COMMANDS_PER_SHELL,
    ) -> None:
        self.backend = backend
        self.idle_timeout_s = idle_timeout_s
        self.max_operation_timeout_s = max_operation_timeout_s
        self.commands_per_shell = commands_per_shell
        self._ssl_context: ssl.SSLContext | None = None
        if certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(certfile, keyfile)
            self._ssl_context = context
        self._endpoints: dict[str, ListeningEndpoint] = {}
        # Guards _endpoints, listener sockets and the selector together, so the
        # acceptor never accepts on a socket that set_down is closing.
        self._lock = threading.RLock()
        self._selector: selectors.BaseSelector | None = None
        self._wake_reader: socket.socket | None = None
        self._wake_writer: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._workers = _WorkerPool(max_workers)

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._acceptor is not None:
                raise RuntimeError("server already started")
            self._selector = selectors.DefaultSelector()
            self._wake_reader, self._wake_writer = socket.socketpair()
            self._wake_reader.setblocking(False)
            self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
            for endpoint in self._endpoints.values():
                if endpoint.listener is not None:
                    self._selector.register(endpoint.listener, selectors.EVENT_READ, endpoint)
            self._acceptor = threading.Thread(target=self._accept_loop, name="wsman-acceptor", daemon=True)
            self._acceptor.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            endpoints = list(self._endpoints.values())
            for endpoint in endpoints:
                self._close_listener(endpoint)
            if self._wake_writer is not None:
                self._wake_writer.send(b"x")
        for endpoint in endpoints:
            endpoint.close_connections()
        self._workers.shutdown()
        if self._acceptor is not None:
            self._acceptor.join(5)
        with self._lock:
            for sock in (self._wake_reader, self._wake_writer):
                if sock is not None:
                    sock.close()
            if self._selector is not None:
                self._selector.close()

    def __enter__(self) -> WSManServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- endpoints -----------------------------------------------------------

    def add_endpoint(self, name: str, host: str = "127.0.0.1", port: int = 0, *, tls: bool = True) -> tuple[str, int]:
        if tls and self._ssl_context is None:
            raise ValueError("a TLS endpoint needs the server's certfile and keyfile")
        with self._lock:
            if name in self._endpoints:
                raise ValueError(f"endpoint {name!r} already exists")
            endpoint = ListeningEndpoint(name, host, port, tls, self.commands_per_shell)
            endpoint.open_listener()
            self._endpoints[name] = endpoint
            if self._selector is not None:
                self._selector.register(endpoint.listener, selectors.EVENT_READ, endpoint)
            return endpoint.host, endpoint.port

    def remove_endpoint(self, name: str) -> None:
        with self._lock:
            endpoint = self._endpoints.pop(name)
            self._close_listener(endpoint)
        endpoint.close_connections()

    def endpoint(self, name: str) -> ListeningEndpoint:
        with self._lock:
            return self._endpoints[name]

    def set_down(self, name: str, down: bool) -> None:
        endpoint = self.endpoint(name)
        with self._lock:
            if down == endpoint.down:
                return
            endpoint.down = down
            if down:
                self._close_listener(endpoint)
                endpoint.hold_port()
            else:
                endpoint.open_listener()
                if self._selector is not None:
                    self._selector.register(endpoint.listener, selectors.EVENT_READ, endpoint)
        if down:
            endpoint.close_connections()

    def reset_shells(self, name: str) -> None:
        endpoint = self.endpoint(name)
        with endpoint.lock:
            endpoint.shells = {}
            endpoint.changed.notify_all()

    def set_faults(self, name: str, *, latency_s: float = 0.0, http500_next: int = 0, drop_next_commands: int = 0) -> None:
        endpoint = self.endpoint(name)
        with endpoint.lock:
            endpoint.latency_s = latency_s
            endpoint.http500_next = http500_next
            endpoint.drop_next_commands = drop_next_commands

    def set_command_quota(self, name: str, commands_per_shell: int) -> None:
        """Commands one shell may start before the quota fault (Windows default 1500)."""
        endpoint = self.endpoint(name)
        with endpoint.lock:
            endpoint.commands_per_shell = commands_per_shell

    def stats(self, name: str) -> dict:
        endpoint = self.endpoint(name)
        with endpoint.lock:
            result = {key: 0 for key in (
                "requests", "connections_accepted", "shells_created", "commands_started", "auth_failures",
                "receive_responses", "receive_timeouts", "http500_sent", "connections_dropped", "quota_faults",
                "backend_errors",
            )}
            result.update(endpoint.counters)
            result["recent_command_lines"] = list(endpoint.recent_command_lines)
            result["open_shells"] = len(endpoint.shells)
            result["open_connections"] = len(endpoint.connections)
            return result

    def describe_shells(self, name: str) -> list[dict]:
        """What each open shell was created with, for tests and debugging."""
        endpoint = self.endpoint(name)
        with endpoint.lock:
            return [
                dict(shell.spec, shell_id=shell.shell_id, owner=shell.owner, client_ip=shell.client_ip,
                     commands=sorted(shell.commands), commands_started=shell.commands_started)
                for shell in endpoint.shells.values()
            ]

    def _close_listener(self, endpoint: ListeningEndpoint) -> None:
        # Caller holds self._lock.
        endpoint.release_port()
        if endpoint.listener is None:
            return
        if self._selector is not None:
            try:
                self._selector.unregister(endpoint.listener)
            except (KeyError, ValueError):
                pass
        endpoint.listener.close()
        endpoint.listener = None

    # -- accepting -----------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                events = self._selector.select(timeout=1.0)
            except (OSError, ValueError):
                if self._stopping.is_set():
                    return
                continue
            for key, _ in events:
                if key.data is None:
                    try:
                        self._wake_reader.recv(4096)
                    except OSError:
                        pass
                    continue
                endpoint: ListeningEndpoint = key.data
                with self._lock:
                    if self._stopping.is_set() or endpoint.listener is not key.fileobj:
                        continue
                    try:
                        sock, peer = endpoint.listener.accept()
                    except OSError:
                        continue
                connection = _Connection(sock, peer)
                with endpoint.lock:
                    endpoint.connections.add(connection)
                    endpoint.counters["connections_accepted"] += 1
                threading.Thread(
                    target=self._serve_connection, args=(endpoint, connection),
                    name=f"wsman-{endpoint.name}", daemon=True,
                ).start()

    # -- HTTP ----------------------------------------------------------------

    def _serve_connection(self, endpoint: ListeningEndpoint, connection: _Connection) -> None:
        sock = connection.sock
        try:
            sock.setblocking(True)
            # The idle timeout also bounds a TLS handshake and a slow request.
            sock.settimeout(self.idle_timeout_s)
            if endpoint.tls:
                sock = self._ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                # abort() sets `closing` before reading `sock`, and this thread
                # publishes `sock` before checking `closing`: one of the two
                # always sees the other, so a handshake cannot outlive set_down.
                connection.sock = sock
                if connection.closing:
                    return
                sock.do_handshake()
            elif sock.recv(1, socket.MSG_PEEK) == b"\x16":
                # A TLS ClientHello on a plain listener carries no newline, so
                # the request-line read would hang until the idle timeout;
                # close at once, as HTTP.sys does.
                return
            reader = sock.makefile("rb")
            while not connection.closing and not self._stopping.is_set():
                request = self._read_request(reader)
                if request is None:
                    return
                try:
                    response = self._handle_http(endpoint, connection, *request)
                except _Drop:
                    with endpoint.lock:
                        endpoint.counters["connections_dropped"] += 1
                    return
                sock.sendall(self._render(response))
                if response.close:
                    return
        except (OSError, ValueError, http.client.HTTPException):
            # Client went away, timed out, failed the TLS handshake, or sent
            # garbage: all end this connection and nothing else.
            return
        finally:
            with endpoint.lock:
                endpoint.connections.discard(connection)
            try:
                connection.sock.close()
            except OSError:
                pass

    def _read_request(self, reader) -> tuple | None:
        line = reader.readline(_MAX_HEADER_LINE + 1)
        if not line:
            return None
        if len(line) > _MAX_HEADER_LINE:
            raise ValueError("request line too long")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3:
            raise ValueError(f"malformed request line {line!r}")
        method, target, version = parts
        headers = http.client.parse_headers(reader)
        length_text = headers.get("Content-Length")
        body = b""
        if length_text is not None:
            length = int(length_text)
            if length > MAX_REQUEST_BODY:
                return method, target, version, headers, None, 413
            body = reader.read(length)
            if len(body) < length:
                return None
        elif headers.get("Transfer-Encoding"):
            # Clients of this server always send Content-Length; anything else
            # cannot be framed, so ask for it and close.
            return method, target, version, headers, None, 411
        return method, target, version, headers, body, None

    def _render(self, response: _Response) -> bytes:
        lines = [
            f"HTTP/1.1 {response.status} {_STATUS_TEXT.get(response.status, 'Error')}",
            "Server: Microsoft-HTTPAPI/2.0",
            f"Date: {email.utils.formatdate(usegmt=True)}",
            f"Content-Length: {len(response.body)}",
        ]
        if response.body:
            lines.append(f"Content-Type: {response.content_type}")
        lines.extend(f"{key}: {value}" for key, value in response.extra_headers)
        if response.close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body

    def _handle_http(self, endpoint, connection, method, target, version, headers, body, early_status) -> _Response:
        with endpoint.lock:
            endpoint.counters["requests"] += 1
            latency = endpoint.latency_s
            fail_with_500 = endpoint.http500_next > 0
            if fail_with_500:
                endpoint.http500_next -= 1
                endpoint.counters["http500_sent"] += 1
        wants_close = version != "HTTP/1.1" or headers.get("Connection", "").lower() == "close"
        if latency:
            self._stopping.wait(latency)
        if early_status is not None:
            return _Response(early_status, close=True)
        if fail_with_500:
            return _Response(500, b"Simulated internal server error (lab fault injection)\n", "text/plain", close=wants_close)
        if target.split("?", 1)[0].lower() != "/wsman":
            return _Response(404, close=wants_close)
        if method != "POST":
            return _Response(405, extra_headers=(("Allow", "POST"),), close=wants_close)
        username = self._authenticate(endpoint, headers.get("Authorization", ""))
        if username is None:
            with endpoint.lock:
                endpoint.counters["auth_failures"] += 1
            return _Response(401, extra_headers=(("WWW-Authenticate", 'Basic realm="WSMAN"'),), close=wants_close)
        if not headers.get("Content-Type", "").lower().startswith("application/soap+xml"):
            return _Response(415, close=wants_close)
        try:
            request = _parse_soap(body)
        except (ET.ParseError, ValueError) as exc:
            return _Response(400, f"Malformed WS-Management request: {exc}\n".encode(), "text/plain", close=wants_close)
        try:
            return _Response(200, self._handle_soap(endpoint, connection, request, username), close=wants_close)
        except _SoapFault as fault:
            return _Response(500, _fault_envelope(fault, request.message_id), close=wants_close)
        except _Drop:
            raise
        except Exception:
            # A lab bug: say so loudly rather than hand the client a fault that
            # looks like Windows behaviour.
            text = traceback.format_exc()
            sys.stderr.write(f"wsman: internal error on {endpoint.name}\n{text}")
            return _Response(500, f"lab WS-Management internal error\n{text}".encode(), "text/plain", close=True)

    def _authenticate(self, endpoint: ListeningEndpoint, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            raw = base64.b64decode(token.strip(), validate=True)
        except binascii.Error:
            return None
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            # requests encodes Basic credentials as latin-1 unless given bytes.
            decoded = raw.decode("latin-1")
        username, sep, password = decoded.partition(":")
        if not sep:
            return None
        return username if self.backend.authenticate(endpoint.name, username, password) else None

    # -- WinRS ---------------------------------------------------------------

    def _handle_soap(self, endpoint, connection, request: _SoapRequest, username: str) -> bytes:
        if request.resource_uri != RESOURCE_CMD_SHELL:
            raise _SoapFault(
                "s:Sender", "w:DestinationUnreachable",
                "The WS-Management service cannot process the request because the resource URI "
                f"{request.resource_uri} is not served by this lab listener. ",
            )
        handlers = {
            ACTION_CREATE: self._create,
            ACTION_COMMAND: self._command,
            ACTION_SEND: self._send,
            ACTION_RECEIVE: self._receive,
            ACTION_SIGNAL: self._signal,
            ACTION_DELETE: self._delete,
        }
        handler = handlers.get(request.action)
        if handler is None:
            raise _SoapFault(
                "s:Sender", "a:ActionNotSupported",
                f"The action is not supported by the service. Action: {request.action} ",
            )
        return handler(endpoint, connection, request, username)

    def _create(self, endpoint, connection, request, username) -> bytes:
        shell_node = request.body.find(f"{{{NS_SHELL}}}Shell")
        if shell_node is None:
            raise _invalid_parameter(endpoint.name, "The Create request has no rsp:Shell body.")

        def text(tag: str, default: str = "") -> str:
            node = shell_node.find(f"{{{NS_SHELL}}}{tag}")
            return (node.text or "").strip() if node is not None else default

        spec = {
            "input_streams": text("InputStreams", "stdin"),
            "output_streams": text("OutputStreams", "stdout stderr"),
            "working_directory": text("WorkingDirectory") or None,
            "environment": {
                variable.get("Name", ""): variable.text or ""
                for variable in shell_node.iterfind(f"{{{NS_SHELL}}}Environment/{{{NS_SHELL}}}Variable")
            },
            "codepage": request.options.get("WINRS_CODEPAGE"),
            "noprofile": request.options.get("WINRS_NOPROFILE"),
        }
        shell_id = str(uuid.uuid4()).upper()
        shell = _Shell(shell_id, username, connection.peer[0], spec)
        with endpoint.lock:
            endpoint.shells[shell_id] = shell
            endpoint.counters["shells_created"] += 1
        address = f"{'https' if endpoint.tls else 'http'}://{endpoint.host}:{endpoint.port}/wsman"
        body = (
            f"<x:ResourceCreated><a:Address>{address}</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{RESOURCE_CMD_SHELL}</w:ResourceURI>"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters></x:ResourceCreated>"
            f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId><rsp:ResourceUri>{RESOURCE_CMD_SHELL}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(username)}</rsp:Owner><rsp:ClientIP>{escape(connection.peer[0])}</rsp:ClientIP>"
            "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
            f"<rsp:InputStreams>{escape(spec['input_streams'])}</rsp:InputStreams>"
            f"<rsp:OutputStreams>{escape(spec['output_streams'])}</rsp:OutputStreams>"
            "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
            "</rsp:Shell>"
        )
        return _envelope(NS_TRANSFER + "/CreateResponse", request.message_id, body)

    def _command(self, endpoint, connection, request, username) -> bytes:
        line_node = request.body.find(f"{{{NS_SHELL}}}CommandLine")
        if line_node is None:
            raise _invalid_parameter(endpoint.name, "The Command request has no rsp:CommandLine body.")
        command_node = line_node.find(f"{{{NS_SHELL}}}Command")
        parts = [(command_node.text or "") if command_node is not None else ""]
        # Windows joins Command and every Arguments element with single spaces.
        parts.extend(node.text or "" for node in line_node.iterfind(f"{{{NS_SHELL}}}Arguments"))
        command_line = " ".join(parts)
        waits_for_stdin = request.options.get("WINRS_CONSOLEMODE_STDIN", "TRUE").upper() == "FALSE"
        command = _Command(str(uuid.uuid4()).upper(), command_line, waits_for_stdin)
        with endpoint.lock:
            shell = endpoint.find_shell(request.shell_id)
            if shell.commands_started >= endpoint.commands_per_shell:
                endpoint.counters["quota_faults"] += 1
                raise _quota_exceeded(endpoint.commands_per_shell)
            shell.commands[command.command_id] = command
            shell.commands_started += 1
            endpoint.counters["commands_started"] += 1
            endpoint.recent_command_lines.append(command_line)
            if not waits_for_stdin:
                self._start_command(endpoint, command)
        body = f"<rsp:CommandResponse><rsp:CommandId>{command.command_id}</rsp:CommandId></rsp:CommandResponse>"
        return _envelope(NS_SHELL + "/CommandResponse", request.message_id, body)

    def _start_command(self, endpoint: ListeningEndpoint, command: _Command) -> None:
        # Caller holds endpoint.lock.
        command.state = "running"
        stdin = b"".join(command.stdin_chunks)
        command.stdin_chunks = []
        self._workers.submit(lambda: self._execute(endpoint, command, stdin))

    def _execute(self, endpoint: ListeningEndpoint, command: _Command, stdin: bytes) -> None:
        state = "done"
        try:
            stdout, stderr, rc = self.backend.run_command(endpoint.name, command.command_line, stdin)
            result = CommandResult(bytes(stdout), bytes(stderr), int(rc))
        except DropConnection:
            result, state = None, "lost"
        except Exception:
            # A crashing model shows up as a failed command with its traceback,
            # which is what a person debugging a playbook run needs to see.
            result = CommandResult(b"", f"lab backend error:\n{traceback.format_exc()}".encode(), 1)
            with endpoint.lock:
                endpoint.counters["backend_errors"] += 1
        with endpoint.lock:
            command.result = result
            command.state = state
            endpoint.changed.notify_all()

    def _send(self, endpoint, connection, request, username) -> bytes:
        send_node = request.body.find(f"{{{NS_SHELL}}}Send")
        if send_node is None:
            raise _invalid_parameter(endpoint.name, "The Send request has no rsp:Send body.")
        with endpoint.lock:
            shell = endpoint.find_shell(request.shell_id)
            for stream in send_node.iterfind(f"{{{NS_SHELL}}}Stream"):
                command = endpoint.find_command(shell, stream.get("CommandId"))
                if stream.get("Name", "stdin") not in shell.spec["input_streams"].split():
                    raise _invalid_parameter(endpoint.name, f"The shell has no input stream {stream.get('Name')}.")
                try:
                    data = base64.b64decode((stream.text or "").strip(), validate=True)
                except binascii.Error:
                    raise _invalid_parameter(endpoint.name, "The stdin data is not valid base64.") from None
                if command.stdin_closed:
                    continue
                command.stdin_chunks.append(data)
                if stream.get("End", "false").lower() == "true":
                    command.stdin_closed = True
                    self._start_command(endpoint, command)
        return _envelope(NS_SHELL + "/SendResponse", request.message_id, "<rsp:SendResponse/>")

    def _receive(self, endpoint, connection, request, username) -> bytes:
        desired = request.body.find(f"{{{NS_SHELL}}}Receive/{{{NS_SHELL}}}DesiredStream")
        command_id = desired.get("CommandId") if desired is not None else None
        timeout = min(request.operation_timeout_s or self.max_operation_timeout_s, self.max_operation_timeout_s)
        with endpoint.lock:
            shell = endpoint.find_shell(request.shell_id)
            command = endpoint.find_command(shell, command_id)
            # "Running" from the client's side: Done not yet delivered. Using
            # the server-side state instead would make the fault depend on
            # whether a fast command happened to finish before the Receive.
            if endpoint.drop_next_commands > 0 and not command.done_reported:
                endpoint.drop_next_commands -= 1
                raise _Drop()

            def settled() -> bool:
                return (
                    command.state in ("done", "lost")
                    or endpoint.shells.get(shell.shell_id) is not shell
                    or command_id not in shell.commands
                    or connection.closing
                    or self._stopping.is_set()
                )

            endpoint.changed.wait_for(settled, timeout)
            if connection.closing or self._stopping.is_set():
                raise _Drop()
            # The shell or command may have vanished while we waited (reset
            # by a simulated reboot, or signalled from another connection).
            shell = endpoint.find_shell(request.shell_id)
            command = endpoint.find_command(shell, command_id)
            if command.state == "lost":
                if not command.drop_delivered:
                    command.drop_delivered = True
                    raise _Drop()
                raise _invalid_parameter(
                    endpoint.name, f"The output of command {command_id} was lost with the client's connection."
                )
            if command.state != "done":
                endpoint.counters["receive_timeouts"] += 1
                raise _operation_timeout(endpoint.name)
            endpoint.counters["receive_responses"] += 1
            return self._receive_response(endpoint, request, command)

    def _receive_response(self, endpoint, request: _SoapRequest, command: _Command) -> bytes:
        # Caller holds endpoint.lock and the command is done.
        budget = MAX_OUTPUT_PER_RECEIVE
        if request.max_envelope_size:
            budget = max(1024, min(budget, (request.max_envelope_size - _ENVELOPE_OVERHEAD) * 3 // 4))
        result = command.result
        stdout = result.stdout[command.stdout_sent:command.stdout_sent + budget]
        command.stdout_sent += len(stdout)
        stderr = result.stderr[command.stderr_sent:command.stderr_sent + budget - len(stdout)]
        command.stderr_sent += len(stderr)
        finished = command.stdout_sent >= len(result.stdout) and command.stderr_sent >= len(result.stderr)
        end = ' End="true"' if finished else ""
        cid = command.command_id
        streams = "".join(
            f'<rsp:Stream Name="{name}" CommandId="{cid}"{end}>{base64.b64encode(data).decode("ascii")}</rsp:Stream>'
            for name, data in (("stdout", stdout), ("stderr", stderr))
        )
        if finished:
            command.done_reported = True
            # Windows reports exit codes as unsigned 32-bit numbers.
            state = (
                f'<rsp:CommandState CommandId="{cid}" State="{STATE_DONE}">'
                f"<rsp:ExitCode>{result.rc & 0xFFFFFFFF}</rsp:ExitCode></rsp:CommandState>"
            )
        else:
            state = f'<rsp:CommandState CommandId="{cid}" State="{STATE_RUNNING}"/>'
        body = f'<rsp:ReceiveResponse SequenceID="0">{streams}{state}</rsp:ReceiveResponse>'
        return _envelope(NS_SHELL + "/ReceiveResponse", request.message_id, body)

    def _signal(self, endpoint, connection, request, username) -> bytes:
        signal = request.body.find(f"{{{NS_SHELL}}}Signal")
        if signal is None:
            raise _invalid_parameter(endpoint.name, "The Signal request has no rsp:Signal body.")
        code_node = signal.find(f"{{{NS_SHELL}}}Code")
        code = (code_node.text or "").strip() if code_node is not None else ""
        with endpoint.lock:
            shell = endpoint.find_shell(request.shell_id)
            command = endpoint.find_command(shell, signal.get("CommandId"))
            if code.endswith(SIGNALS_THAT_END_A_COMMAND):
                # The backend call cannot be interrupted; its result is simply
                # no longer kept, as Windows forgets a terminated command.
                del shell.commands[command.command_id]
                endpoint.changed.notify_all()
        return _envelope(NS_SHELL + "/SignalResponse", request.message_id, "<rsp:SignalResponse/>")

    def _delete(self, endpoint, connection, request, username) -> bytes:
        with endpoint.lock:
            shell = endpoint.find_shell(request.shell_id)
            del endpoint.shells[shell.shell_id]
            endpoint.changed.notify_all()
        return _envelope(NS_TRANSFER + "/DeleteResponse", request.message_id, "")
