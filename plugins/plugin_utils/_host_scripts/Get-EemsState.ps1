# Reads what onprem.exchange.eems manages and judges on one server: the
# organisation and server EEMS flags, the blocked and applied lists, data
# collection, the proxy, the Mitigation Service and its recent events, the
# ExSetup build and an unfinished Setup's watermark. Changes nothing.
# Exchange settings come from an explicit session to the server's own
# /PowerShell endpoint, opened with the credential sent as data (a WinRM
# network logon cannot pass its own credential on).
# The EEMS properties exist only from the September 2021 CUs on: read through
# Get-PropertyValue, null where a build lacks them.
# An Edge Transport server has no Mitigation Service (Microsoft Learn,
# "Exchange Emergency Mitigation (EM) service": it comes with the Mailbox
# role; CSS-Exchange HealthChecker judges EEMS only where IsEdgeServer is
# false, Analyzer/Security/Invoke-AnalyzerSecurityMitigationService.ps1):
# there edge_transport is true and no session is opened.
# Uses: Get-EemsSetting, Get-ExSetupVersion, Get-PropertyValue, Get-SetupWatermark, Open-ExchangeSession, Read-MitigationServiceEvent, Test-EdgeTransportRole
param($HostArgs)

$emsArgs = Get-PropertyValue -InputObject $HostArgs -Name 'ems'
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$fqdn = '{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain
$edge = [bool](Test-EdgeTransportRole)
$emsMode = [string](Get-PropertyValue -InputObject $emsArgs -Name 'mode' -Default 'auto')
if ($emsMode -eq 'auto') {
    $emsMode = if ($edge) { 'local' } else { 'remote' }
}
$services = @()
$service = Get-Service -Name 'MSExchangeMitigation' -ErrorAction SilentlyContinue
if ($null -ne $service) {
    $services += [ordered]@{ name = $service.Name; start_mode = [string]$service.StartType; state = [string]$service.Status }
}

$state = [ordered]@{
    now = (Get-Date).ToUniversalTime().ToString('o')
    computer_name = $env:COMPUTERNAME
    edge_transport = $edge
    setup = [ordered]@{ exsetup_version = (Get-ExSetupVersion).exsetup_version }
    setup_watermark = Get-PropertyValue -InputObject (Get-SetupWatermark) -Name 'watermark'
    services = $services
    mitigation_events = @(Read-MitigationServiceEvent)
    ems = [ordered]@{ available = $false; mode = $emsMode; error = $null }
    exchange = $null
}

$session = $null
try {
    # Nothing EEMS-related to read on Edge (see the header).
    if (-not $edge) {
        $session = Open-ExchangeSession -Ems $emsArgs -Fqdn $fqdn -CommandName 'Get-ExchangeServer', 'Get-OrganizationConfig'
        $exchangeServer = Get-ExchangeServer -Identity $env:COMPUTERNAME
        $organization = Get-OrganizationConfig
        $roles = @(([string](Get-PropertyValue -InputObject $exchangeServer -Name 'ServerRole')).Split(',') | ForEach-Object { $_.Trim() } | Where-Object { $_ })
        $state.exchange = Get-EemsSetting -ExchangeServer $exchangeServer -Organization $organization
        $state.exchange.roles = $roles
        $state.ems.available = $true
    }
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
