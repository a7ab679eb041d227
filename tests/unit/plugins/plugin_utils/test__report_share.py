"""Publishing to a file share: what may be written where, and the check of the host's answer."""
from __future__ import annotations

import base64
import hashlib

import pytest

from ansible_collections.onprem.exchange.plugins.plugin_utils._report_share import (
    MAX_BYTES,
    ReportShareError,
    check_answer,
    location,
    publish_request,
)

SHARE = "\\\\fs01.corp.contoso.com\\reports\\exchange"


def test_request_carries_the_bytes_as_base64_and_the_folder_in_windows_form():
    request = publish_request(SHARE + "\\", "31/before", "exchange-audit.html", b"<html>\xe2\x9c\x93</html>",
                              "CORP\\svc", "pw")
    assert request == {"share": SHARE, "folder": "31\\before", "name": "exchange-audit.html",
                       "content_base64": base64.b64encode(b"<html>\xe2\x9c\x93</html>").decode(),
                       "username": "CORP\\svc", "password": "pw"}
    assert "username" not in publish_request(SHARE, "", "a.csv", b"x")
    assert location(SHARE, "31/before") == SHARE + "\\31\\before\\"
    assert location(SHARE, "") == SHARE + "\\"


@pytest.mark.parametrize("share, folder, name, message", [
    ("fs01\\reports", "", "a.csv", "share must be a UNC path"),
    ("\\\\fs01", "", "a.csv", "share must name a server and a share"),
    (SHARE + "\\..\\c$", "", "a.csv", "'..' is not a valid folder or file name"),
    (SHARE, "31/../../x", "a.csv", "folder: '..' is not a valid folder or file name"),
    (SHARE, "a:b", "a.csv", "folder: 'a:b' is not a valid folder or file name"),
    (SHARE, "", "sub\\a.csv", "file name: 'sub\\a.csv' is not a plain file name"),
    (SHARE, "", "", "file name: '' is not a plain file name"),
    (SHARE, "", "trailing.", "'trailing.' is not a valid folder or file name"),
])
def test_nothing_can_point_the_write_outside_a_folder_below_the_share(share, folder, name, message):
    with pytest.raises(ReportShareError, match=message.replace("\\", "\\\\").replace("$", "\\$")):
        publish_request(share, folder, name, b"x")


def test_half_a_credential_and_oversized_files_are_refused():
    with pytest.raises(ReportShareError, match="both the share's username and password"):
        publish_request(SHARE, "", "a.csv", b"x", "CORP\\svc", None)
    with pytest.raises(ReportShareError, match="cannot go through a host call"):
        publish_request(SHARE, "", "a.csv", b"x" * (MAX_BYTES + 1))


def test_answer_must_carry_the_sha256_of_what_was_sent():
    request = publish_request(SHARE, "31", "a.csv", b"abc")
    good = {"path": SHARE + "\\31\\a.csv", "sha256": hashlib.sha256(b"abc").hexdigest().upper(), "size": 3}
    assert check_answer(good, request, b"abc") == SHARE + "\\31\\a.csv"
    with pytest.raises(ReportShareError, match="the file written differs from the report sent"):
        check_answer(dict(good, sha256=hashlib.sha256(b"abd").hexdigest()), request, b"abc")
    with pytest.raises(ReportShareError, match="differs"):
        check_answer(None, request, b"abc")


# -- reading one file back (Get-ReportFile) --------------------------------------

def test_fetch_request_names_the_file_below_the_share_in_windows_form():
    from ansible_collections.onprem.exchange.plugins.plugin_utils._report_share import fetch_request
    request = fetch_request(SHARE, "eems-watch/eems-watch-history.json", "CORP\\svc", "pw")
    assert request == {"share": SHARE, "folder": "eems-watch", "name": "eems-watch-history.json",
                       "max_bytes": MAX_BYTES, "username": "CORP\\svc", "password": "pw"}
    assert fetch_request(SHARE, "history.json")["folder"] == ""


@pytest.mark.parametrize("path, message", [
    ("", "file: name a file below the share"),
    ("eems-watch/../../secrets.txt", "file: '..' is not a valid folder or file name"),
    ("a:b/history.json", "file: 'a:b' is not a valid folder or file name"),
])
def test_fetch_request_refuses_a_path_that_leaves_the_share(path, message):
    from ansible_collections.onprem.exchange.plugins.plugin_utils._report_share import fetch_request
    with pytest.raises(ReportShareError, match=message.replace("(", "\\(")):
        fetch_request(SHARE, path)


def test_fetch_request_wants_both_parts_of_the_account():
    from ansible_collections.onprem.exchange.plugins.plugin_utils._report_share import fetch_request
    with pytest.raises(ReportShareError, match="both the share's username and password"):
        fetch_request(SHARE, "h.json", "CORP\\svc", None)


def test_check_fetched_gives_the_bytes_none_when_absent_and_refuses_a_mismatch():
    from ansible_collections.onprem.exchange.plugins.plugin_utils._report_share import check_fetched, fetch_request
    request = fetch_request(SHARE, "eems-watch/h.json")
    content = b'{"version": 1}'
    answer = {"path": SHARE + "\\eems-watch\\h.json", "found": True, "size": len(content),
              "sha256": hashlib.sha256(content).hexdigest(), "content_base64": base64.b64encode(content).decode()}
    assert check_fetched(answer, request) == content
    assert check_fetched(dict(answer, found=False, size=None, sha256=None, content_base64=None), request) is None
    with pytest.raises(ReportShareError, match="differ from what the host read"):
        check_fetched(dict(answer, sha256="0" * 64), request)
    with pytest.raises(ReportShareError, match="not read back through a host call"):
        check_fetched(dict(answer, size=MAX_BYTES + 1, sha256=None, content_base64=None), request)
    with pytest.raises(ReportShareError, match="not base64"):
        check_fetched(dict(answer, content_base64="***"), request)
