# Reads everything the DAG gate and the maintenance procedure decide on, as it
# is now: this server's component states, cluster node, activation policy,
# transport queues and active databases; every copy of its databases; the
# other DAG members' maintenance markers; and the other transport servers of
# its site (where queued mail can go). Reads only.
# Exchange cmdlets come from an explicit session to the server's own
# /PowerShell endpoint opened with the credential sent as data (the second
# hop); the cluster is read locally, which needs no delegation.
# Uses: Open-ExchangeSession
param($HostArgs)

function Get-ComponentMap {
    param([string]$Identity)
    $map = [ordered]@{}
    foreach ($component in Get-ServerComponentState -Identity $Identity) {
        $map[[string]$component.Component] = [string]$component.State
    }
    $map
}

$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$fqdn = '{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain
$name = $env:COMPUTERNAME
$session = Open-ExchangeSession -Ems $HostArgs.ems -Fqdn $fqdn -CommandName 'Get-ExchangeServer', 'Get-MailboxServer', 'Get-ServerComponentState', 'Get-MailboxDatabase', 'Get-MailboxDatabaseCopyStatus', 'Get-DatabaseAvailabilityGroup', 'Get-Queue'
try {
    $exchangeServer = Get-ExchangeServer -Identity $name
    $mailboxServer = Get-MailboxServer -Identity $name
    $dag = $null
    if ($mailboxServer.DatabaseAvailabilityGroup) {
        $dag = [string]$mailboxServer.DatabaseAvailabilityGroup
    }
    $clusterNodes = @{}
    if ($dag) {
        Import-Module -Name FailoverClusters -ErrorAction Stop
        foreach ($node in Get-ClusterNode) {
            $clusterNodes[([string]$node.Name).ToUpperInvariant()] = [string]$node.State
        }
    }

    # Shadow redundancy copies and the poison queue never drain by themselves.
    $queueMessages = 0
    foreach ($queue in Get-Queue -Server $fqdn -ErrorAction Stop) {
        if ([string]$queue.DeliveryType -ne 'ShadowRedundancy' -and [string]$queue.Identity -notlike '*\Poison') {
            $queueMessages += [int]$queue.MessageCount
        }
    }

    $databases = @()
    $activeCopies = @()
    foreach ($database in Get-MailboxDatabase -Server $name) {
        $copies = @()
        $activeServer = $null
        foreach ($copy in Get-MailboxDatabaseCopyStatus -Identity ([string]$database.Name)) {
            $copies += [ordered]@{ server = ([string]$copy.MailboxServer).ToUpperInvariant(); status = [string]$copy.Status; activation_preference = [int]$copy.ActivationPreference }
            if ($copy.ActiveDatabaseCopy) {
                $activeServer = ([string]$copy.ActiveDatabaseCopy).ToUpperInvariant()
            }
        }
        if ($activeServer -eq $name.ToUpperInvariant()) {
            $activeCopies += [string]$database.Name
        }
        $databases += [ordered]@{ name = [string]$database.Name; active_server = $activeServer; copies = $copies }
    }

    $members = @()
    if ($dag) {
        foreach ($member in (Get-DatabaseAvailabilityGroup -Identity $dag).Servers) {
            $memberName = ([string]$member.Name).ToUpperInvariant()
            if ($memberName -eq $name.ToUpperInvariant()) {
                continue
            }
            $memberMailbox = Get-MailboxServer -Identity $memberName
            $members += [ordered]@{
                name = $memberName
                components = Get-ComponentMap -Identity $memberName
                cluster_node = $clusterNodes[$memberName]
                auto_activation = [string]$memberMailbox.DatabaseCopyAutoActivationPolicy
                move_now = [bool]$memberMailbox.DatabaseCopyActivationDisabledAndMoveNow
            }
        }
    }

    $transportServers = @()
    foreach ($other in Get-ExchangeServer | Where-Object { $_.IsHubTransportServer -and $_.Name -ne $name -and [string]$_.Site -eq [string]$exchangeServer.Site }) {
        $transportServers += [ordered]@{ name = ([string]$other.Name).ToUpperInvariant(); fqdn = [string]$other.Fqdn; components = Get-ComponentMap -Identity ([string]$other.Name) }
    }

    $state = [ordered]@{
        server = $name.ToUpperInvariant()
        fqdn = $fqdn
        dag = $dag
        components = Get-ComponentMap -Identity $name
        cluster_node = if ($dag) { $clusterNodes[$name.ToUpperInvariant()] } else { $null }
        auto_activation = [string]$mailboxServer.DatabaseCopyAutoActivationPolicy
        move_now = [bool]$mailboxServer.DatabaseCopyActivationDisabledAndMoveNow
        queue_messages = $queueMessages
        active_copies = $activeCopies
        databases = $databases
        members = $members
        transport_servers = $transportServers
    }
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}
@{ changed = $false; data = $state }
