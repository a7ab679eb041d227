# Collects, in one call, everything the audit and the later steps need about
# one Exchange server. Reads only; changes nothing.
# Local facts (file versions, registry, services, IIS, events) never need
# Exchange cmdlets. Exchange facts come from an explicit session to the
# server's own /PowerShell endpoint, opened with the credential sent as data,
# because a WinRM network logon cannot pass its own credential on (second hop).
param($HostArgs)

function Get-ExSetupVersion {
    $setupKey = 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup'
    $installPath = (Get-ItemProperty -Path $setupKey -ErrorAction SilentlyContinue).MsiInstallPath
    $result = [ordered]@{ install_path = $installPath; exsetup_path = $null; exsetup_version = $null; msi_build = $null }
    if ($installPath) {
        $exSetup = Join-Path -Path $installPath -ChildPath 'Bin\ExSetup.exe'
        if (Test-Path -LiteralPath $exSetup) {
            $result.exsetup_path = $exSetup
            $result.exsetup_version = (Get-Item -LiteralPath $exSetup).VersionInfo.FileVersion
        }
        $setup = Get-ItemProperty -Path $setupKey
        $result.msi_build = '{0}.{1}.{2}.{3}' -f $setup.MsiProductMajor, $setup.MsiProductMinor, $setup.MsiBuildMajor, $setup.MsiBuildMinor
    }
    $result
}

function Get-InstalledExchangeUpdate {
    # Exchange SUs are MSP patches of the Exchange product; their display names
    # name the KB. The product code is the same for 2016, 2019 and SE.
    $patchRoot = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UserData\S-1-5-18\Products\AE1D439464EB1B8488741FFA028E291C\Patches'
    $updates = @()
    if (Test-Path -LiteralPath $patchRoot) {
        foreach ($patch in Get-ChildItem -LiteralPath $patchRoot) {
            $properties = Get-ItemProperty -LiteralPath $patch.PSPath
            $updates += [ordered]@{ display_name = $properties.DisplayName; installed = [string]$properties.Installed }
        }
    }
    $updates
}

function Get-SetupWatermark {
    # An interrupted Setup leaves a Watermark value under the role's key.
    $root = 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15'
    foreach ($role in 'MailboxRole', 'ClientAccessRole', 'UnifiedMessagingRole', 'HubTransportRole', 'FrontendTransportRole', 'CafeRole', 'AdminToolsRole', 'GatewayRole') {
        $values = Get-ItemProperty -Path (Join-Path -Path $root -ChildPath $role) -ErrorAction SilentlyContinue
        if ($null -ne $values -and $values.PSObject.Properties.Name -contains 'Watermark') {
            return [ordered]@{ role = $role; watermark = [string]$values.Watermark; action = [string]$values.Action }
        }
    }
    $null
}

function Get-PendingRebootReason {
    $reasons = @()
    if (Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') {
        $reasons += 'ComponentBasedServicing'
    }
    if (Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') {
        $reasons += 'WindowsUpdate'
    }
    $sessionManager = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -ErrorAction SilentlyContinue
    if ($null -ne $sessionManager -and $sessionManager.PSObject.Properties.Name -contains 'PendingFileRenameOperations') {
        $reasons += 'PendingFileRenameOperations'
    }
    $reasons
}

function Get-UrlRewriteState {
    $module = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\rewrite.dll'
    if (-not (Test-Path -LiteralPath $module)) {
        return [ordered]@{ installed = $false; version = $null }
    }
    $info = (Get-Item -LiteralPath $module).VersionInfo
    [ordered]@{ installed = $true; version = '{0}.{1}.{2}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart }
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

function Get-MitigationServiceEvent {
    $filter = @{ LogName = 'Application'; ProviderName = 'MSExchange Mitigation Service'; Id = 1005, 1006, 1008 }
    $events = @()
    foreach ($entry in Get-WinEvent -FilterHashtable $filter -MaxEvents 20 -ErrorAction SilentlyContinue) {
        $events += [ordered]@{
            id = $entry.Id
            level = [string]$entry.LevelDisplayName
            time = $entry.TimeCreated.ToUniversalTime().ToString('o')
            message = [string]$entry.Message
        }
    }
    $events
}

function Open-ExchangeSession {
    param($Ems, [string]$Fqdn)
    if ($Ems.mode -eq 'snapin') {
        # Unsupported by Microsoft; only used when the inventory opts in.
        Add-PSSnapin -Name Microsoft.Exchange.Management.PowerShell.SnapIn -ErrorAction Stop
        return $null
    }
    $sessionParameters = @{
        ConfigurationName = 'Microsoft.Exchange'
        ConnectionUri = 'http://{0}/PowerShell/' -f $Fqdn
        Authentication = 'Kerberos'
        ErrorAction = 'Stop'
    }
    if ($Ems.username -and $Ems.password) {
        $password = ConvertTo-SecureString -String ([string]$Ems.password) -AsPlainText -Force
        $sessionParameters.Credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList ([string]$Ems.username), $password
    }
    # Without a credential this fails with the second-hop error, which the
    # result then carries so the controller can explain it.
    $session = New-PSSession @sessionParameters
    $commands = 'Get-ExchangeServer', 'Get-OrganizationConfig', 'Get-ServerComponentState', 'Get-MailboxDatabaseCopyStatus', 'Get-MailboxServer'
    Import-PSSession -Session $session -CommandName $commands -DisableNameChecking -AllowClobber | Out-Null
    $session
}

function Get-ExchangeOrganizationFact {
    param([string]$Server)
    $exchangeServer = Get-ExchangeServer -Identity $Server
    $organization = Get-OrganizationConfig
    $mailboxServer = Get-MailboxServer -Identity $Server -ErrorAction SilentlyContinue
    $components = @()
    foreach ($component in Get-ServerComponentState -Identity $Server) {
        $components += [ordered]@{ component = [string]$component.Component; state = [string]$component.State }
    }
    $copies = @()
    foreach ($copy in Get-MailboxDatabaseCopyStatus -Server $Server -ErrorAction SilentlyContinue) {
        $copies += [ordered]@{
            database = [string]$copy.DatabaseName
            status = [string]$copy.Status
            active = [bool]($copy.Status -eq 'Mounted')
            activation_preference = [int]$copy.ActivationPreference
            copy_queue_length = [int]$copy.CopyQueueLength
            replay_queue_length = [int]$copy.ReplayQueueLength
        }
    }
    [ordered]@{
        admin_display_version = [string]$exchangeServer.AdminDisplayVersion
        roles = @($exchangeServer.ServerRole.ToString().Split(',') | ForEach-Object { $_.Trim() })
        edition = [string]$exchangeServer.Edition
        site = [string]$exchangeServer.Site
        dag = if ($null -ne $mailboxServer) { [string]$mailboxServer.DatabaseAvailabilityGroup } else { $null }
        server_mitigations_enabled = [bool]$exchangeServer.MitigationsEnabled
        mitigations_blocked = @($exchangeServer.MitigationsBlocked)
        mitigations_applied = @($exchangeServer.MitigationsApplied)
        data_collection_enabled = [bool]$exchangeServer.DataCollectionEnabled
        internet_web_proxy = [string]$exchangeServer.InternetWebProxy
        organization_name = [string]$organization.Name
        organization_mitigations_enabled = [bool]$organization.MitigationsEnabled
        component_states = $components
        database_copies = $copies
    }
}

$os = Get-CimInstance -ClassName Win32_OperatingSystem
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$systemDrive = Get-CimInstance -ClassName Win32_LogicalDisk -Filter ("DeviceID='{0}'" -f $env:SystemDrive)
$fqdn = '{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain
$ndp = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full' -ErrorAction SilentlyContinue
$rebootReasons = @(Get-PendingRebootReason)
$services = @()
foreach ($service in Get-Service -Name 'MSExchange*', 'W3SVC', 'WinRM' -ErrorAction SilentlyContinue) {
    $services += [ordered]@{ name = $service.Name; start_mode = [string]$service.StartType; state = [string]$service.Status }
}

$facts = [ordered]@{
    computer_name = $env:COMPUTERNAME
    fqdn = $fqdn
    setup = Get-ExSetupVersion
    installed_updates = @(Get-InstalledExchangeUpdate)
    setup_watermark = Get-SetupWatermark
    os = [ordered]@{ caption = [string]$os.Caption; version = [string]$os.Version }
    dotnet_release = if ($null -ne $ndp) { [int]$ndp.Release } else { $null }
    system_drive = $env:SystemDrive
    free_disk_gb = [math]::Round($systemDrive.FreeSpace / 1GB, 1)
    last_boot = $os.LastBootUpTime.ToUniversalTime().ToString('o')
    pending_reboot = [ordered]@{ pending = ($rebootReasons.Count -gt 0); reasons = $rebootReasons }
    services = $services
    url_rewrite = Get-UrlRewriteState
    rewrite_rules = @()
    mitigation_events = @(Get-MitigationServiceEvent)
    ems = [ordered]@{ available = $false; mode = [string]$HostArgs.ems.mode; error = $null }
    exchange = $null
}
try {
    $facts.rewrite_rules = @(Get-RewriteRule)
}
catch {
    $facts.rewrite_rules = $null
}

$session = $null
try {
    $session = Open-ExchangeSession -Ems $HostArgs.ems -Fqdn $fqdn
    $facts.exchange = Get-ExchangeOrganizationFact -Server $env:COMPUTERNAME
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
