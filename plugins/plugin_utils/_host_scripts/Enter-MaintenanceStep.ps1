# Applies one step of taking this Exchange server out of service. The
# controller sends the steps one at a time, in order, and reads the state
# back after each; a step already in place changes nothing.
# drain_transport       HubTransport Draining (the first step, and the claim
#                       other DAG members see)
# drain_um              UMCallRouter Draining (Exchange 2016; 2019 has no UM)
# redirect_messages     hand queued mail to another transport server
# suspend_cluster_node  pause this node in the DAG's cluster
# disable_high_availability  HighAvailability component Inactive
# block_activation      move active databases away and block activation here,
#                       after recording the policy the server had
# move_cluster_group    hand the cluster core group (the PAM) to another node
# server_offline        ServerWideOffline Inactive
# Microsoft Learn, "Manage database availability groups" > "Performing
# maintenance on DAG members" (Exchange 2016/2019): the UMCallRouter drain on
# 2016, and what StartDagServerMaintenance.ps1 does - activation Blocked,
# HighAvailability Inactive with requester Maintenance (only where the
# component exists), node paused, active databases moved, and the default
# cluster group (so the PAM role) moved off the node that owns it.
# The policy before the block is kept in the registry of the server itself:
# it survives a lost controller, a new run from another controller (AWX) and
# the restarts of the install, and Exit-MaintenanceStep reads it back.
# Uses: ConvertTo-NullableBoolean, Get-ComponentValue, Get-PropertyValue, Open-ExchangeSession
param($HostArgs)

$step = [string](Get-PropertyValue -InputObject $HostArgs -Name 'step')
if (@('drain_transport', 'drain_um', 'redirect_messages', 'suspend_cluster_node', 'disable_high_availability', 'block_activation', 'move_cluster_group', 'server_offline') -notcontains $step) {
    throw ('Unknown maintenance step {0}.' -f $step)
}
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$fqdn = '{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain
$name = $env:COMPUTERNAME
$changed = $false
$detail = $null
$recordKey = 'HKLM:\SOFTWARE\onprem.exchange\Maintenance'
$activationBefore = $null
$session = Open-ExchangeSession -Ems (Get-PropertyValue -InputObject $HostArgs -Name 'ems') -Fqdn $fqdn -CommandName 'Get-ServerComponentState', 'Set-ServerComponentState', 'Get-MailboxServer', 'Set-MailboxServer', 'Redirect-Message'
try {
    switch ($step) {
        'drain_transport' {
            if ((Get-ComponentValue -Identity $name -Component 'HubTransport') -eq 'Active') {
                Set-ServerComponentState -Identity $name -Component HubTransport -State Draining -Requester Maintenance
                # Transport reads its component state at start-up. An Edge
                # Transport server has no Front End Transport service, so
                # only the transport services present are restarted.
                Get-Service -Name MSExchangeTransport, MSExchangeFrontEndTransport -ErrorAction SilentlyContinue | Restart-Service -Force
                $changed = $true
            }
            $detail = Get-ComponentValue -Identity $name -Component 'HubTransport'
        }
        'drain_um' {
            if ((Get-ComponentValue -Identity $name -Component 'UMCallRouter') -eq 'Active') {
                Set-ServerComponentState -Identity $name -Component UMCallRouter -State Draining -Requester Maintenance
                $changed = $true
            }
            $detail = Get-ComponentValue -Identity $name -Component 'UMCallRouter'
        }
        'disable_high_availability' {
            if ((Get-ComponentValue -Identity $name -Component 'HighAvailability') -eq 'Active') {
                Set-ServerComponentState -Identity $name -Component HighAvailability -State Inactive -Requester Maintenance
                $changed = $true
            }
            $detail = Get-ComponentValue -Identity $name -Component 'HighAvailability'
        }
        'move_cluster_group' {
            $target = [string](Get-PropertyValue -InputObject $HostArgs -Name 'target')
            if (-not $target) {
                throw 'move_cluster_group needs a target node.'
            }
            Import-Module -Name FailoverClusters -ErrorAction Stop
            # Local cluster cmdlets hand back live objects; OwnerNode is a ClusterNode.
            $owner = [string](Get-ClusterGroup -Name 'Cluster Group').OwnerNode.Name
            if ($owner -eq $name) {
                Move-ClusterGroup -Name 'Cluster Group' -Node $target | Out-Null
                $changed = $true
            }
            $detail = [string](Get-ClusterGroup -Name 'Cluster Group').OwnerNode.Name
        }
        'redirect_messages' {
            $target = [string](Get-PropertyValue -InputObject $HostArgs -Name 'target')
            if (-not $target) {
                throw 'redirect_messages needs a target server.'
            }
            Redirect-Message -Server $fqdn -Target $target -Confirm:$false
            $changed = $true
            $detail = $target
        }
        'suspend_cluster_node' {
            Import-Module -Name FailoverClusters -ErrorAction Stop
            $node = Get-ClusterNode -Name $name
            if ([string]$node.State -eq 'Up') {
                Suspend-ClusterNode -Name $name | Out-Null
                $changed = $true
            }
            $detail = [string](Get-ClusterNode -Name $name).State
        }
        'block_activation' {
            $mailbox = Get-MailboxServer -Identity $name
            # The flag may arrive as text; [bool]'False' would be true.
            $moveNow = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $mailbox -Name 'DatabaseCopyActivationDisabledAndMoveNow')
            $policyNow = [string](Get-PropertyValue -InputObject $mailbox -Name 'DatabaseCopyAutoActivationPolicy')
            if (Test-Path -Path $recordKey) {
                $activationBefore = [string](Get-PropertyValue -InputObject (Get-ItemProperty -Path $recordKey -ErrorAction SilentlyContinue) -Name 'ActivationPolicyBefore')
            }
            if (-not $activationBefore) {
                # A record already there is from an earlier, unfinished entry:
                # it holds the policy from before, not the Blocked set since.
                if (-not (Test-Path -Path $recordKey)) {
                    New-Item -Path $recordKey -Force | Out-Null
                }
                New-ItemProperty -Path $recordKey -Name 'ActivationPolicyBefore' -Value $policyNow -PropertyType String -Force | Out-Null
                $activationBefore = $policyNow
            }
            if (-not $moveNow -or $policyNow -ne 'Blocked') {
                # MoveNow makes Active Manager move the active copies away at once.
                Set-MailboxServer -Identity $name -DatabaseCopyActivationDisabledAndMoveNow $true -DatabaseCopyAutoActivationPolicy Blocked
                $changed = $true
            }
            $detail = [string](Get-PropertyValue -InputObject (Get-MailboxServer -Identity $name) -Name 'DatabaseCopyAutoActivationPolicy')
        }
        'server_offline' {
            if ((Get-ComponentValue -Identity $name -Component 'ServerWideOffline') -eq 'Active') {
                Set-ServerComponentState -Identity $name -Component ServerWideOffline -State Inactive -Requester Maintenance
                $changed = $true
            }
            $detail = Get-ComponentValue -Identity $name -Component 'ServerWideOffline'
        }
    }
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}
@{ changed = $changed; data = [ordered]@{ step = $step; detail = $detail; activation_before = $activationBefore }; steps = @([ordered]@{ name = $step; changed = $changed; detail = $detail }) }
