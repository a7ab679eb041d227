"""Model of Install-UrlRewriteModule.ps1: the server downloads the MSI from
the internal repository, checks size and SHA256 against the repository's
manifest and the Authenticode signer, runs msiexec and detects the module
again. Faults: ``hash_mismatch`` (the download differs from the manifest),
``installer_exit_code`` (msiexec fails); packages may be ``corrupt``."""
from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request

from .. import iis
from . import HostOpError, operation


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        raise HostOpError("The remote server returned an error: (%d) %s. (%s)" % (error.code, error.reason, url),
                          "System.Net.WebException") from None
    except (OSError, ValueError) as error:
        raise HostOpError("Unable to connect to the remote server (%s): %s" % (url, error),
                          "System.Net.WebException") from None


def _version_tuple(text):
    return tuple(int(p) for p in str(text or "0").split(".") if p.isdigit())


@operation("Install-UrlRewriteModule")
def install_url_rewrite_module(ctx, args):
    server = ctx.server
    faults = server["faults"]
    base = str(args.get("repository_url") or "")
    package = str(args.get("package") or "")
    minimum = str(args.get("min_version") or "0")
    if not base or not package:
        raise HostOpError("repository_url and package are required.", "System.ArgumentException")
    if not base.endswith("/"):
        base += "/"
    steps = []
    manifest = json.loads(_get(base + "manifest.json").decode("utf-8"))
    entry = next((f for f in manifest.get("files", []) if f.get("name") == package), None)
    if entry is None:
        raise HostOpError("Package %s is not in the repository manifest %smanifest.json." % (package, base),
                          "System.IO.FileNotFoundException")
    content = _get(base + package)
    if faults.get("hash_mismatch"):
        content = content[:-1] + bytes([content[-1] ^ 1])
    digest = hashlib.sha256(content).hexdigest()
    steps.append({"step": "download", "size": len(content), "sha256": digest})
    if len(content) != int(entry["size"]) or digest.lower() != str(entry["sha256"]).lower():
        raise HostOpError("Verification failed for %s: size %d, SHA256 %s; the manifest says size %s, SHA256 %s. "
                          "The file was deleted and nothing was installed."
                          % (package, len(content), digest, entry["size"], entry["sha256"]),
                          "System.Security.SecurityException")
    spec = next((p for p in ctx.state.data["repository"]["packages"] if p.get("name") == package), {})
    signer = spec.get("signer", "CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond, S=Washington, C=US")
    if signer not in (args.get("signers") or []):
        raise HostOpError("The Authenticode signer of %s is '%s', which is not an accepted signer. Nothing was "
                          "installed." % (package, signer), "System.Security.SecurityException")
    steps.append({"step": "verify", "sha256": digest, "signer": signer, "ok": True})
    exit_code = int(faults.get("installer_exit_code") or 0)
    if exit_code:
        raise HostOpError("msiexec.exe /i %s /quiet /norestart ended with exit code %d; see the installer log "
                          "C:\\Windows\\Temp\\onprem.exchange\\UrlRewriteInstall.log." % (package, exit_code),
                          "System.InvalidOperationException")
    before = iis.url_rewrite_state(server)
    # The product version is the MSI's ProductVersion; rewrite.dll reports
    # its own (see iis.URL_REWRITE_RELEASES).
    server["url_rewrite_version"] = str(spec.get("product_version") or "7.2.1993")
    server.pop("url_rewrite_file_version", None)
    server["url_rewrite_uninstall_entry"] = True
    steps.append({"step": "msiexec", "exit_code": 0})
    after = iis.url_rewrite_state(server)
    minimum_file = str(args.get("min_file_version") or "7.1.1993")
    if after["product_version"] is not None:
        ok = _version_tuple(after["product_version"]) >= _version_tuple(minimum)
    else:
        ok = _version_tuple(after["file_version"]) >= _version_tuple(minimum_file)
    if not ok:
        raise HostOpError("After installing %s the URL Rewrite module reports product version %s (needs %s or later) "
                          "and rewrite.dll file version %s (needs %s or later)."
                          % (package, after["product_version"], minimum, after["file_version"], minimum_file),
                          "System.InvalidOperationException")
    return {"changed": True, "data": {"before": before, "after": after}, "steps": steps}
