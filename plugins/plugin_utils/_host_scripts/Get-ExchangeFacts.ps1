# Collects, in one call, everything the audit and the later steps need about
# one Exchange server. Reads only; changes nothing.
# Local facts (file versions, registry, services, IIS, events) never need
# Exchange cmdlets. Exchange facts come from an explicit session to the
# server's own /PowerShell endpoint, opened with the credential sent as data,
# because a WinRM network logon cannot pass its own credential on (second hop).
# Values from the Exchange session may be live objects, deserialized property
# bags or text, and the EEMS properties (MitigationsEnabled/Blocked/Applied,
# DataCollectionEnabled) exist only from the September 2021 CUs on: they are
# read through the shared helpers and answered as null where a build lacks them.
# An Edge Transport server (edge_transport, from the registry, known before
# any session) answers with its local cmdlets (see Open-ExchangeSession): it
# has no mailbox role, no DAG and no IIS (CSS-Exchange HealthChecker skips its
# IIS checks "on an Edge Server", Analyzer/Invoke-AnalyzerIISInformation.ps1),
# and its organisation settings are a copy in AD LDS, not the organisation's
# (HealthChecker reads EEMS only where IsEdgeServer is false), so those are
# left null.
# setup_prerequisites: the Visual C++ runtimes and UCMA that Setup's
# readiness check needs (Get-SetupPrerequisiteState); read here so the audit
# and preflight both see them.
# Uses: Get-EemsSetting, Get-ExSetupVersion, Get-HostFqdn, Get-IdentityName, Get-PropertyValue, Get-SetupPrerequisiteState, Get-SetupWatermark, Get-UrlRewriteState, Open-ExchangeSession, Read-MitigationServiceEvent, Test-EdgeTransportRole
param($HostArgs)

function Get-InstalledExchangeUpdate {
    # Exchange SUs are MSP patches of the Exchange product; their display names
    # name the KB. The product code is the same for 2016, 2019 and SE.
    $patchRoot = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UserData\S-1-5-18\Products\AE1D439464EB1B8488741FFA028E291C\Patches'
    $updates = @()
    if (Test-Path -LiteralPath $patchRoot) {
        foreach ($patch in Get-ChildItem -LiteralPath $patchRoot) {
            $properties = Get-ItemProperty -LiteralPath $patch.PSPath
            $updates += [ordered]@{ display_name = Get-PropertyValue -InputObject $properties -Name 'DisplayName'; installed = [string](Get-PropertyValue -InputObject $properties -Name 'Installed') }
        }
    }
    $updates
}

function Get-PendingRebootReason {
    $reasons = @()
    if (Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') {
        $reasons += 'ComponentBasedServicing'
    }
    if (Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') {
        $reasons += 'WindowsUpdate'
    }
    # Exchange Setup refuses to start while this flag says an update waits
    # for a restart; CSS-Exchange's Shared/Get-ServerRebootPending.ps1 reads
    # it the same way (a Flags value under the key means pending).
    $updateExe = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Updates\UpdateExeVolatile' -ErrorAction SilentlyContinue
    if ($null -ne (Get-PropertyValue -InputObject $updateExe -Name 'Flags')) {
        $reasons += 'UpdateExeVolatile'
    }
    $sessionManager = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -ErrorAction SilentlyContinue
    if ($null -ne $sessionManager -and $sessionManager.PSObject.Properties.Name -contains 'PendingFileRenameOperations') {
        $reasons += 'PendingFileRenameOperations'
    }
    $reasons
}

function Get-RewriteRule {
    # Inbound and outbound rules on Default Web Site and every application
    # below it, with the <remove>/<clear/> entries that cancel inherited rules.
    Import-Module -Name WebAdministration -ErrorAction Stop
    $rules = @()
    $locations = @('IIS:\Sites\Default Web Site') + @(Get-WebApplication -Site 'Default Web Site' | ForEach-Object { 'IIS:\Sites\Default Web Site' + $_.Path })
    foreach ($location in $locations) {
        $path = $location.Substring('IIS:\Sites\Default Web Site'.Length)
        foreach ($section in 'system.webServer/rewrite/rules', 'system.webServer/rewrite/outboundRules') {
            $direction = if ($section -like '*outbound*') { 'outbound' } else { 'inbound' }
            $collection = Get-WebConfiguration -PSPath $location -Filter $section
            if ($null -eq $collection) {
                continue
            }
            foreach ($rule in $collection.Collection) {
                $rules += [ordered]@{
                    name = [string]$rule.name
                    site = 'Default Web Site'
                    path = $path
                    direction = $direction
                    enabled = [bool]$rule.enabled
                    match_url = [string]$rule.match.url
                    input = [string]$rule.conditions.Collection[0].input
                    pattern = [string]$rule.conditions.Collection[0].pattern
                    action = [string]$rule.action.type
                }
            }
        }
    }
    $rules
}

function Get-ExchangeOrganizationFact {
    param([string]$Server, [bool]$Edge)
    $exchangeServer = Get-ExchangeServer -Identity $Server
    $organization = $null
    $mailboxServer = $null
    if (-not $Edge) {
        $organization = Get-OrganizationConfig
        $mailboxServer = Get-MailboxServer -Identity $Server -ErrorAction SilentlyContinue
    }
    $components = @()
    foreach ($component in Get-ServerComponentState -Identity $Server) {
        $components += [ordered]@{ component = [string](Get-PropertyValue -InputObject $component -Name 'Component'); state = [string](Get-PropertyValue -InputObject $component -Name 'State') }
    }
    $copies = @()
    $copyStatus = @()
    if (-not $Edge) {
        $copyStatus = @(Get-MailboxDatabaseCopyStatus -Server $Server -ErrorAction SilentlyContinue)
    }
    foreach ($copy in $copyStatus) {
        $status = [string](Get-PropertyValue -InputObject $copy -Name 'Status')
        $copies += [ordered]@{
            database = [string](Get-PropertyValue -InputObject $copy -Name 'DatabaseName')
            status = $status
            active = ($status -eq 'Mounted')
            activation_preference = [int](Get-PropertyValue -InputObject $copy -Name 'ActivationPreference' -Default 0)
            copy_queue_length = [int](Get-PropertyValue -InputObject $copy -Name 'CopyQueueLength' -Default 0)
            replay_queue_length = [int](Get-PropertyValue -InputObject $copy -Name 'ReplayQueueLength' -Default 0)
        }
    }
    # ServerRole arrives as an enum or its text "Mailbox, ClientAccess"; an
    # Edge Transport server's is "Edge" (CSS-Exchange ExchangeLogCollector,
    # ExchangeServerInfo/Get-ExchangeBasicServerObject.ps1 compares -eq "Edge").
    $roles = @(([string](Get-PropertyValue -InputObject $exchangeServer -Name 'ServerRole')).Split(',') | ForEach-Object { $_.Trim() } | Where-Object { $_ })
    $dag = $null
    if ($null -ne $mailboxServer) {
        $dag = Get-IdentityName -Value (Get-PropertyValue -InputObject $mailboxServer -Name 'DatabaseAvailabilityGroup')
    }
    if ($Edge) {
        $fact = [ordered]@{
            organization_name = $null
            organization_mitigations_enabled = $null
            server_mitigations_enabled = $null
            mitigations_blocked = $null
            mitigations_applied = $null
            data_collection_enabled = $null
            internet_web_proxy = $null
        }
    }
    else {
        $fact = Get-EemsSetting -ExchangeServer $exchangeServer -Organization $organization
    }
    $more = [ordered]@{
        # The text form "Version 15.2 (Build 1544.4)", whatever form arrived.
        admin_display_version = [string](Get-PropertyValue -InputObject $exchangeServer -Name 'AdminDisplayVersion')
        roles = $roles
        edition = [string](Get-PropertyValue -InputObject $exchangeServer -Name 'Edition')
        site = [string](Get-PropertyValue -InputObject $exchangeServer -Name 'Site')
        dag = $dag
        component_states = $components
        database_copies = $copies
    }
    foreach ($key in $more.Keys) {
        $fact[$key] = $more[$key]
    }
    $fact
}

$os = Get-CimInstance -ClassName Win32_OperatingSystem
$systemDrive = Get-CimInstance -ClassName Win32_LogicalDisk -Filter ("DeviceID='{0}'" -f $env:SystemDrive)
$fqdn = Get-HostFqdn
$ndp = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full' -ErrorAction SilentlyContinue
$rebootReasons = @(Get-PendingRebootReason)
$dotnetRelease = Get-PropertyValue -InputObject $ndp -Name 'Release'
if ($null -ne $dotnetRelease) {
    $dotnetRelease = [int]$dotnetRelease
}
$emsArgs = Get-PropertyValue -InputObject $HostArgs -Name 'ems'
$edge = [bool](Test-EdgeTransportRole)
$emsMode = [string](Get-PropertyValue -InputObject $emsArgs -Name 'mode' -Default 'auto')
if ($emsMode -eq 'auto') {
    $emsMode = if ($edge) { 'local' } else { 'remote' }
}
$services = @()
foreach ($service in Get-Service -Name 'MSExchange*', 'W3SVC', 'WinRM' -ErrorAction SilentlyContinue) {
    $services += [ordered]@{ name = $service.Name; start_mode = [string]$service.StartType; state = [string]$service.Status }
}

$facts = [ordered]@{
    computer_name = $env:COMPUTERNAME
    fqdn = $fqdn
    edge_transport = $edge
    setup = Get-ExSetupVersion
    installed_updates = @(Get-InstalledExchangeUpdate)
    setup_watermark = Get-SetupWatermark
    os = [ordered]@{ caption = [string]$os.Caption; version = [string]$os.Version }
    dotnet_release = $dotnetRelease
    system_drive = $env:SystemDrive
    free_disk_gb = [math]::Round($systemDrive.FreeSpace / 1GB, 1)
    last_boot = $os.LastBootUpTime.ToUniversalTime().ToString('o')
    pending_reboot = [ordered]@{ pending = ($rebootReasons.Count -gt 0); reasons = $rebootReasons }
    services = $services
    url_rewrite = Get-UrlRewriteState
    setup_prerequisites = Get-SetupPrerequisiteState
    rewrite_rules = @()
    mitigation_events = @(Read-MitigationServiceEvent)
    ems = [ordered]@{ available = $false; mode = $emsMode; error = $null }
    exchange = $null
}
if ($edge) {
    # No IIS on Edge: no site to hold rewrite rules.
    $facts.rewrite_rules = $null
}
else {
    try {
        $facts.rewrite_rules = @(Get-RewriteRule)
    }
    catch {
        $facts.rewrite_rules = $null
    }
}

$session = $null
try {
    $session = Open-ExchangeSession -Ems $emsArgs -Fqdn $fqdn -CommandName 'Get-ExchangeServer', 'Get-OrganizationConfig', 'Get-ServerComponentState', 'Get-MailboxDatabaseCopyStatus', 'Get-MailboxServer'
    $facts.exchange = Get-ExchangeOrganizationFact -Server $env:COMPUTERNAME -Edge $edge
    $facts.ems.available = $true
}
catch {
    $facts.ems.error = $_.Exception.Message
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}

@{ changed = $false; data = $facts }
