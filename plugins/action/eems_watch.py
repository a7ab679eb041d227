# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for onprem.exchange.eems_watch: this run's EEMS observations
against the previous run's record, on the controller.

It contacts no host.  The comparison is plugin_utils/_eems_watch (pure); this
file reads the clock and the history file, and writes the new record
atomically (never in check mode).
"""
from __future__ import annotations

import datetime
import json
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.onprem.exchange.plugins.plugin_utils._report.writer import (
    ReportError, prepare_dir, write_atomically)
from ansible_collections.onprem.exchange.plugins.plugin_utils._eems_watch import (
    WatchRecordError, compare, next_record, results_from_registered, summary_lines)

HISTORY_FILE = "eems-watch-history.json"
# A history folder is a path on the controller; nothing longer or stranger.
_PATH_LIMIT = 4096

ARGUMENT_SPEC = {
    "results": {"type": "dict", "required": True},
    "history_dir": {"type": "path", "required": True},
    "run_at": {"type": "str"},
}


def _check_path(value):
    text = str(value)
    if len(text) > _PATH_LIMIT or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise AnsibleActionFail("history_dir must be a folder path without control characters (NUL, newline...) and "
                                "at most %d characters" % _PATH_LIMIT)


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        _check_path(args["history_dir"])
        run_at = args["run_at"] or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        path = os.path.join(os.path.abspath(os.path.expanduser(args["history_dir"])), HISTORY_FILE)
        previous = self._read(path)
        results = results_from_registered(args["results"])
        try:
            outcome = compare(previous, results, run_at)
            record = next_record(previous, results, run_at)
        except WatchRecordError as error:
            raise AnsibleActionFail("%s: %s" % (path, error)) from None
        written = False
        if not self._task.check_mode:
            try:
                write_atomically(os.path.join(prepare_dir(os.path.dirname(path)), HISTORY_FILE),
                                 (json.dumps(record, indent=1, sort_keys=True) + "\n").encode("utf-8"))
            except (ReportError, OSError) as error:
                raise AnsibleActionFail("cannot write the watch history %s: %s" % (path, error)) from None
            written = True
        summary = dict(outcome["summary"], history=path, history_written=written)
        # The history is the watch's own record on the controller, not state of
        # a managed host: changed stays False so a quiet run is all green.
        result.update(changed=False, summary=summary, servers=outcome["servers"], lines=summary_lines(summary))
        return result

    @staticmethod
    def _read(path):
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise AnsibleActionFail("cannot read the watch history %s: %s (move it away to start a new history)"
                                    % (path, error)) from None
