"""A tiny report upload endpoint on 127.0.0.1 for the publishing tests.

Accepts PUT (the body is the file) and POST (multipart form, field ``file``)
and answers GET (the file, or 404) behind HTTP basic authentication, and keeps what it received in memory:
``server.files[path] = (content_type, bytes)``. Anything else gets 401/405.
"""
from __future__ import annotations

import base64
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def _authorised(self):
        expected = "Basic " + base64.b64encode(("%s:%s" % self.server.credentials).encode()).decode()
        if self.headers.get("Authorization") == expected:
            return True
        self.server.refused.append((self.command, self.path))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="reports"')
        self.end_headers()
        return False

    def _body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_PUT(self):
        if not self._authorised():
            self._body()
            return
        self.server.files[unquote(self.path)] = (self.headers.get("Content-Type"), self._body())
        self.send_response(201)
        self.end_headers()

    def do_GET(self):
        if not self._authorised():
            return
        found = self.server.files.get(unquote(self.path))
        if found is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", found[0] or "application/octet-stream")
        self.send_header("Content-Length", str(len(found[1])))
        self.end_headers()
        self.wfile.write(found[1])

    def do_POST(self):
        if not self._authorised():
            self._body()
            return
        raw = b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + self._body()
        message = BytesParser(policy=HTTP).parsebytes(raw)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                name = part.get_filename()
                self.server.files[unquote(self.path).rstrip("/") + "/" + name] = (
                    part.get_content_type(), part.get_payload(decode=True))
        self.send_response(200)
        self.end_headers()


class UploadServer:
    def __init__(self, username="reports", password="Upl0ad-S3cret"):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.credentials = (username, password)
        self.httpd.files = {}
        self.httpd.refused = []
        self.username, self.password = username, password
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def files(self):
        return self.httpd.files

    @property
    def refused(self):
        return self.httpd.refused

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
