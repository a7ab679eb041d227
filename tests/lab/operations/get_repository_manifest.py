"""Model of Get-RepositoryManifest.ps1: the server reads the repository's manifest."""
from __future__ import annotations

from ..staging import read_manifest
from . import operation


@operation("Get-RepositoryManifest")
def get_repository_manifest(ctx, args):
    url = ((args or {}).get("repository") or {}).get("url")
    manifest = read_manifest(ctx, url)
    files = [{"name": f["name"], "size": int(f["size"]), "sha256": f["sha256"]} for f in manifest.get("files", [])]
    return {"changed": False, "data": {"source": url, "manifest": {"files": files}}}
