# Reads what onprem.exchange.eems manages and judges on one server: the
# organisation and server EEMS flags, the blocked and applied lists, data
# collection, the proxy, the Mitigation Service and its recent events, the
# ExSetup build and an unfinished Setup's watermark. Changes nothing.
# Exchange settings come from an explicit session to the server's own
# /PowerShell endpoint, opened with the credential sent as data (a WinRM
# network logon cannot pass its own credential on).
param($HostArgs)

function Open-ExchangeSession {
    param($Ems, [string]$Fqdn, [string[]]$CommandName)
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
    $session = New-PSSession @sessionParameters
    Import-PSSession -Session $session -CommandName $CommandName -DisableNameChecking -AllowClobber | Out-Null
    $session
}

function Get-ExSetupVersion {
    $setupKey = 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup'
    $installPath = (Get-ItemProperty -Path $setupKey -ErrorAction SilentlyContinue).MsiInstallPath
    if (-not $installPath) {
        return $null
    }
    $exSetup = Join-Path -Path $installPath -ChildPath 'Bin\ExSetup.exe'
    if (-not (Test-Path -LiteralPath $exSetup)) {
        return $null
    }
    (Get-Item -LiteralPath $exSetup).VersionInfo.FileVersion
}

function Get-SetupWatermark {
    # An interrupted Setup leaves a Watermark value under the role's key.
    $root = 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15'
    foreach ($role in 'MailboxRole', 'ClientAccessRole', 'HubTransportRole', 'FrontendTransportRole', 'CafeRole', 'AdminToolsRole', 'GatewayRole') {
        $values = Get-ItemProperty -Path (Join-Path -Path $root -ChildPath $role) -ErrorAction SilentlyContinue
        if ($null -ne $values -and $values.PSObject.Properties.Name -contains 'Watermark') {
            return [string]$values.Watermark
        }
    }
    $null
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

$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$fqdn = '{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain
$services = @()
$service = Get-Service -Name 'MSExchangeMitigation' -ErrorAction SilentlyContinue
if ($null -ne $service) {
    $services += [ordered]@{ name = $service.Name; start_mode = [string]$service.StartType; state = [string]$service.Status }
}

$state = [ordered]@{
    now = (Get-Date).ToUniversalTime().ToString('o')
    computer_name = $env:COMPUTERNAME
    setup = [ordered]@{ exsetup_version = Get-ExSetupVersion }
    setup_watermark = Get-SetupWatermark
    services = $services
    mitigation_events = @(Get-MitigationServiceEvent)
    ems = [ordered]@{ available = $false; mode = [string]$HostArgs.ems.mode; error = $null }
    exchange = $null
}

$session = $null
try {
    $session = Open-ExchangeSession -Ems $HostArgs.ems -Fqdn $fqdn -CommandName 'Get-ExchangeServer', 'Get-OrganizationConfig'
    $exchangeServer = Get-ExchangeServer -Identity $env:COMPUTERNAME
    $organization = Get-OrganizationConfig
    $state.exchange = [ordered]@{
        roles = @($exchangeServer.ServerRole.ToString().Split(',') | ForEach-Object { $_.Trim() })
        organization_name = [string]$organization.Name
        organization_mitigations_enabled = [bool]$organization.MitigationsEnabled
        server_mitigations_enabled = [bool]$exchangeServer.MitigationsEnabled
        mitigations_blocked = @($exchangeServer.MitigationsBlocked | Where-Object { $_ } | ForEach-Object { [string]$_ })
        mitigations_applied = @($exchangeServer.MitigationsApplied | Where-Object { $_ } | ForEach-Object { [string]$_ })
        data_collection_enabled = [bool]$exchangeServer.DataCollectionEnabled
        internet_web_proxy = [string]$exchangeServer.InternetWebProxy
    }
    $state.ems.available = $true
}
catch {
    # Local facts still help; the controller explains the missing ones.
    $state.ems.error = $_.Exception.Message
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}

@{ changed = $false; data = $state }
