# Sets this server's EEMS settings with one Set-ExchangeServer call: only the
# keys present in 'settings' (mitigations_enabled, mitigations_blocked,
# data_collection_enabled, internet_web_proxy). MitigationsBlocked replaces
# the whole list, so the controller sends the complete new list together
# with the list it read ('expected_blocked'); when the list changed in
# between, this refuses rather than overwrite someone else's change.
# Uses: Open-ExchangeSession
param($HostArgs)

function ConvertTo-IdSet {
    param($Items)
    @($Items | Where-Object { $_ } | ForEach-Object { ([string]$_).ToLowerInvariant() } | Sort-Object -Unique)
}

$settings = $HostArgs.settings
$names = @($settings.PSObject.Properties.Name)
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$fqdn = '{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain
$session = Open-ExchangeSession -Ems $HostArgs.ems -Fqdn $fqdn -CommandName 'Get-ExchangeServer', 'Set-ExchangeServer'
try {
    $server = Get-ExchangeServer -Identity $env:COMPUTERNAME
    $parameters = @{ Identity = $env:COMPUTERNAME; ErrorAction = 'Stop' }
    $steps = @()
    if ($names -contains 'mitigations_enabled') {
        $parameters.MitigationsEnabled = [bool]$settings.mitigations_enabled
        $steps += [ordered]@{ step = 'MitigationsEnabled'; outcome = 'set' }
    }
    if ($names -contains 'mitigations_blocked') {
        if ($null -ne $HostArgs.expected_blocked) {
            $current = ConvertTo-IdSet -Items $server.MitigationsBlocked
            $expected = ConvertTo-IdSet -Items $HostArgs.expected_blocked
            if (($current -join ',') -ne ($expected -join ',')) {
                throw ('MitigationsBlocked changed since it was read (now: {0}); run the task again.' -f ($current -join ', '))
            }
        }
        $parameters.MitigationsBlocked = [string[]]@($settings.mitigations_blocked | ForEach-Object { [string]$_ })
        $steps += [ordered]@{ step = 'MitigationsBlocked'; outcome = 'set' }
    }
    if ($names -contains 'data_collection_enabled') {
        $parameters.DataCollectionEnabled = [bool]$settings.data_collection_enabled
        $steps += [ordered]@{ step = 'DataCollectionEnabled'; outcome = 'set' }
    }
    if ($names -contains 'internet_web_proxy') {
        $proxy = [string]$settings.internet_web_proxy
        if ($proxy) {
            $parameters.InternetWebProxy = $proxy
        }
        else {
            $parameters.InternetWebProxy = $null
        }
        $steps += [ordered]@{ step = 'InternetWebProxy'; outcome = 'set' }
    }
    $changed = $false
    if ($parameters.Count -gt 2) {
        Set-ExchangeServer @parameters
        $changed = $true
    }
    $server = Get-ExchangeServer -Identity $env:COMPUTERNAME
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}
$data = [ordered]@{
    server_mitigations_enabled = [bool]$server.MitigationsEnabled
    mitigations_blocked = @($server.MitigationsBlocked | Where-Object { $_ } | ForEach-Object { [string]$_ })
    data_collection_enabled = [bool]$server.DataCollectionEnabled
    internet_web_proxy = [string]$server.InternetWebProxy
}
@{ changed = $changed; data = $data; steps = $steps }
