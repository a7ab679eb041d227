"""Accelerated lab time.

Installers, reboots and the Mitigation Service's hourly check all take lab
time; with ``factor`` 60 a lab hour passes in a real minute, so a test can
watch an "hourly" EEMS check without waiting an hour.
"""
from __future__ import annotations

import datetime as _dt
import threading
import time


class LabClock:
    def __init__(self, start, factor=60.0):
        if isinstance(start, str):
            start = _dt.datetime.fromisoformat(start)
        if start.tzinfo is None:
            start = start.replace(tzinfo=_dt.timezone.utc)
        self._lock = threading.Lock()
        self._base = start
        self._mono = time.monotonic()
        self.factor = float(factor)

    def now(self):
        with self._lock:
            elapsed = (time.monotonic() - self._mono) * self.factor
            return self._base + _dt.timedelta(seconds=elapsed)

    def advance(self, seconds):
        """Jump forward by ``seconds`` of lab time (tests use this to reach
        the next EEMS check or the end of an installer without sleeping)."""
        with self._lock:
            self._base += _dt.timedelta(seconds=seconds)

    def real_seconds(self, lab_seconds):
        """How long ``lab_seconds`` of lab time take in real seconds."""
        return lab_seconds / self.factor if self.factor else lab_seconds

    def iso(self):
        return self.now().isoformat()
