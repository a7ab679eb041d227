# Applies one step of putting this Exchange server back in service, the
# reverse of Enter-MaintenanceStep. The controller sends the steps one at a
# time, in order, and reads the state back after each; a step already in
# place changes nothing.
# server_online         ServerWideOffline Active
# resume_cluster_node   resume this node in the DAG's cluster
# enable_high_availability  HighAvailability component Active
# allow_activation      put back the activation policy recorded by
#                       Enter-MaintenanceStep before it blocked activation
#                       (Blocked included, for a lagged member), else the
#                       policy given; then forget the record
# resume_um             UMCallRouter Active (only after our Draining)
# resume_transport      HubTransport Active (the last step: it releases the
#                       claim other DAG members see)
# Uses: ConvertTo-NullableBoolean, Get-ComponentValue, Get-PropertyValue, Open-ExchangeSession
param($HostArgs)

$step = [string](Get-PropertyValue -InputObject $HostArgs -Name 'step')
if (@('server_online', 'resume_cluster_node', 'enable_high_availability', 'allow_activation', 'resume_um', 'resume_transport') -notcontains $step) {
    throw ('Unknown maintenance step {0}.' -f $step)
}
$policy = [string](Get-PropertyValue -InputObject $HostArgs -Name 'activation_policy')
if (@('Unrestricted', 'IntrasiteOnly') -notcontains $policy) {
    $policy = 'Unrestricted'
}
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$fqdn = '{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain
$name = $env:COMPUTERNAME
$changed = $false
$detail = $null
$recordKey = 'HKLM:\SOFTWARE\onprem.exchange\Maintenance'
$activationBefore = $null
$session = Open-ExchangeSession -Ems (Get-PropertyValue -InputObject $HostArgs -Name 'ems') -Fqdn $fqdn -CommandName 'Get-ServerComponentState', 'Set-ServerComponentState', 'Get-MailboxServer', 'Set-MailboxServer'
try {
    switch ($step) {
        'server_online' {
            if ((Get-ComponentValue -Identity $name -Component 'ServerWideOffline') -ne 'Active') {
                Set-ServerComponentState -Identity $name -Component ServerWideOffline -State Active -Requester Maintenance
                $changed = $true
            }
            $detail = Get-ComponentValue -Identity $name -Component 'ServerWideOffline'
        }
        'resume_cluster_node' {
            Import-Module -Name FailoverClusters -ErrorAction Stop
            if ([string](Get-ClusterNode -Name $name).State -eq 'Paused') {
                Resume-ClusterNode -Name $name | Out-Null
                $changed = $true
            }
            $detail = [string](Get-ClusterNode -Name $name).State
        }
        'enable_high_availability' {
            if ((Get-ComponentValue -Identity $name -Component 'HighAvailability') -ne 'Active') {
                Set-ServerComponentState -Identity $name -Component HighAvailability -State Active -Requester Maintenance
                $changed = $true
            }
            $detail = Get-ComponentValue -Identity $name -Component 'HighAvailability'
        }
        'resume_um' {
            if ((Get-ComponentValue -Identity $name -Component 'UMCallRouter') -eq 'Draining') {
                Set-ServerComponentState -Identity $name -Component UMCallRouter -State Active -Requester Maintenance
                $changed = $true
            }
            $detail = Get-ComponentValue -Identity $name -Component 'UMCallRouter'
        }
        'allow_activation' {
            $mailbox = Get-MailboxServer -Identity $name
            # The flag may arrive as text; [bool]'False' would be true.
            $moveNow = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $mailbox -Name 'DatabaseCopyActivationDisabledAndMoveNow')
            $policyNow = [string](Get-PropertyValue -InputObject $mailbox -Name 'DatabaseCopyAutoActivationPolicy')
            if (Test-Path -Path $recordKey) {
                $activationBefore = [string](Get-PropertyValue -InputObject (Get-ItemProperty -Path $recordKey -ErrorAction SilentlyContinue) -Name 'ActivationPolicyBefore')
            }
            $restore = $policy
            if (@('Unrestricted', 'IntrasiteOnly', 'Blocked') -contains $activationBefore) {
                $restore = $activationBefore
            }
            if ($moveNow -or ($activationBefore -and $policyNow -ne $restore) -or (-not $activationBefore -and $policyNow -eq 'Blocked')) {
                Set-MailboxServer -Identity $name -DatabaseCopyActivationDisabledAndMoveNow $false -DatabaseCopyAutoActivationPolicy $restore
                $changed = $true
            }
            if ($activationBefore) {
                # Restored: the record is spent.
                Remove-ItemProperty -Path $recordKey -Name 'ActivationPolicyBefore' -ErrorAction SilentlyContinue
                $changed = $true
            }
            $detail = [string](Get-PropertyValue -InputObject (Get-MailboxServer -Identity $name) -Name 'DatabaseCopyAutoActivationPolicy')
        }
        'resume_transport' {
            if ((Get-ComponentValue -Identity $name -Component 'HubTransport') -ne 'Active') {
                Set-ServerComponentState -Identity $name -Component HubTransport -State Active -Requester Maintenance
                # Edge has no Front End Transport service: restart those present.
                Get-Service -Name MSExchangeTransport, MSExchangeFrontEndTransport -ErrorAction SilentlyContinue | Restart-Service -Force
                $changed = $true
            }
            $detail = Get-ComponentValue -Identity $name -Component 'HubTransport'
        }
    }
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}
@{ changed = $changed; data = [ordered]@{ step = $step; detail = $detail; activation_before = $activationBefore }; steps = @([ordered]@{ name = $step; changed = $changed; detail = $detail }) }
