"""The lab's shared, persistent state: organisations, DAGs, databases, servers.

One lock guards everything, because organisation-wide facts (the EEMS org
flag, database copies across a DAG) are read and written by operations on
different servers at once.  The state is a plain dict (the normalised fleet
plus what has happened since) saved as JSON, so a stopped and restarted lab
continues where it was and a re-run can be tested for idempotence.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading

from .fleet import normalise_fleet


class LabState:
    def __init__(self, fleet, path=None):
        self.data = fleet
        self.path = path
        self.lock = threading.RLock()
        self._servers = {s["name"].upper(): s for s in fleet["servers"]}

    @classmethod
    def load_or_create(cls, fleet, path):
        """Resume from ``path`` when it exists, else start from ``fleet``."""
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                saved = json.load(handle)
            return cls(normalise_fleet(saved, source=path), path)
        return cls(fleet, path)

    def save(self):
        if not self.path:
            return
        with self.lock:
            text = json.dumps(self.data, indent=1, sort_keys=True, default=str)
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        # Write then rename, so a lab killed mid-save keeps the previous state.
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".state-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, self.path)

    def server(self, name):
        return self._servers[name.upper()]

    def servers(self):
        return list(self.data["servers"])

    def organization(self, name):
        for org in self.data["organizations"]:
            if org["name"] == name:
                return org
        raise KeyError(name)

    def dag(self, name):
        for dag in self.data["dags"]:
            if dag["name"] == name:
                return dag
        raise KeyError(name)

    def dag_members(self, dag_name):
        return [s for s in self.data["servers"] if s["dag"] == dag_name]

    def databases_on(self, server_name):
        return [db for db in self.data["databases"] if server_name in db["copies"]]
