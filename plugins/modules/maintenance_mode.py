# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only; the logic runs on the controller in plugins/action/maintenance_mode.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: maintenance_mode
short_description: Take an Exchange server out of service for patching, or put it back, behind a DAG gate
version_added: 0.2.0
description:
  - With O(state=present), runs the Exchange maintenance procedure in order, reading the state back after
    every step - drain HubTransport, redirect queued mail to another server, wait (bounded) for the queues to
    empty, suspend the DAG cluster node, move active database copies away and block activation, then set
    ServerWideOffline inactive.
  - With O(state=absent), the exact reverse - ServerWideOffline active, resume the cluster node, allow
    activation again, HubTransport active. Every exit step is attempted even when one fails.
  - Before a DAG member leaves service, a gate reads the real state of the DAG. It refuses (or waits up to
    O(gate_timeout)) while another member is claimed or in maintenance, is down or holds an unhealthy copy,
    or while a replicated database would keep fewer than O(min_healthy_copies) healthy copies. Because it reads
    the estate rather than remembering anything, it holds across separate runs, AWX job slices and crashed runs.
  - The gate claims first (draining transport, which every member can see), reads the DAG again and goes on
    only if no other member has claimed. When two claim at once, the lower server name keeps its claim and the
    other withdraws, so exactly one goes on.
  - Steps already in place are skipped; a second run reports C(changed=false).
options:
  state:
    description:
      - C(present) takes the server out of service; C(absent) puts it back.
    type: str
    choices: [present, absent]
    required: true
  min_healthy_copies:
    description:
      - No replicated database may be left with fewer healthy copies than this on the other members.
      - A two-member DAG needs C(1).
    type: int
    default: 2
  gate_timeout:
    description:
      - Seconds to wait for a closed DAG gate, re-reading the real state. C(0) refuses at once.
      - Set it above 0 when several members are patched in one run, so they queue behind each other.
    type: int
    default: 0
  queue_timeout:
    description:
      - Seconds to wait for the transport queues to empty after the redirect.
    type: int
    default: 600
  move_timeout:
    description:
      - Seconds to wait for the active database copies to move to other members.
    type: int
    default: 600
  redirect_to:
    description:
      - FQDN of the server that takes the queued mail. Default - another DAG member in service, else another
        transport server of the same site.
    type: str
  activation_policy:
    description:
      - Database copy auto-activation policy set when leaving maintenance, replacing the block this module set.
        A policy the module did not block is left as it is.
    type: str
    choices: [Unrestricted, IntrasiteOnly]
    default: Unrestricted
  poll_interval:
    description:
      - Seconds between reads while waiting for the gate, the queues or the database moves.
    type: float
    default: 5.0
extends_documentation_fragment:
  - action_common_attributes
  - onprem.exchange.ems
attributes:
  check_mode:
    support: full
    details: Reads the state and reports the steps a real run would take; a closed gate fails as the real run would.
  diff_mode:
    support: full
    details: The server's maintenance state before, and the phase after.
  platform:
    platforms: windows
notes:
  - Cluster cmdlets run locally on the server; Exchange cmdlets use the session described for O(ems_mode).
  - Active databases are not moved back when the server returns; redistribute them by activation preference
    afterwards if needed.
  - The gate's safety rests on every run reading the same component states. Where several domain controllers
    serve one site, Active Directory replication can delay a claim by seconds.
seealso:
  - module: onprem.exchange.update_install
  - module: onprem.exchange.build_facts
author:
  - onprem.exchange contributors (@onprem-exchange)
"""

EXAMPLES = r"""
- name: Take the server out of service, waiting up to an hour for the DAG gate
  onprem.exchange.maintenance_mode:
    state: present
    gate_timeout: 3600
  register: exchange_maintenance

- name: Say why the gate was closed
  ansible.builtin.debug:
    msg: "{{ exchange_maintenance.gate.reason }}"
  when: exchange_maintenance.gate is not none

- name: Put the server back in service
  onprem.exchange.maintenance_mode:
    state: absent
"""

RETURN = r"""
state:
  description: The server's maintenance state after the task (before it, in check mode).
  returned: always
  type: dict
  contains:
    in_maintenance:
      description: True when the whole procedure is in place (ServerWideOffline inactive).
      type: bool
      sample: true
    phase:
      description: C(in_service), C(claimed) (transport drained only) or C(in_maintenance).
      type: str
      sample: in_maintenance
    components:
      description: Component states by name.
      type: dict
      sample: {HubTransport: Inactive, ServerWideOffline: Inactive}
    cluster_node:
      description: C(Up), C(Paused) or C(Down); null on a server outside a DAG.
      type: str
      sample: Paused
    active_copies:
      description: Databases whose active copy is on this server.
      type: list
      elements: str
      sample: []
    auto_activation:
      description: The server's database copy auto-activation policy.
      type: str
      sample: Blocked
    queue_messages:
      description: Messages in the transport queues (shadow and poison queues excluded).
      type: int
      sample: 0
steps:
  description: Steps taken, in order, each with C(name), C(changed) and C(detail); in check mode the steps a real
    run would take. A withdrawn claim shows as C(drain_transport) followed by C(resume_transport).
  returned: always
  type: list
  elements: dict
  sample: [{name: drain_transport, changed: true, detail: Draining}, {name: server_offline, changed: true, detail: Inactive}]
connection_lost:
  description: True when the connection was lost (after short retries) once steps had been sent; the task then
    fails and RV(steps) lists what was sent, a step whose answer was lost with C(changed) null.
  returned: when the connection was lost after a step was sent
  type: bool
  sample: true
possibly_out_of_service:
  description: True when the task failed after steps were sent and the server may be out of service; read its
    state again, or run the task again, once it answers.
  returned: when the connection was lost after a step was sent
  type: bool
  sample: true
gate:
  description: The DAG gate as judged from the real state; null with O(state=absent).
  returned: always
  type: dict
  contains:
    open:
      description: Whether the gate was open.
      type: bool
      sample: true
    reason:
      description: Why it is open or closed, naming the members and databases concerned.
      type: str
      sample: "EX19C is in maintenance (HubTransport Inactive, ServerWideOffline Inactive)"
    dag:
      description: The DAG's name; null outside a DAG.
      type: str
      sample: DAG01
    members:
      description: Every other member with its C(phase), C(health) and maintenance C(markers).
      type: dict
      sample: {EX19C: {phase: in_service, health: healthy, markers: ""}}
    blockers:
      description: Reasons that keep the gate shut.
      type: list
      elements: str
      sample: []
    contenders:
      description: Other members holding only a claim.
      type: list
      elements: str
      sample: []
"""
