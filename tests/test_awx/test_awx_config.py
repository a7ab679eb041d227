"""awx/controller.yml and awx/configure.yml: what AWX would be told to create.

configure.yml runs for real with ansible-playbook, against a stand-in
`awx.awx` collection whose modules record their arguments instead of calling
an AWX API (no AWX exists here). The option names each stand-in accepts are
those of the awx.awx modules, so a misspelt option fails here.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
import yaml

from labtools import REPO_ROOT

CONTROLLER = os.path.join(REPO_ROOT, "awx", "controller.yml")

# Options of the awx.awx modules configure.yml uses (awx.awx 24.x), plus the
# connection options every one of them takes.
_COMMON = {"controller_host", "controller_username", "controller_password", "controller_oauthtoken",
           "validate_certs", "controller_config_file", "request_timeout", "state"}
AWX_OPTIONS = {
    "execution_environment": {"name", "new_name", "description", "image", "organization", "credential", "pull"},
    "project": {"name", "new_name", "copy_from", "description", "scm_type", "scm_url", "local_path",
                "scm_branch", "scm_refspec", "credential", "scm_clean", "scm_delete_on_update",
                "scm_track_submodules", "scm_update_on_launch", "scm_update_cache_timeout",
                "allow_override", "timeout", "default_environment", "custom_virtualenv", "organization",
                "notification_templates_started", "notification_templates_success",
                "notification_templates_error", "wait", "update_project", "interval",
                "signature_validation_credential"},
    "inventory": {"name", "new_name", "copy_from", "description", "organization", "variables", "kind",
                  "host_filter", "instance_groups", "prevent_instance_group_fallback", "input_inventories"},
    "inventory_source": {"name", "new_name", "description", "inventory", "source", "source_path", "source_vars",
                         "enabled_var", "enabled_value", "host_filter", "limit", "credential",
                         "execution_environment", "custom_virtualenv", "overwrite", "overwrite_vars",
                         "timeout", "verbosity", "update_on_launch", "update_cache_timeout",
                         "source_project", "scm_branch", "notification_templates_started",
                         "notification_templates_success", "notification_templates_error", "organization"},
    "credential": {"name", "new_name", "copy_from", "description", "organization", "credential_type", "inputs",
                   "user", "team", "update_secrets"},
    "job_template": {"name", "new_name", "copy_from", "description", "organization", "job_type", "inventory",
                     "project", "playbook", "credential", "credentials", "execution_environment", "forks",
                     "limit", "verbosity", "extra_vars", "job_tags", "force_handlers", "skip_tags",
                     "start_at_task", "timeout", "use_fact_cache", "host_config_key", "ask_scm_branch_on_launch",
                     "ask_diff_mode_on_launch", "ask_variables_on_launch", "ask_limit_on_launch",
                     "ask_tags_on_launch", "ask_skip_tags_on_launch", "ask_job_type_on_launch",
                     "ask_verbosity_on_launch", "ask_inventory_on_launch", "ask_credential_on_launch",
                     "ask_execution_environment_on_launch", "ask_forks_on_launch", "ask_instance_groups_on_launch",
                     "ask_job_slice_count_on_launch", "ask_labels_on_launch", "ask_timeout_on_launch",
                     "survey_enabled", "survey_spec", "become_enabled", "diff_mode", "allow_simultaneous",
                     "custom_virtualenv", "job_slice_count", "webhook_service", "webhook_credential",
                     "scm_branch", "labels", "instance_groups", "prevent_instance_group_fallback",
                     "notification_templates_started", "notification_templates_success",
                     "notification_templates_error"},
    "workflow_job_template": {"name", "new_name", "copy_from", "description", "extra_vars", "organization",
                              "allow_simultaneous", "ask_variables_on_launch", "inventory", "limit", "scm_branch",
                              "ask_inventory_on_launch", "ask_scm_branch_on_launch", "ask_limit_on_launch",
                              "webhook_service", "webhook_credential", "survey_enabled", "survey_spec", "labels",
                              "notification_templates_started", "notification_templates_success",
                              "notification_templates_error", "notification_templates_approvals", "schema",
                              "destroy_current_schema"},
}
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


@pytest.fixture(scope="module")
def config():
    with open(CONTROLLER, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _exists(playbook):
    return os.path.isfile(os.path.join(REPO_ROOT, playbook))


def test_every_referenced_playbook_exists_unless_marked_pending(config):
    for template in config["controller_templates"]:
        if template.get("pending_playbook"):
            continue
        assert _exists(template["playbook"]), "%s: %s does not exist" % (template["name"], template["playbook"])
    # A pending mark must not outlive the playbook's arrival unnoticed: the
    # stale mark is harmless to AWX, so say it rather than fail.
    stale = [t["name"] for t in config["controller_templates"] if t.get("pending_playbook") and _exists(t["playbook"])]
    assert not stale, "marked pending although the playbook exists: %s" % stale


def test_the_templates_the_issue_asks_for_are_there(config):
    playbooks = {t["playbook"] for t in config["controller_templates"]}
    assert playbooks == {"playbooks/%s.yml" % n for n in ("audit", "stage", "patch", "mitigate", "eems", "remediate")}
    audit = next(t for t in config["controller_templates"] if t["playbook"] == "playbooks/audit.yml")
    assert audit["job_type"] == "check"


def test_every_template_has_a_valid_survey(config):
    for template in config["controller_templates"] + config["controller_workflows"]:
        assert template.get("survey_enabled") is True, template["name"]
        spec = template["survey_spec"]
        assert spec["name"] and isinstance(spec["spec"], list) and spec["spec"], template["name"]
        variables = [q["variable"] for q in spec["spec"]]
        assert len(variables) == len(set(variables)), template["name"]
        for question in spec["spec"]:
            where = "%s / %s" % (template["name"], question["variable"])
            assert question["type"] in SURVEY_TYPES, where
            assert question["question_name"] and isinstance(question["required"], bool), where
            if question["type"] in ("multiplechoice", "multiselect"):
                assert question["choices"], where
                if question["type"] == "multiplechoice" and question["required"]:
                    assert question["default"] in question["choices"], where
            if question["type"] == "integer":
                assert question["min"] <= question["default"] <= question["max"], where


def test_surveys_ask_what_a_person_changes(config):
    by_playbook = {t["playbook"]: {q["variable"] for q in t["survey_spec"]["spec"]}
                   for t in config["controller_templates"]}
    assert {"exchange_target", "exchange_esu_enrolled"} <= by_playbook["playbooks/audit.yml"]
    assert {"exchange_patch_window_end", "exchange_patch_max_in_flight", "exchange_patch_target"} <= \
        by_playbook["playbooks/patch.yml"]
    assert "exchange_mitigations" in by_playbook["playbooks/mitigate.yml"]
    assert "exchange_eems_organization_enabled" in by_playbook["playbooks/eems.yml"]


@pytest.mark.parametrize("playbook", ["audit", "stage", "patch", "mitigate", "eems", "remediate"])
def test_survey_variables_are_read_by_the_playbook_once_it_exists(config, playbook):
    path = "playbooks/%s.yml" % playbook
    if not _exists(path):
        pytest.skip("%s is not written yet (another issue)" % path)
    template = next(t for t in config["controller_templates"] if t["playbook"] == path)
    roles_text = ""
    for root, _dirs, files in os.walk(os.path.join(REPO_ROOT, "roles")):
        for name in files:
            if name.endswith((".yml", ".yaml")):
                with open(os.path.join(root, name), encoding="utf-8") as handle:
                    roles_text += handle.read()
    with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as handle:
        text = handle.read()
    # A chaining playbook (remediate.yml) reads its stages' variables too.
    for imported in re.findall(r"^\s*(?:ansible\.builtin\.)?import_playbook:\s*(\S+\.ya?ml)\s*$", text, re.M):
        with open(os.path.join(REPO_ROOT, "playbooks", imported), encoding="utf-8") as handle:
            text += handle.read()
    text += roles_text
    unused = [q["variable"] for q in template["survey_spec"]["spec"] if q["variable"] not in text]
    assert not unused, "%s: survey asks for %s, which neither the playbook nor a role reads" % (path, unused)


def test_mitigation_choices_are_known_mitigations(config):
    catalog = os.path.join(REPO_ROOT, "plugins", "plugin_utils", "_data", "mitigations.yml")
    if not os.path.exists(catalog):
        pytest.skip("the mitigation catalog is not written yet")
    with open(catalog, encoding="utf-8") as handle:
        known = {m["name"] for m in yaml.safe_load(handle)["mitigations"]}
    question = config["exchange_awx_questions"]["mitigations"]
    assert set(question["choices"]) <= known


def test_workflow_runs_audit_stage_patch_eems_in_order(config):
    (workflow,) = config["controller_workflows"]
    nodes = {n["identifier"]: n for n in workflow["schema"]}
    names = {t["name"]: t["playbook"] for t in config["controller_templates"]}
    order, node = [], nodes["audit"]
    while node:
        order.append(names[node["unified_job_template"]["name"]])
        following = node["related"]["success_nodes"]
        assert len(following) <= 1 and not node["related"]["failure_nodes"] and not node["related"]["always_nodes"]
        node = nodes[following[0]["identifier"]] if following else None
    assert order == ["playbooks/audit.yml", "playbooks/stage.yml", "playbooks/patch.yml", "playbooks/eems.yml"]
    assert len(order) == len(nodes)


def test_nothing_secret_is_committed(config):
    (credential,) = config["controller_credentials"]
    assert credential["credential_type"] == "Machine"
    assert credential["inputs"]["password"] == "{{ awx_exchange_winrm_password }}"
    for name in os.listdir(os.path.join(REPO_ROOT, "awx")):
        path = os.path.join(REPO_ROOT, "awx", name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                assert "$ANSIBLE_VAULT" not in handle.read(), name


def test_inventory_sources_point_at_files_in_the_project(config):
    for source in config["controller_inventory_sources"]:
        if source.get("generated_source"):
            continue
        assert os.path.isfile(os.path.join(REPO_ROOT, source["source_path"])), source["name"]


# -- configure.yml against a recording stand-in for awx.awx ---------------

_RECORDER = textwrap.dedent('''\
    import json
    import os

    from ansible.errors import AnsibleActionFail
    from ansible.plugins.action import ActionBase

    ALLOWED = set(json.loads(@ALLOWED@))


    class ActionModule(ActionBase):
        def run(self, tmp=None, task_vars=None):
            result = super().run(tmp, task_vars)
            unknown = sorted(set(self._task.args) - ALLOWED)
            if unknown:
                raise AnsibleActionFail("unsupported parameters for awx.awx.@MODULE@: %s" % unknown)
            with open(os.environ["AWX_RECORD"], "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"module": @MODULE@, "args": self._task.args}) + "\\n")
            result["changed"] = False
            return result
    ''')


def _stand_in_collection(root):
    base = os.path.join(root, "ansible_collections", "awx", "awx")
    os.makedirs(os.path.join(base, "plugins", "action"))
    os.makedirs(os.path.join(base, "meta"))
    with open(os.path.join(base, "meta", "runtime.yml"), "w", encoding="utf-8") as handle:
        handle.write("requires_ansible: '>=2.15'\n")
    for module, options in AWX_OPTIONS.items():
        with open(os.path.join(base, "plugins", "action", module + ".py"), "w", encoding="utf-8") as handle:
            handle.write(_RECORDER.replace("@ALLOWED@", repr(json.dumps(sorted(options | _COMMON))))
                         .replace("awx.awx.@MODULE@", "awx.awx." + module).replace("@MODULE@", repr(module)))
    return os.path.join(root)


def _configure(tmp_path, *extra):
    collections = _stand_in_collection(str(tmp_path / "collections"))
    record = tmp_path / "record.jsonl"
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), AWX_RECORD=str(record),
               ANSIBLE_COLLECTIONS_PATH=collections + os.pathsep + os.path.join(REPO_ROOT, ".collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / ".ansible-tmp"))
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    result = subprocess.run([binary, "-i", "localhost,", os.path.join(REPO_ROOT, "awx", "configure.yml"), *extra],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    calls = []
    if record.exists():
        calls = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    return result, calls


def test_configure_creates_the_objects_awx_needs(tmp_path, config):
    secret = "Winrm-S3cret-for-test"
    result, calls = _configure(tmp_path, "-e", "awx_exchange_winrm_password=%s" % secret, "-v")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    by_module = {}
    for call in calls:
        by_module.setdefault(call["module"], []).append(call["args"])
    assert [a["name"] for a in by_module["project"]] == ["onprem.exchange"]
    assert by_module["credential"][0]["inputs"]["password"] == secret
    assert secret not in result.stdout + result.stderr
    templates = {a["name"]: a for a in by_module["job_template"]}
    expected = {t["name"] for t in config["controller_templates"] if _exists(t["playbook"])}
    assert set(templates) == expected
    assert templates["Exchange - Audit"]["job_type"] == "check"
    assert templates["Exchange - Audit"]["survey_spec"]["spec"][0]["variable"] == "exchange_target"
    # The workflow is created only when all its templates can be.
    workflow_templates = {n["unified_job_template"]["name"] for n in config["controller_workflows"][0]["schema"]}
    assert bool(by_module.get("workflow_job_template")) == (workflow_templates <= set(templates))
    missing = sorted(t["playbook"] for t in config["controller_templates"] if not _exists(t["playbook"]))
    if missing:
        line = next(x for x in result.stdout.splitlines() if "Skipped until the playbook exists" in x)
        assert all(playbook in line for playbook in missing), line


def test_configure_without_the_password_says_how_to_give_it(tmp_path):
    result, calls = _configure(tmp_path)
    assert result.returncode != 0
    assert "Set awx_exchange_winrm_password" in result.stdout
    assert calls == []
