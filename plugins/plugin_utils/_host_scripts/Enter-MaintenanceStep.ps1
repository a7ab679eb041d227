# Applies one step of taking this Exchange server out of service. The
# controller sends the steps one at a time, in order, and reads the state
# back after each; a step already in place changes nothing.
# drain_transport       HubTransport Draining (the first step, and the claim
#                       other DAG members see)
# redirect_messages     hand queued mail to another transport server
# suspend_cluster_node  pause this node in the DAG's cluster
# block_activation      move active databases away and block activation here
# server_offline        ServerWideOffline Inactive
# Uses: ConvertTo-NullableBoolean, Get-ComponentValue, Get-PropertyValue, Open-ExchangeSession
param($HostArgs)

$step = [string](Get-PropertyValue -InputObject $HostArgs -Name 'step')
if (@('drain_transport', 'redirect_messages', 'suspend_cluster_node', 'block_activation', 'server_offline') -notcontains $step) {
    throw ('Unknown maintenance step {0}.' -f $step)
}
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$fqdn = '{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain
$name = $env:COMPUTERNAME
$changed = $false
$detail = $null
$session = Open-ExchangeSession -Ems (Get-PropertyValue -InputObject $HostArgs -Name 'ems') -Fqdn $fqdn -CommandName 'Get-ServerComponentState', 'Set-ServerComponentState', 'Get-MailboxServer', 'Set-MailboxServer', 'Redirect-Message'
try {
    switch ($step) {
        'drain_transport' {
            if ((Get-ComponentValue -Identity $name -Component 'HubTransport') -eq 'Active') {
                Set-ServerComponentState -Identity $name -Component HubTransport -State Draining -Requester Maintenance
                # Transport reads its component state at start-up.
                Restart-Service -Name MSExchangeTransport, MSExchangeFrontEndTransport -Force
                $changed = $true
            }
            $detail = Get-ComponentValue -Identity $name -Component 'HubTransport'
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
            if (-not $moveNow -or [string](Get-PropertyValue -InputObject $mailbox -Name 'DatabaseCopyAutoActivationPolicy') -ne 'Blocked') {
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
@{ changed = $changed; data = [ordered]@{ step = $step; detail = $detail }; steps = @([ordered]@{ name = $step; changed = $changed; detail = $detail }) }
