"""A headless Chromium driven over the DevTools protocol, for the report page tests.

No test dependency: Chromium's --remote-debugging-pipe speaks the DevTools
protocol as NUL-terminated JSON over two pipes (the browser reads fd 3 and
writes fd 4), so the standard library is enough. Nothing is downloaded: the
browser is Debian's chromium (scripts/install_browser.sh), started with
networking features off and a throw-away profile.
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import struct
import subprocess
import time
import zlib

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")


def find_chromium():
    """Path of a Chromium binary, or None (ONPREM_CHROMIUM overrides)."""
    wanted = os.environ.get("ONPREM_CHROMIUM")
    if wanted:
        return wanted if os.access(wanted, os.X_OK) else None
    for candidate in CANDIDATES:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    return None


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless browser with one page; ``call`` sends a DevTools command to the page."""

    def __init__(self, binary, profile_dir, timeout=60.0):
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._events = []
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def child_pipes():
            # The browser's end of each pipe becomes fd 3 (commands in) and fd 4 (answers out).
            # Copy both first (either may itself be fd 3 or 4); dup2 onto another
            # number leaves the copy inheritable.
            commands, answers = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(commands, 3)
            os.dup2(answers, 4)

        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe",
                "--user-data-dir=%s" % profile_dir, "--window-size=1280,900", "about:blank"]
        # Our pipe ends are close-on-exec; only the two dup2'd copies reach the browser.
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, preexec_fn=child_pipes, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")

    # -- protocol ------------------------------------------------------------

    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("no answer from the browser within %.0f s" % self.timeout)
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError("the browser closed its DevTools pipe (exit code %s)" % self.process.poll())
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _send(self, method, params=None, session=None):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError("%s: %s" % (method, answer["error"]))
                return answer.get("result", {})
            self._events.append(answer)

    def call(self, method, params=None):
        return self._send(method, params, self.session)

    def wait_event(self, method):
        deadline = time.monotonic() + self.timeout
        while True:
            for index, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(index).get("params", {})
            self._events.append(self._read_message(deadline))

    # -- what a test needs ---------------------------------------------------

    def open(self, url, javascript=True):
        """Load ``url`` and wait for its load event (scripts have run by then)."""
        self.call("Emulation.setScriptExecutionDisabled", {"value": not javascript})
        # Only a new document fires a load event: a URL that differs from the
        # current one by its #fragment alone would just scroll.
        for address in (("about:blank", url) if "#" in url else (url,)):
            self._events = [e for e in self._events if e.get("method") != "Page.loadEventFired"]
            self.call("Page.navigate", {"url": address})
            self.wait_event("Page.loadEventFired")

    def evaluate(self, expression):
        """The JSON value of a JavaScript expression in the page."""
        answer = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise BrowserError("%s: %s" % (expression, answer["exceptionDetails"]))
        return answer["result"].get("value")

    def click(self, selector):
        """A real mouse click (press and release) in the middle of the element."""
        box = self.evaluate("(function(){var e=document.querySelector(%s);e.scrollIntoView({block:'center'});"
                            "var r=e.getBoundingClientRect();return [r.x+r.width/2,r.y+r.height/2];})()"
                            % json.dumps(selector))
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})

    def screenshot(self, width=1280, height=900, scale=0.25):
        """The top of the page as PNG bytes, scaled down (a quarter: quick to read back here)."""
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": scale}
        self.evaluate("window.scrollTo(0, 0)")
        # Beyond the 1280x900 window the page must be laid out again (slow): only when asked for.
        data = self.call("Page.captureScreenshot", {"format": "png", "clip": clip,
                                                    "captureBeyondViewport": height > 900})["data"]
        return base64.b64decode(data)

    def close(self):
        try:
            self._send("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass


def png_pixels(data):
    """(width, height, rows of RGB(A) bytes) of an 8-bit truecolour PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, idat, header = 8, b"", None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour, _c, _f, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError("only 8-bit RGB/RGBA non-interlaced PNGs are read here")
    size = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(idat), width * size, [], bytearray(width * size)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - size] if x >= size else 0
            up = previous[x]
            corner = previous[x - size] if x >= size else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, size, rows
