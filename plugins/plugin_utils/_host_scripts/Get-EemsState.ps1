# Reads what onprem.exchange.eems manages and judges on one server: the
# organisation and server EEMS flags, the blocked and applied lists, data
# collection, the proxy, the Mitigation Service and its recent events, the
# ExSetup build and an unfinished Setup's watermark. Changes nothing.
# Exchange settings come from an explicit session to the server's own
# /PowerShell endpoint, opened with the credential sent as data (a WinRM
# network logon cannot pass its own credential on).
# The EEMS properties exist only from the September 2021 CUs on: read through
# Get-PropertyValue, null where a build lacks them.
# Uses: ConvertTo-NullableBoolean, ConvertTo-StringList, Get-ExSetupVersion, Get-PropertyValue, Get-SetupWatermark, Open-ExchangeSession, Read-MitigationServiceEvent
param($HostArgs)

$emsArgs = Get-PropertyValue -InputObject $HostArgs -Name 'ems'
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
    ems = [ordered]@{ available = $false; mode = [string](Get-PropertyValue -InputObject $emsArgs -Name 'mode' -Default 'remote'); error = $null }
    exchange = $null
}

$session = $null
try {
    $session = Open-ExchangeSession -Ems $emsArgs -Fqdn $fqdn -CommandName 'Get-ExchangeServer', 'Get-OrganizationConfig'
    $exchangeServer = Get-ExchangeServer -Identity $env:COMPUTERNAME
    $organization = Get-OrganizationConfig
    $serverMitigations = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $exchangeServer -Name 'MitigationsEnabled')
    $blocked = $null
    $applied = $null
    if ($null -ne $serverMitigations) {
        $blocked = ConvertTo-StringList -Value (Get-PropertyValue -InputObject $exchangeServer -Name 'MitigationsBlocked')
        $applied = ConvertTo-StringList -Value (Get-PropertyValue -InputObject $exchangeServer -Name 'MitigationsApplied')
    }
    $roles = @(([string](Get-PropertyValue -InputObject $exchangeServer -Name 'ServerRole')).Split(',') | ForEach-Object { $_.Trim() } | Where-Object { $_ })
    $state.exchange = [ordered]@{
        roles = $roles
        organization_name = [string](Get-PropertyValue -InputObject $organization -Name 'Name')
        organization_mitigations_enabled = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $organization -Name 'MitigationsEnabled')
        server_mitigations_enabled = $serverMitigations
        mitigations_blocked = $blocked
        mitigations_applied = $applied
        data_collection_enabled = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $exchangeServer -Name 'DataCollectionEnabled')
        internet_web_proxy = [string](Get-PropertyValue -InputObject $exchangeServer -Name 'InternetWebProxy')
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
