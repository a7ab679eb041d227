"""The lab's plain-HTTP services on loopback, on one port:

``/repo/``     the internal package repository (installer stand-ins plus a
               ``manifest.json`` with name, size and SHA256 of each file);
``/ocs/``      the Office Config Service stand-in (see ocs.py);
``/control/``  the lab's own control API (faults, reboots, clock, state),
               used by the CLI and the tests; it needs the lab's token.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


def write_repository(directory, packages, *, seed="onprem.exchange lab"):
    """Create installer stand-ins and their manifest; returns the manifest.

    A package with ``corrupt: true`` gets a manifest hash that does not match
    its bytes, the way a tampered or truncated download looks.
    """
    os.makedirs(directory, exist_ok=True)
    manifest = {"files": []}
    for package in packages:
        name = package["name"]
        if os.path.basename(name) != name or name.startswith("."):
            raise ValueError("repository package name %r must be a plain file name" % name)
        size = int(package.get("size_kb", 64)) * 1024
        block = hashlib.sha256(("%s:%s" % (seed, name)).encode()).digest()
        content = (block * (size // len(block) + 1))[:size]
        with open(os.path.join(directory, name), "wb") as handle:
            handle.write(content)
        digest = hashlib.sha256(content).hexdigest()
        if package.get("corrupt"):
            digest = hashlib.sha256(content + b"tampered").hexdigest()
        manifest["files"].append({"name": name, "size": size, "sha256": digest})
    with open(os.path.join(directory, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1)
    return manifest


class _Handler(BaseHTTPRequestHandler):
    server_version = "LabHTTP/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output clean; the lab log has what matters
        return

    @property
    def lab(self):
        return self.server.lab

    def _send_json(self, status, body):
        data = json.dumps(body, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        return json.loads(self.rfile.read(length).decode("utf-8"))

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urlparse(self.path).path
        if path.startswith("/repo/"):
            return self._repo(unquote(path[len("/repo/"):]))
        if path == "/ocs/mitigations":
            return self._ocs()
        if path.startswith("/control/"):
            return self._control("GET", path[len("/control/"):], {})
        return self._send_json(404, {"error": "not found"})

    def do_POST(self):
        path = urlparse(self.path).path
        if path.startswith("/control/"):
            try:
                body = self._read_json()
            except ValueError:
                return self._send_json(400, {"error": "body is not JSON"})
            return self._control("POST", path[len("/control/"):], body)
        return self._send_json(405, {"error": "method not allowed"})

    def _repo(self, name):
        directory = self.lab.repo_dir
        full = os.path.realpath(os.path.join(directory, name))
        if not full.startswith(os.path.realpath(directory) + os.sep) or not os.path.isfile(full):
            return self._send_json(404, {"error": "no such package %r" % name})
        size = os.path.getsize(full)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            return None
        with open(full, "rb") as handle:
            while True:
                chunk = handle.read(1 << 16)
                if not chunk:
                    break
                self.wfile.write(chunk)
        return None

    def _ocs(self):
        if not self.lab.state.data["ocs"]["reachable"]:
            # Unreachable: drop the connection without an answer.
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        build = self.headers.get("X-Exchange-Build", "")
        try:
            status, body = self.lab.cutoffs.answer(build)
        except ValueError:
            return self._send_json(400, {"error": "X-Exchange-Build %r is not a build" % build})
        return self._send_json(status, body)

    def _control(self, method, action, body):
        token = self.headers.get("X-Lab-Token", "")
        if not hmac.compare_digest(token, self.lab.token):
            return self._send_json(403, {"error": "missing or wrong X-Lab-Token"})
        try:
            status, answer = self.lab.control(method, action, body)
        except KeyError as error:
            return self._send_json(404, {"error": "unknown %s" % error})
        except ValueError as error:
            return self._send_json(400, {"error": str(error)})
        return self._send_json(status, answer)


class LabHTTPServices:
    def __init__(self, lab, host="127.0.0.1", port=0):
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.lab = lab
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="lab-http", daemon=True)

    @property
    def address(self):
        return self.httpd.server_address[:2]

    def start(self):
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
