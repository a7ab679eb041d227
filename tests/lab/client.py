"""A minimal Ansible-connection stand-in built on unmodified pywinrm.

Tests and benchmarks use it to send host calls to lab endpoints without a
whole ansible-playbook run: it offers the one method the collection's
host-call helper needs, ``exec_command(cmd, in_data, sudoable)``, and sends
stdin exactly the way Ansible's winrm plugin does (console-mode stdin off,
then a Send with End="true").
"""
from __future__ import annotations

import base64

import winrm
import xmltodict

_SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"


class WinRMClient:
    def __init__(self, host, port, username, password, *, ca_path=None, tls=True):
        scheme = "https" if tls else "http"
        self.protocol = winrm.Protocol(
            "%s://%s:%d/wsman" % (scheme, host, port), transport="basic", username=username, password=password,
            server_cert_validation="validate" if tls else "ignore", ca_trust_path=ca_path or "legacy_requests",
            message_encryption="never", operation_timeout_sec=20, read_timeout_sec=30)
        self.shell_id = None

    @classmethod
    def for_lab(cls, lab, name, **overrides):
        host, port = lab.endpoints[name]
        # A server outside the domain (Edge) is reached with its own local account.
        credential = lab.state.server(name).get("local_account") or lab.state.data["lab"]["credential"]
        kwargs = {"username": credential["username"], "password": credential["password"],
                  "ca_path": lab.pki.ca_cert_path, "tls": lab.state.data["lab"]["tls"]}
        kwargs.update(overrides)
        return cls(host, port, **kwargs)

    def _shell(self):
        if self.shell_id is None:
            self.shell_id = self.protocol.open_shell()
        return self.shell_id

    def _send(self, command_id, data):
        envelope = {"env:Envelope": self.protocol._get_soap_header(
            resource_uri=_SHELL_URI, action="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send",
            shell_id=self.shell_id)}
        stream = envelope["env:Envelope"].setdefault("env:Body", {}).setdefault("rsp:Send", {}) \
            .setdefault("rsp:Stream", {})
        stream["@Name"] = "stdin"
        stream["@CommandId"] = command_id
        stream["@End"] = "true"
        stream["#text"] = base64.b64encode(data).decode("ascii")
        self.protocol.send_message(xmltodict.unparse(envelope))

    def exec_command(self, cmd, in_data=None, sudoable=True):
        shell = self._shell()
        parts = cmd.split(" ")
        command_id = self.protocol.run_command(shell, parts[0], parts[1:], console_mode_stdin=in_data is None)
        try:
            if in_data is not None:
                self._send(command_id, in_data)
            stdout, stderr, rc = self.protocol.get_command_output(shell, command_id)
        finally:
            self.protocol.cleanup_command(shell, command_id)
        return rc, stdout, stderr

    def close(self):
        if self.shell_id is not None:
            try:
                self.protocol.close_shell(self.shell_id)
            finally:
                self.shell_id = None
