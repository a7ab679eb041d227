"""The lab's model of files on a server's disk in its staging folder, and of
the package repository as a server reaches it (HTTP or a UNC share).

A staged file is a record in ``server["staged_files"]``, keyed by its full
Windows path in lower case (Windows paths compare case-insensitively):
``{"path", "name", "size", "sha256", "signature_status", "signer"}``.
Installer models look a file up with ``staged_file(server, path)``.
"""
from __future__ import annotations

import hashlib
import json
import ntpath
import os
from urllib.parse import unquote, urlparse

from .operations import HostOpError

# The lab's installer stand-ins are not really signed; a server sees them as
# Microsoft's, which is what the real packages are.
LAB_SIGNER = "Microsoft Corporation"


def staged_files(server):
    return server.setdefault("staged_files", {})


def staged_file(server, path):
    return staged_files(server).get(ntpath.normpath(path).lower())


def staging_path(directory, name):
    return ntpath.join(directory, name)


def repository_dir(ctx, url):
    """The folder behind a repository URL or UNC path, as the server reaches it.

    HTTP must be the lab's own repository (anything else cannot be reached
    from a lab host); any UNC share stands for the same folder, since the lab
    has no SMB server."""
    url = str(url or "")
    # A server behind a firewall (fleet key blocked_urls) reaches nothing there.
    if any(url.lower().startswith(str(prefix).lower()) for prefix in ctx.server.get("blocked_urls") or []):
        raise HostOpError("Unable to connect to the remote server (%s)" % url, "System.Net.WebException")
    if url.startswith("\\\\"):
        parts = [p for p in url.strip("\\").split("\\") if p]
        if len(parts) < 2:
            raise HostOpError("The network path %s was not found." % url, "System.Management.Automation.ItemNotFoundException")
        return ctx.lab.repo_dir
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise HostOpError("The repository %s is neither an http(s):// URL nor a \\\\server\\share path." % url)
    host, port = ctx.lab.http.address
    if parsed.scheme != "http" or parsed.hostname not in (host, "localhost") or parsed.port != port \
            or not parsed.path.startswith("/repo"):
        raise HostOpError("Unable to connect to the remote server (%s)" % url, "System.Net.WebException")
    return ctx.lab.repo_dir


def read_manifest(ctx, url):
    directory = repository_dir(ctx, url)
    with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)


def read_package(ctx, url, name):
    """The bytes the server receives for ``name``; a 404 raises as
    Invoke-WebRequest would."""
    directory = repository_dir(ctx, url)
    name = unquote(name)
    full = os.path.realpath(os.path.join(directory, name))
    if not full.startswith(os.path.realpath(directory) + os.sep) or not os.path.isfile(full):
        # Windows shares and IIS match names regardless of case.
        matches = [f for f in os.listdir(directory) if f.lower() == name.lower()]
        if not matches:
            raise HostOpError("The remote server returned an error: (404) Not Found.", "System.Net.WebException")
        full = os.path.join(directory, matches[0])
    with open(full, "rb") as handle:
        return handle.read()


def digest(content):
    return hashlib.sha256(content).hexdigest()
