# Reads everything the DAG gate and the maintenance procedure decide on, as it
# is now: this server's component states, cluster node, activation policy,
# transport queues and active databases; every copy of its databases; the
# other DAG members' maintenance markers; and the other transport servers of
# its site (where queued mail can go). Reads only.
# Exchange cmdlets come from an explicit session to the server's own
# /PowerShell endpoint opened with the credential sent as data (the second
# hop); the cluster is read locally, which needs no delegation.
# Identities (a DAG's Servers items, a mailbox server's DAG, a copy's server)
# may arrive as objects, property bags or text: Get-IdentityName reads each.
# An Edge Transport server (edge_transport) has no mailbox role, databases or
# DAG, and its local cmdlets see no other Exchange server: only its own
# component states and queues are read there (CSS-Exchange HealthChecker
# likewise skips Get-MailboxServer where IsEdgeServer is true,
# DataCollection/ExchangeInformation/Invoke-JobExchangeInformationCmdlet.ps1).
# Uses: ConvertTo-NullableBoolean, Get-HostFqdn, Get-IdentityName, Get-PropertyValue, Open-ExchangeSession, Test-EdgeTransportRole
param($HostArgs)

function Get-ComponentMap {
    param([string]$Identity)
    $map = [ordered]@{}
    foreach ($component in Get-ServerComponentState -Identity $Identity) {
        $map[[string](Get-PropertyValue -InputObject $component -Name 'Component')] = [string](Get-PropertyValue -InputObject $component -Name 'State')
    }
    $map
}

$fqdn = Get-HostFqdn
$name = $env:COMPUTERNAME
$edge = [bool](Test-EdgeTransportRole)
$session = Open-ExchangeSession -Ems (Get-PropertyValue -InputObject $HostArgs -Name 'ems') -Fqdn $fqdn -CommandName 'Get-ExchangeServer', 'Get-MailboxServer', 'Get-ServerComponentState', 'Get-MailboxDatabase', 'Get-MailboxDatabaseCopyStatus', 'Get-DatabaseAvailabilityGroup', 'Get-Queue'
try {
    $exchangeServer = Get-ExchangeServer -Identity $name
    $mailboxServer = $null
    if (-not $edge) {
        $mailboxServer = Get-MailboxServer -Identity $name
    }
    $dag = Get-IdentityName -Value (Get-PropertyValue -InputObject $mailboxServer -Name 'DatabaseAvailabilityGroup')
    if (-not $dag) {
        $dag = $null
    }
    $clusterNodes = @{}
    $clusterGroupOwner = $null
    if ($dag) {
        Import-Module -Name FailoverClusters -ErrorAction Stop
        foreach ($node in Get-ClusterNode) {
            $clusterNodes[([string]$node.Name).ToUpperInvariant()] = [string]$node.State
        }
        # The core group's owner is the Primary Active Manager (Learn,
        # "Performing maintenance on DAG members"); a live local object.
        $clusterGroupOwner = ([string](Get-ClusterGroup -Name 'Cluster Group').OwnerNode.Name).ToUpperInvariant()
    }
    # What Enter-MaintenanceStep recorded before it blocked activation.
    $activationBefore = $null
    $recordKey = 'HKLM:\SOFTWARE\onprem.exchange\Maintenance'
    if (Test-Path -Path $recordKey) {
        $activationBefore = [string](Get-PropertyValue -InputObject (Get-ItemProperty -Path $recordKey -ErrorAction SilentlyContinue) -Name 'ActivationPolicyBefore')
        if (-not $activationBefore) {
            $activationBefore = $null
        }
    }

    # Shadow redundancy copies and the poison queue never drain by themselves.
    # On Edge the local Get-Queue reads this server's own queues.
    $queueMessages = 0
    $queues = if ($edge) { @(Get-Queue -ErrorAction Stop) } else { @(Get-Queue -Server $fqdn -ErrorAction Stop) }
    foreach ($queue in $queues) {
        if ([string]$queue.DeliveryType -ne 'ShadowRedundancy' -and [string]$queue.Identity -notlike '*\Poison') {
            $queueMessages += [int](Get-PropertyValue -InputObject $queue -Name 'MessageCount' -Default 0)
        }
    }

    $databases = @()
    $activeCopies = @()
    $mailboxDatabases = @()
    if (-not $edge) {
        $mailboxDatabases = @(Get-MailboxDatabase -Server $name)
    }
    foreach ($database in $mailboxDatabases) {
        $copies = @()
        $activeServer = $null
        foreach ($copy in Get-MailboxDatabaseCopyStatus -Identity ([string]$database.Name)) {
            $copyServer = [string](Get-IdentityName -Value (Get-PropertyValue -InputObject $copy -Name 'MailboxServer'))
            $copies += [ordered]@{ server = $copyServer.ToUpperInvariant(); status = [string](Get-PropertyValue -InputObject $copy -Name 'Status'); activation_preference = [int](Get-PropertyValue -InputObject $copy -Name 'ActivationPreference' -Default 0) }
            $activeCopy = Get-IdentityName -Value (Get-PropertyValue -InputObject $copy -Name 'ActiveDatabaseCopy')
            if ($activeCopy) {
                $activeServer = ([string]$activeCopy).ToUpperInvariant()
            }
        }
        if ($activeServer -eq $name.ToUpperInvariant()) {
            $activeCopies += [string]$database.Name
        }
        $databases += [ordered]@{ name = [string]$database.Name; active_server = $activeServer; copies = $copies }
    }

    $members = @()
    if ($dag) {
        $dagObject = Get-DatabaseAvailabilityGroup -Identity $dag
        foreach ($member in @(Get-PropertyValue -InputObject $dagObject -Name 'Servers')) {
            $memberName = ([string](Get-IdentityName -Value $member)).ToUpperInvariant()
            if (-not $memberName) {
                continue
            }
            if ($memberName -eq $name.ToUpperInvariant()) {
                continue
            }
            $memberMailbox = Get-MailboxServer -Identity $memberName
            $members += [ordered]@{
                name = $memberName
                components = Get-ComponentMap -Identity $memberName
                cluster_node = $clusterNodes[$memberName]
                auto_activation = [string](Get-PropertyValue -InputObject $memberMailbox -Name 'DatabaseCopyAutoActivationPolicy')
                move_now = [bool](ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $memberMailbox -Name 'DatabaseCopyActivationDisabledAndMoveNow'))
            }
        }
    }

    $transportServers = @()
    $site = [string](Get-PropertyValue -InputObject $exchangeServer -Name 'Site')
    $otherServers = @()
    if (-not $edge) {
        $otherServers = @(Get-ExchangeServer)
    }
    foreach ($other in $otherServers) {
        $otherName = [string](Get-PropertyValue -InputObject $other -Name 'Name')
        if (-not (ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $other -Name 'IsHubTransportServer')) -or $otherName -eq $name -or [string](Get-PropertyValue -InputObject $other -Name 'Site') -ne $site) {
            continue
        }
        $transportServers += [ordered]@{ name = $otherName.ToUpperInvariant(); fqdn = [string](Get-PropertyValue -InputObject $other -Name 'Fqdn'); components = Get-ComponentMap -Identity $otherName }
    }

    $state = [ordered]@{
        server = $name.ToUpperInvariant()
        fqdn = $fqdn
        edge_transport = $edge
        dag = $dag
        components = Get-ComponentMap -Identity $name
        cluster_node = if ($dag) { $clusterNodes[$name.ToUpperInvariant()] } else { $null }
        auto_activation = if ($edge) { $null } else { [string](Get-PropertyValue -InputObject $mailboxServer -Name 'DatabaseCopyAutoActivationPolicy') }
        move_now = [bool](ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $mailboxServer -Name 'DatabaseCopyActivationDisabledAndMoveNow'))
        activation_before = $activationBefore
        cluster_group_owner = $clusterGroupOwner
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
