# Copyright: Contributors to the onprem.exchange collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that classify Exchange builds and plan updates in playbooks.

The thinking lives in plugin_utils (no Ansible imports there); this file only
adapts arguments, supplies today's date and turns input errors into
``AnsibleFilterError``. Documentation: ``exchange_build.yml`` and
``exchange_plan.yml`` beside this file.
"""

from __future__ import annotations

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.exchange.plugins.plugin_utils._exchange_catalog import (
    CatalogError,
    ExchangeBuildError,
    load_catalog,
    to_date,
)
from ansible_collections.onprem.exchange.plugins.plugin_utils._update_planner import (
    PlanInputError,
    check_target,
    plan_update,
)

_POLICY_KEYS = ("target", "esu_enrolled", "min_free_disk_gb", "installer_format", "available_media")


def _today(today):
    # The only place the real date is read: the filter boundary.
    if today is None:
        return datetime.date.today()
    try:
        return to_date(today)
    except ValueError as err:
        raise AnsibleFilterError("today: %s" % err)


def exchange_build(value, today=None, catalog_files=None):
    """Classify a build string (ExSetup, short or AdminDisplayVersion form)."""
    try:
        return load_catalog(extra=catalog_files).classify(value, _today(today)).to_dict()
    except ExchangeBuildError as err:
        raise AnsibleFilterError("exchange_build: %s" % err)
    except CatalogError as err:
        raise AnsibleFilterError("exchange_build: %s" % err)


def exchange_plan(facts, policy=None, today=None, catalog_files=None, **overrides):
    """Plan updates for facts (a dict, or just a build string) under a policy."""
    if policy is not None and not isinstance(policy, dict):
        if isinstance(policy, str):
            policy = {"target": policy}
        else:
            raise AnsibleFilterError("exchange_plan: policy must be a dict, got %s" % type(policy).__name__)
    merged = dict(policy or {})
    for key, value in overrides.items():
        if key not in _POLICY_KEYS:
            raise AnsibleFilterError("exchange_plan: unknown option %r; expected one of %s"
                                     % (key, ", ".join(_POLICY_KEYS + ("today", "catalog_files"))))
        merged[key] = value
    try:
        result = plan_update(facts, merged, today=_today(today), catalog=load_catalog(extra=catalog_files))
    except (PlanInputError, CatalogError) as err:
        raise AnsibleFilterError("exchange_plan: %s" % err)
    for finding in result["findings"]:
        if finding["id"] in ("build_unreadable", "target_unreadable"):
            raise AnsibleFilterError("exchange_plan: %s" % finding["message"])
    return result


def exchange_target(value, name="target"):
    """The target, stripped; fails naming the option and the allowed values otherwise."""
    try:
        return check_target(value)
    except PlanInputError as err:
        raise AnsibleFilterError("%s: %s" % (name, err))


class FilterModule:
    def filters(self):
        return {
            "exchange_build": exchange_build,
            "exchange_plan": exchange_plan,
            "exchange_target": exchange_target,
        }
