# Reads what onprem.exchange.eems manages and judges on one server: the
# organisation and server EEMS flags, the blocked and applied lists, data
# collection, the proxy, the Mitigation Service and its recent events, the
# ExSetup build and an unfinished Setup's watermark. Changes nothing.
# Exchange settings come from an explicit session to the server's own
# /PowerShell endpoint, opened with the credential sent as data (a WinRM
# network logon cannot pass its own credential on).
# Uses: Get-ExSetupVersion, Get-PropertyValue, Get-SetupWatermark, Open-ExchangeSession, Read-MitigationServiceEvent
param($HostArgs)

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
    setup = [ordered]@{ exsetup_version = (Get-ExSetupVersion).exsetup_version }
    setup_watermark = Get-PropertyValue -InputObject (Get-SetupWatermark) -Name 'watermark'
    services = $services
    mitigation_events = @(Read-MitigationServiceEvent)
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
