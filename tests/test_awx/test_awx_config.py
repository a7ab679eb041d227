"""awx/controller.yml and awx/configure.yml: what AWX would be told to create.

No AWX exists here. What is checked, and against what:
- option names, types and choices: configure.yml runs for real with
  ansible-playbook against a stand-in awx.awx collection whose modules accept
  exactly the options of awx.awx 24.6.1 (tests/test_awx/data/awx_awx_options.json,
  written by scripts/extract_awx_options.py from that release's source);
- idempotency: the stand-in keeps what it was told per object and reports a
  change only when a value given differs from the one kept - as awx.awx does
  (it compares each field given with the object AWX returns) - and always for
  destroy_current_schema, which makes awx.awx delete and recreate every
  workflow node, and for a workflow schema holding an approval node, which
  awx.awx 24.6.1 sends again and reports changed on every run (its
  workflow_job_template compares the node's identifier and workflow with the
  approval template, which has neither: controller_api.py
  objects_could_be_different); nodes given one by one
  (workflow_job_template_node) link only to nodes that exist, as AWX's
  lookups demand;
- surveys, schedules and notifications: AWX's own rules re-stated here
  (survey answer validation, rrule restrictions, notification messages
  rendered against AWX's stub context), with rrules parsed by dateutil as AWX does.
Not checked: anything AWX decides at run time (name lookups, RBAC, a project
sync, how AWX normalises a stored rrule or survey), nor ansible.controller.
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

from labtools import REPO_ROOT, changed_counts

CONTROLLER = os.path.join(REPO_ROOT, "awx", "controller.yml")
ESTATE = os.path.join(REPO_ROOT, "examples", "estate")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "awx_awx_options.json"),
          encoding="utf-8") as _handle:
    AWX = json.load(_handle)
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


class _Loader(yaml.SafeLoader):
    """controller.yml as Ansible reads it: !unsafe marks text AWX renders, not us."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


@pytest.fixture(scope="module")
def config():
    with open(CONTROLLER, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)


def _in_estate(playbook):
    return os.path.isfile(os.path.join(ESTATE, playbook))


def _template(config, name):
    return next(t for t in config["controller_templates"] + config["controller_workflows"] if t["name"] == name)


def _named(items, name):
    (found,) = [item for item in items if item["name"] == name]
    return found


# -- the shape -----------------------------------------------------------------

def test_every_template_runs_a_playbook_of_the_estate_repository(config):
    for template in config["controller_templates"]:
        assert _in_estate(template["playbook"]), "%s: %s is not in examples/estate" % (
            template["name"], template["playbook"])
    assert os.path.isfile(os.path.join(ESTATE, config["exchange_awx_inventory_source_path"]))
    (source,) = config["controller_inventory_sources"]
    assert source["source_path"] == "{{ exchange_awx_inventory_source_path }}"


def test_the_templates_the_issue_asks_for_are_there(config):
    playbooks = {t["playbook"] for t in config["controller_templates"]}
    assert playbooks == {"playbooks/%s.yml" % n
                         for n in ("audit", "stage", "patch", "mitigate", "eems", "remediate", "eems_watch")}
    audit = next(t for t in config["controller_templates"] if t["playbook"] == "playbooks/audit.yml")
    assert audit["job_type"] == "check"


def test_templates_that_publish_reports_run_playbooks_that_publish(config):
    for template in config["controller_templates"]:
        if not template.get("publishes_reports"):
            continue
        name = os.path.basename(template["playbook"])
        path = os.path.join(REPO_ROOT, "playbooks", name)
        if name == "eems_watch.yml" and not os.path.exists(path):
            continue  # the watch playbook is another issue's; it keeps its history where reports go
        with open(path, encoding="utf-8") as handle:
            assert "onprem.exchange.exchange_report_publish" in handle.read(), name


def test_every_template_and_workflow_notifies_on_failure_and_success(config):
    names = {n["name"] for n in config["controller_notifications"]}
    for template in config["controller_templates"] + config["controller_workflows"]:
        assert template["notification_templates_error"] == ["Exchange - job failed"], template["name"]
        assert template["notification_templates_success"] == ["Exchange - job succeeded"], template["name"]
        assert set(template["notification_templates_error"] + template["notification_templates_success"]) <= names


# -- surveys (AWX's rules: awx/main/models/mixins.py, _survey_element_validation) --

def _answer_errors(question, value):
    """What AWX says of one answer to one question."""
    kind, errors = question["type"], []
    if kind in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return ["not a string"]
        if question.get("min") not in ("", None) and len(value) < int(question["min"]):
            errors.append("too short")
        if question.get("max") not in ("", None) and len(value) > int(question["max"]):
            errors.append("too long")
    elif kind in ("integer", "float"):
        if kind == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
            return ["not an integer"]
        if question.get("min") not in ("", None) and value < question["min"]:
            errors.append("below min")
        if question.get("max") not in ("", None) and value > question["max"]:
            errors.append("above max")
    elif kind == "multiplechoice":
        if value not in question["choices"]:
            errors.append("not a choice")
    elif kind == "multiselect":
        values = value if isinstance(value, list) else [v for v in str(value).split("\n") if v]
        if any(v not in question["choices"] for v in values):
            errors.append("not a choice")
    return errors


def _launch_errors(spec, answers):
    """AWX at launch: a default that passes validation is used where no answer is
    given; a required question with neither fails the launch."""
    errors = []
    for question in spec:
        variable = question["variable"]
        if variable in answers:
            errors += ["%s: %s" % (variable, e) for e in _answer_errors(question, answers[variable])]
        elif question["required"] and (question.get("default") is None
                                       or _answer_errors(question, question["default"])):
            errors.append("%s: value missing" % variable)
    return errors


def test_every_survey_is_valid(config):
    for template in config["controller_templates"] + config["controller_workflows"]:
        if not template.get("survey_enabled"):
            assert "survey_spec" not in template, template["name"]
            continue
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


def test_a_scheduled_launch_needs_no_answer_the_schedule_does_not_give(config):
    for schedule in config["controller_schedules"]:
        template = _template(config, schedule["unified_job_template"])
        answers = schedule.get("extra_data", {})
        spec = template["survey_spec"]["spec"] if template.get("survey_enabled") else []
        # AWX refuses extra_data a template does not ask for.
        if not template.get("ask_variables_on_launch"):
            assert set(answers) <= {q["variable"] for q in spec}, schedule["name"]
        # "{{ name }}" is one of controller.yml's own settings (configure.yml renders it, natively typed).
        rendered = {k: config[re.fullmatch(r"\{\{ (\w+) \}\}", v).group(1)]
                    if isinstance(v, str) and v.startswith("{{") else v for k, v in answers.items()}
        assert _launch_errors(spec, rendered) == [], schedule["name"]
        if "job_type" in schedule:
            assert template.get("ask_job_type_on_launch"), schedule["name"]


def test_the_patch_window_is_a_length_not_a_timestamp_in_the_workflow(config):
    workflow = _template(config, "Exchange - Monthly round")
    variables = {q["variable"]: q for q in workflow["survey_spec"]["spec"]}
    assert "exchange_patch_window_end" not in variables
    assert variables["exchange_patch_window_minutes"]["type"] == "integer"
    # The patch node's own survey: its end question's empty default does not
    # validate (min 20), so AWX passes no end and the length applies.
    patch = _template(config, "Exchange - Patch window")
    end = next(q for q in patch["survey_spec"]["spec"] if q["variable"] == "exchange_patch_window_end")
    assert not end["required"] and _answer_errors(end, end["default"])
    assert _launch_errors(patch["survey_spec"]["spec"], {"exchange_patch_window_minutes": 240}) == []


@pytest.mark.parametrize("playbook", ["audit", "stage", "patch", "mitigate", "eems", "remediate"])
def test_survey_variables_are_read_by_the_playbook(config, playbook):
    path = "playbooks/%s.yml" % playbook
    template = next(t for t in config["controller_templates"] if t["playbook"] == path)
    text = ""
    for root, _dirs, files in os.walk(os.path.join(REPO_ROOT, "roles")):
        for name in files:
            if name.endswith((".yml", ".yaml")):
                with open(os.path.join(root, name), encoding="utf-8") as handle:
                    text += handle.read()
    with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as handle:
        own = handle.read()
    text += own
    for imported in re.findall(r"^\s*(?:ansible\.builtin\.)?import_playbook:\s*(\S+\.ya?ml)\s*$", own, re.M):
        with open(os.path.join(REPO_ROOT, "playbooks", imported), encoding="utf-8") as handle:
            text += handle.read()
    unused = [q["variable"] for q in template["survey_spec"]["spec"] if q["variable"] not in text]
    assert not unused, "%s: survey asks for %s, which neither the playbook nor a role reads" % (path, unused)


def test_mitigation_choices_are_known_mitigations(config):
    catalog = os.path.join(REPO_ROOT, "plugins", "plugin_utils", "_data", "mitigations.yml")
    with open(catalog, encoding="utf-8") as handle:
        known = {m["name"] for m in yaml.safe_load(handle)["mitigations"]}
    assert set(config["exchange_awx_questions"]["mitigations"]["choices"]) <= known


# -- the workflow ----------------------------------------------------------------

def test_workflow_runs_audit_stage_approval_patch_eems_in_order(config):
    (workflow,) = config["controller_workflows"]
    assert "destroy_current_schema" not in workflow and "destroy_current_nodes" not in workflow
    nodes = {n["identifier"]: n for n in workflow["schema"]}
    names = {t["name"]: t["playbook"] for t in config["controller_templates"]}
    order, node = [], nodes["audit"]
    while node:
        ujt = node["unified_job_template"]
        order.append(names[ujt["name"]] if ujt["type"] == "job_template" else ujt["type"])
        following = node["related"]["success_nodes"]
        assert len(following) <= 1 and not node["related"]["failure_nodes"] and not node["related"]["always_nodes"]
        node = nodes[following[0]["identifier"]] if following else None
    assert order == ["playbooks/audit.yml", "playbooks/stage.yml", "workflow_approval", "playbooks/patch.yml",
                     "playbooks/eems.yml"]
    assert len(order) == len(nodes)
    approval = nodes["approve"]["unified_job_template"]
    # awx.awx creates an approval node from name, description and timeout.
    assert set(approval) == {"name", "description", "type", "timeout"} and approval["name"]
    assert workflow["notification_templates_approvals"] == ["Exchange - approval needed"]


# -- schedules (AWX's rrule rules: awx/api/serializers.py, SchedulePreviewSerializer) --

def _rrule_errors(rrule):
    errors = []
    dtstarts = re.findall(r"(DTSTART(;[^:]+)?:[0-9]+T[0-9]+Z?)", rrule)
    if len(dtstarts) != 1:
        errors.append("exactly one DTSTART")
    if re.search(r"DTSTART:[0-9]+T[0-9]+ ", rrule):
        errors.append("naive DTSTART")
    rules = re.findall(r"RRULE:\S*", rrule)
    if not rules:
        errors.append("no RRULE")
    for rule in rules:
        if "INTERVAL" not in rule:
            errors.append("INTERVAL required")
        if "SECONDLY" in rule or "MINUTELY" in rule:
            errors.append("too frequent")
        if re.search(r"BYDAY[:=][0-9+-]*[0-9][A-Z]{2}", rule):
            errors.append("BYDAY with numeric prefix")
        if "COUNT" in rule and "UNTIL" in rule:
            errors.append("COUNT and UNTIL")
    if re.search(r"EXDATE|RDATE", rrule):
        errors.append("EXDATE/RDATE")
    return errors


def _occurrences(rrule, timezone, count):
    from dateutil import rrule as dateutil_rrule
    from dateutil import tz
    text = rrule.replace("{{ exchange_awx_timezone }}", timezone)
    zone = tz.gettz(timezone)
    assert zone is not None, timezone
    dtstart = re.search(r"DTSTART;TZID=[^:]+:(\d{8}T\d{6})", text).group(1)
    import datetime
    start = datetime.datetime.strptime(dtstart, "%Y%m%dT%H%M%S").replace(tzinfo=zone)
    rule = dateutil_rrule.rrulestr(re.search(r"RRULE:(\S+)", text).group(1), dtstart=start)
    return list(rule[:count])


def test_schedules_follow_awx_rrule_rules_and_name_existing_templates(config):
    pytest.importorskip("dateutil")
    names = {t["name"] for t in config["controller_templates"] + config["controller_workflows"]}
    for schedule in config["controller_schedules"]:
        assert schedule["unified_job_template"] in names, schedule["name"]
        assert _rrule_errors(schedule["rrule"]) == [], schedule["name"]
        assert _occurrences(schedule["rrule"], config["exchange_awx_timezone"], 3), schedule["name"]


def test_the_monthly_round_starts_the_saturday_after_patch_tuesday(config):
    pytest.importorskip("dateutil")
    import datetime
    (monthly,) = [s for s in config["controller_schedules"] if s["unified_job_template"] == "Exchange - Monthly round"]
    runs = _occurrences(monthly["rrule"], config["exchange_awx_timezone"], 24)
    months = [(r.year, r.month) for r in runs]
    assert len(set(months)) == 24  # once a month, every month
    for run in runs:
        first = run.replace(day=1)
        second_tuesday = first + datetime.timedelta(days=(1 - first.weekday()) % 7 + 7)
        assert run.date() == (second_tuesday + datetime.timedelta(days=4)).date(), run
        assert (run.hour, run.minute) == (20, 0)  # local time, across daylight saving changes
    assert monthly["extra_data"] == {"exchange_patch_window_minutes": "{{ exchange_awx_patch_window_minutes }}"}


def test_daily_eems_check_and_hourly_watch_are_scheduled(config):
    by_template = {s["unified_job_template"]: s for s in config["controller_schedules"]}
    check = by_template["Exchange - EEMS"]
    assert check["job_type"] == "check" and "FREQ=DAILY" in check["rrule"]
    assert "FREQ=HOURLY" in by_template["Exchange - EEMS watch"]["rrule"]
    assert "FREQ=DAILY" in by_template["Exchange - Audit"]["rrule"]


# -- notifications (AWX's rules: NotificationTemplateSerializer.validate_messages) --

def _render(text, context):
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined).from_string(text).render(context)


def test_notification_messages_render_against_awx_context(config):
    stub = AWX["notification_context_stub"]
    for notification in config["controller_notifications"]:
        assert set(notification["notification_configuration"]) >= {"url", "http_method", "headers"}
        for event, messages in notification["messages"].items():
            assert event in ("started", "success", "error", "workflow_approval"), notification["name"]
            groups = messages.values() if event == "workflow_approval" else [messages]
            for group in groups:
                assert set(group) <= {"message", "body"}
                assert "\n" not in group["message"]
                _render(group["message"], stub)
                # A webhook body is JSON once rendered.
                json.loads(_render(group["body"], stub))


def test_the_success_notification_carries_the_summary_and_published_location(config):
    stub = json.loads(json.dumps(AWX["notification_context_stub"]))
    stub["job"]["artifacts"] = {"exchange_audit_summary": {"total": 12},
                                "exchange_audit_published": {"location": "https://r.example/exchange/31/"}}
    success = next(n for n in config["controller_notifications"] if n["name"] == "Exchange - job succeeded")
    body = json.loads(_render(success["messages"]["success"]["body"], stub))
    assert body["artifacts"]["exchange_audit_summary"] == {"total": 12}
    assert body["artifacts"]["exchange_audit_published"]["location"] == "https://r.example/exchange/31/"


# -- secrets and credentials -------------------------------------------------------

def test_nothing_secret_is_committed(config):
    credentials = config["controller_credentials"]
    machine = _named(credentials, "Exchange WinRM")
    assert machine["credential_type"] == "Machine"
    assert machine["inputs"]["password"] == "{{ awx_exchange_winrm_password }}"
    assert _named(credentials, "Exchange report upload")["inputs"]["password"] == \
        "{{ awx_exchange_report_password | default('') }}"
    assert _named(credentials, "Exchange Edge servers")["inputs"]["password"] == \
        "{{ awx_exchange_edge_password | default('') }}"
    assert len(credentials) == 3
    for folder in (os.path.join(REPO_ROOT, "awx"), ESTATE):
        for root, _dirs, files in os.walk(folder):
            for name in files:
                with open(os.path.join(root, name), encoding="utf-8", errors="replace") as handle:
                    text = handle.read()
                # Only placeholders: a vault header followed by real ciphertext is a committed secret.
                assert not re.search(r"\$ANSIBLE_VAULT;1\.[12];AES256\s*\n\s*[0-9a-f]{32}", text), name


def test_the_upload_credential_injects_what_report_publish_reads(config):
    kind = _named(config["controller_credential_types"], "Exchange report upload")
    ids = {f["id"] for f in kind["inputs"]["fields"]}
    secret = {f["id"] for f in kind["inputs"]["fields"] if f.get("secret")}
    assert secret == {"password"}
    with open(os.path.join(REPO_ROOT, "roles", "exchange_report_publish", "meta", "argument_specs.yml"), encoding="utf-8") as h:
        options = yaml.safe_load(h)["argument_specs"]["main"]["options"]
    for variable, value in kind["injectors"]["extra_vars"].items():
        assert variable in options, variable
        assert re.fullmatch(r"\{\{ (\w+) \}\}", value).group(1) in ids


def test_the_edge_credential_injects_exactly_what_the_edge_group_reads(config):
    """The custom type's extra variables are the two that inventory/example's and
    the estate's group_vars/exchange_edge hand to ansible_user/ansible_password."""
    kind = _named(config["controller_credential_types"], "Exchange Edge local account")
    assert kind["kind"] == "cloud" and kind["only_with_edge_account"] is True
    fields = {f["id"]: f for f in kind["inputs"]["fields"]}
    assert set(fields) == set(kind["inputs"]["required"]) == {"username", "password"}
    assert {i for i, f in fields.items() if f.get("secret")} == {"password"}
    assert kind["injectors"] == {"extra_vars": {"exchange_edge_winrm_username": "{{ username }}",
                                                "exchange_edge_winrm_password": "{{ password }}"}}
    credential = _named(config["controller_credentials"], "Exchange Edge servers")
    assert credential["credential_type"] == kind["name"] and credential["only_with_edge_account"] is True
    injected = {"ansible_user": "{{ exchange_edge_winrm_username }}",
                "ansible_password": "{{ exchange_edge_winrm_password }}"}
    for inventory in (os.path.join(REPO_ROOT, "inventory", "example"), os.path.join(ESTATE, "inventory")):
        with open(os.path.join(inventory, "group_vars", "exchange_edge", "connection.yml"), encoding="utf-8") as h:
            connection = yaml.safe_load(h)
        assert {k: connection[k] for k in injected} == injected, inventory
        assert connection["ansible_winrm_transport"] == "ntlm", inventory
        used = set(re.findall(r"\{\{ (\w+) \}\}", " ".join(connection[k] for k in injected)))
        assert used == set(kind["injectors"]["extra_vars"]), inventory
    # The estate's shell-run file sets the same two, never ansible_user itself.
    with open(os.path.join(ESTATE, "inventory", "group_vars", "exchange_edge", "vault.yml.example"),
              encoding="utf-8") as handle:
        shell = re.findall(r"^(\w+):", handle.read(), re.M)
    assert set(shell) == set(kind["injectors"]["extra_vars"])


# -- configure.yml against a recording, state-keeping stand-in for awx.awx --------

_RECORDER = textwrap.dedent('''\
    import json
    import os

    from ansible.errors import AnsibleActionFail
    from ansible.plugins.action import ActionBase

    SPEC = json.loads(@SPEC@)
    MODULE = @MODULE@


    def _key(args):
        if MODULE == "workflow_job_template_node":
            return "%s/%s/%s" % (MODULE, args.get("workflow_job_template"), args.get("identifier"))
        return "%s/%s" % (MODULE, args.get("name"))


    def _node_problem(args, state):
        """awx.awx's own checks of a workflow node: one kind of node, links to nodes that exist."""
        if args.get("unified_job_template") and args.get("approval_node"):
            return "parameters are mutually exclusive: unified_job_template|approval_node"
        if not any(args.get(k) is not None for k in ("unified_job_template", "approval_node", "success_nodes",
                                                       "always_nodes", "failure_nodes")):
            return "state is present but any of the following are missing: unified_job_template, approval_node, ..."
        for association in ("success_nodes", "always_nodes", "failure_nodes"):
            for identifier in args.get(association) or []:
                if "%s/%s/%s" % (MODULE, args.get("workflow_job_template"), identifier) not in state:
                    return "Could not find %s entry with name %s" % (association, identifier)
        return None


    class ActionModule(ActionBase):
        def run(self, tmp=None, task_vars=None):
            result = super().run(tmp, task_vars)
            args = dict(self._task.args)
            unknown = sorted(set(args) - set(SPEC))
            if unknown:
                raise AnsibleActionFail("Unsupported parameters for (awx.awx.%s) module: %s" % (MODULE, unknown))
            for name, value in args.items():
                choices = SPEC[name].get("choices")
                if choices and value not in choices:
                    raise AnsibleActionFail("value of %s must be one of: %s, got: %s" % (name, choices, value))
                kind = SPEC[name].get("type", "str")
                if kind == "dict" and not isinstance(value, dict) or kind == "list" and not isinstance(value, list):
                    raise AnsibleActionFail("%s: expected %s" % (name, kind))
                if kind == "bool" and not isinstance(value, bool):
                    raise AnsibleActionFail("%s: expected a bool, got %r" % (name, value))
                if kind == "int" and not isinstance(value, int):
                    raise AnsibleActionFail("%s: expected an int, got %r" % (name, value))
            state_path = os.environ["AWX_STATE"]
            state = {}
            if os.path.exists(state_path):
                with open(state_path, encoding="utf-8") as handle:
                    state = json.load(handle)
            if MODULE == "workflow_job_template_node":
                problem = _node_problem(args, state)
                if problem:
                    raise AnsibleActionFail(problem)
            given = json.loads(json.dumps(args, sort_keys=True, default=str))
            kept = state.get(_key(args))
            # As awx.awx: a change only when a value given differs from the one
            # kept, except that destroy_current_schema deletes and recreates
            # every node, and an approval node in a schema is re-sent and
            # reported changed every time.
            approval_in_schema = any((node.get("unified_job_template") or {}).get("type") == "workflow_approval"
                                     for node in args.get("schema") or args.get("workflow_nodes") or [])
            changed = kept is None or any(kept.get(k) != v for k, v in given.items()) \
                or bool(args.get("destroy_current_schema") or args.get("destroy_current_nodes")) or approval_in_schema
            state[_key(args)] = dict(kept or {}, **given)
            with open(state_path, "w", encoding="utf-8") as handle:
                json.dump(state, handle)
            with open(os.environ["AWX_RECORD"], "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"module": MODULE, "args": args}, default=str) + "\\n")
            result["changed"] = changed
            return result
    ''')


def _stand_in_collection(root):
    base = os.path.join(root, "ansible_collections", "awx", "awx")
    os.makedirs(os.path.join(base, "plugins", "action"))
    os.makedirs(os.path.join(base, "meta"))
    with open(os.path.join(base, "meta", "runtime.yml"), "w", encoding="utf-8") as handle:
        handle.write("requires_ansible: '>=2.15'\n")
    for module, options in AWX["modules"].items():
        spec = dict(AWX["common"])
        for name, option in options.items():
            spec[name] = option
            for alias in option.get("aliases", []):
                spec[alias] = option
        with open(os.path.join(base, "plugins", "action", module + ".py"), "w", encoding="utf-8") as handle:
            handle.write(_RECORDER.replace("@SPEC@", repr(json.dumps(spec))).replace("@MODULE@", repr(module)))
    return root


def _configure(tmp_path, *extra, run="1"):
    collections = _stand_in_collection(str(tmp_path / "collections")) if not (tmp_path / "collections").exists() \
        else str(tmp_path / "collections")
    record = tmp_path / ("record%s.jsonl" % run)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), AWX_RECORD=str(record),
               AWX_STATE=str(tmp_path / "awx-state.json"),
               ANSIBLE_COLLECTIONS_PATH=collections + os.pathsep + os.path.join(REPO_ROOT, ".collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / ".ansible-tmp"))
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    result = subprocess.run([binary, "-i", "localhost,", os.path.join(REPO_ROOT, "awx", "configure.yml"), *extra],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    calls = []
    if record.exists():
        calls = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    return result, calls


def _by_module(calls):
    by_module = {}
    for call in calls:
        by_module.setdefault(call["module"], []).append(call["args"])
    return by_module


def _changed(result):
    return changed_counts(result.stdout)["localhost"]


SECRET = "Winrm-S3cret-for-test"
UPLOAD_SECRET = "Upl0ad-S3cret-for-test"
EDGE_SECRET = "Edg3-S3cret-for-test"
EDGE = ("-e", "awx_exchange_edge_username=EDGE01\\exadmin", "-e", "awx_exchange_edge_password=%s" % EDGE_SECRET)


def test_configure_creates_the_objects_awx_needs_and_a_second_run_changes_nothing(tmp_path, config):
    args = ("-e", "awx_exchange_winrm_password=%s" % SECRET, "-e", "awx_exchange_report_password=%s" % UPLOAD_SECRET,
            *EDGE, "-v")
    result, calls = _configure(tmp_path, *args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    by_module = _by_module(calls)
    assert [a["name"] for a in by_module["project"]] == ["Exchange estate"]
    credentials = {a["name"]: a for a in by_module["credential"]}
    assert credentials["Exchange WinRM"]["inputs"]["password"] == SECRET
    assert credentials["Exchange report upload"]["inputs"]["password"] == UPLOAD_SECRET
    assert credentials["Exchange Edge servers"]["inputs"] == {"username": "EDGE01\\exadmin", "password": EDGE_SECRET}
    for secret in (SECRET, UPLOAD_SECRET, EDGE_SECRET):
        assert secret not in result.stdout + result.stderr
    # AWX renders these itself: configure.yml passed them on untouched.
    kinds = {a["name"]: a for a in by_module["credential_type"]}
    assert kinds["Exchange report upload"]["injectors"]["extra_vars"]["exchange_report_publish_password"] == "{{ password }}"
    assert kinds["Exchange Edge local account"]["injectors"]["extra_vars"]["exchange_edge_winrm_password"] == "{{ password }}"
    notifications = {a["name"]: a for a in by_module["notification_template"]}
    assert "{{ (job.artifacts or {}) | tojson }}" in notifications["Exchange - job succeeded"]["messages"]["success"]["body"]

    templates = {a["name"]: a for a in by_module["job_template"]}
    assert set(templates) == {t["name"] for t in config["controller_templates"]}
    assert templates["Exchange - Audit"]["job_type"] == "check"
    assert templates["Exchange - Audit"]["credentials"] == ["Exchange WinRM", "Exchange report upload",
                                                            "Exchange Edge servers"]
    assert templates["Exchange - Stage"]["credentials"] == ["Exchange WinRM", "Exchange Edge servers"]
    (workflow,) = by_module["workflow_job_template"]
    assert "destroy_current_schema" not in workflow and "schema" not in workflow
    # The nodes one by one: the approval with its timeout, then the links in the schema's order.
    nodes = [a for a in by_module["workflow_job_template_node"] if "success_nodes" not in a]
    assert [n["identifier"] for n in nodes] == ["audit", "stage", "approve", "patch", "eems"]
    approval = next(n for n in nodes if n["identifier"] == "approve")
    assert "unified_job_template" not in approval
    assert approval["approval_node"]["timeout"] == 86400
    assert approval["approval_node"]["name"] == "Exchange - Approve the patch window"
    assert next(n for n in nodes if n["identifier"] == "patch")["unified_job_template"] == "Exchange - Patch window"
    links = {a["identifier"]: a["success_nodes"] for a in by_module["workflow_job_template_node"] if "success_nodes" in a}
    assert links == {"audit": ["stage"], "stage": ["approve"], "approve": ["patch"], "patch": ["eems"], "eems": []}
    schedules = {a["name"]: a for a in by_module["schedule"]}
    assert set(schedules) == {s["name"] for s in config["controller_schedules"]}
    monthly = schedules["Exchange - Monthly round, Saturday after Patch Tuesday"]
    assert monthly["extra_data"] == {"exchange_patch_window_minutes": 240}
    assert monthly["rrule"].startswith("DTSTART;TZID=Europe/Amsterdam:")
    # Every awx.awx task created something (the node module runs twice: nodes, then links).
    assert len(by_module) == 11 and _changed(result) == 12

    second, calls = _configure(tmp_path, *args, run="2")
    assert second.returncode == 0, second.stdout[-3000:]
    assert len(calls) == sum(len(v) for v in by_module.values())
    assert _changed(second) == 0, second.stdout[-3000:]


def test_without_an_upload_account_no_upload_credential_is_made_or_attached(tmp_path):
    result, calls = _configure(tmp_path, "-e", "awx_exchange_winrm_password=%s" % SECRET)
    assert result.returncode == 0, result.stdout[-3000:]
    by_module = _by_module(calls)
    assert [a["name"] for a in by_module["credential"]] == ["Exchange WinRM"]
    assert all(a["credentials"] == ["Exchange WinRM"] for a in by_module["job_template"])
    # Nor anything of the Edge servers' account: no type, no credential, nothing attached.
    assert [a["name"] for a in by_module["credential_type"]] == ["Exchange report upload"]
    assert "exchange_edge" not in json.dumps(calls) and "Edge local" not in json.dumps(calls)


def test_with_an_edge_account_every_template_that_reaches_servers_gets_it_and_nothing_else(tmp_path, config):
    result, calls = _configure(tmp_path, "-e", "awx_exchange_winrm_password=%s" % SECRET, *EDGE)
    assert result.returncode == 0, result.stdout[-3000:]
    assert EDGE_SECRET not in result.stdout + result.stderr
    by_module = _by_module(calls)
    assert [a["name"] for a in by_module["credential_type"]] == ["Exchange report upload", "Exchange Edge local account"]
    assert [a["name"] for a in by_module["credential"]] == ["Exchange WinRM", "Exchange Edge servers"]
    edge = _named(by_module["credential"], "Exchange Edge servers")
    assert edge["credential_type"] == "Exchange Edge local account"
    assert edge["inputs"] == {"username": "EDGE01\\exadmin", "password": EDGE_SECRET}
    # Wherever the domain account goes (every template reaches Exchange servers,
    # so an Edge server may be among them), and only there.
    reaching = {t["name"] for t in config["controller_templates"] if "Exchange WinRM" in t["credentials"]}
    assert reaching == {t["name"] for t in config["controller_templates"]} and len(reaching) == 7
    for template in by_module["job_template"]:
        expected = ["Exchange WinRM", "Exchange Edge servers"] if template["name"] in reaching else ["Exchange WinRM"]
        assert template["credentials"] == expected, template["name"]
    # Workflows, schedules, the project and the inventory source carry no credential of it.
    for module in ("workflow_job_template", "workflow_job_template_node", "schedule", "project", "inventory_source"):
        assert "Exchange Edge servers" not in json.dumps(by_module.get(module, [])), module
    # Given again, nothing changes.
    second, _calls = _configure(tmp_path, "-e", "awx_exchange_winrm_password=%s" % SECRET, *EDGE, run="2")
    assert second.returncode == 0 and _changed(second) == 0, second.stdout[-3000:]


def test_an_edge_password_without_its_username_is_refused_before_awx_is_touched(tmp_path):
    result, calls = _configure(tmp_path, "-e", "awx_exchange_winrm_password=%s" % SECRET,
                               "-e", "awx_exchange_edge_password=%s" % EDGE_SECRET)
    assert result.returncode != 0
    assert "With awx_exchange_edge_password, set awx_exchange_edge_username too" in result.stdout
    assert EDGE_SECRET not in result.stdout + result.stderr
    assert calls == []


def test_a_missing_estate_playbook_skips_its_template_and_schedule(tmp_path):
    import shutil
    estate = tmp_path / "estate"
    shutil.copytree(ESTATE, str(estate))
    os.remove(str(estate / "playbooks" / "eems_watch.yml"))
    result, calls = _configure(tmp_path, "-e", "awx_exchange_winrm_password=%s" % SECRET,
                               "-e", "exchange_awx_project_root=%s" % estate)
    assert result.returncode == 0, result.stdout[-3000:]
    by_module = _by_module(calls)
    assert "Exchange - EEMS watch" not in {a["name"] for a in by_module["job_template"]}
    assert "Exchange - Hourly EEMS watch" not in {a["name"] for a in by_module["schedule"]}
    assert len(by_module["schedule"]) == 3 and len(by_module["workflow_job_template"]) == 1
    assert "Skipped until the playbook exists in the project: playbooks/eems_watch.yml" in result.stdout


def test_configure_without_the_password_says_how_to_give_it(tmp_path):
    result, calls = _configure(tmp_path)
    assert result.returncode != 0
    assert "Set awx_exchange_winrm_password" in result.stdout
    assert calls == []


def test_configure_pointed_at_no_estate_says_so(tmp_path):
    result, calls = _configure(tmp_path, "-e", "awx_exchange_winrm_password=x",
                               "-e", "exchange_awx_project_root=%s" % tmp_path)
    assert result.returncode != 0
    assert "has no inventory/hosts.yml: point it at a checkout of the estate's repository" in result.stdout
    assert calls == []


def test_a_workflow_whose_template_waits_gets_no_nodes_and_no_schedule(tmp_path):
    import shutil
    estate = tmp_path / "estate"
    shutil.copytree(ESTATE, str(estate))
    os.remove(str(estate / "playbooks" / "patch.yml"))
    result, calls = _configure(tmp_path, "-e", "awx_exchange_winrm_password=%s" % SECRET,
                               "-e", "exchange_awx_project_root=%s" % estate)
    assert result.returncode == 0, result.stdout[-3000:]
    by_module = _by_module(calls)
    assert "workflow_job_template" not in by_module and "workflow_job_template_node" not in by_module
    assert "Exchange - Monthly round, Saturday after Patch Tuesday" not in {a["name"] for a in by_module["schedule"]}
    assert "Exchange - Nightly audit" in {a["name"] for a in by_module["schedule"]}
