# Copyright: onprem.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # Options of every module that runs Exchange cmdlets on the host.
    DOCUMENTATION = r"""
options:
  ems_mode:
    description:
      - How the host script reaches the Exchange cmdlets.
      - C(auto) is C(remote) on Mailbox servers and the local Edge management snap-ins on an Edge Transport
        server, which has no C(/PowerShell) endpoint (the host script tells Edge by its role's registry key).
      - C(remote) opens a session to the server's own C(/PowerShell) endpoint with an explicit
        credential. This is the supported way, and the only one that works over a WinRM network
        logon, which cannot pass its own credential on (the second hop).
      - C(snapin) loads the Exchange snap-in in the WinRM session. Microsoft does not support it
        and it needs CredSSP or Kerberos delegation; use it only when you know why. On an Edge Transport
        server it loads the Edge snap-ins, as C(auto) does.
      - C(remote) on an Edge Transport server fails with a message saying so.
    type: str
    choices: [auto, remote, snapin]
    default: auto
  ems_username:
    description:
      - Account for the Exchange Management Shell session, for example C(CONTOSO\exadmin).
      - Defaults to the connection's user (C(ansible_user)).
    type: str
  ems_password:
    description:
      - Password of O(ems_username). Sent to the host as data on stdin, never on a command line,
        and never returned or logged.
      - Defaults to the connection's password (C(ansible_password)).
    type: str
notes:
  - The Exchange account needs at least the View-Only Organization Management role to read, and
    Organization Management to change organisation settings.
"""
