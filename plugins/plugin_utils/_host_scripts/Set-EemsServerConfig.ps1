# Sets this server's EEMS settings with one Set-ExchangeServer call: only the
# keys present in 'settings' (mitigations_enabled, mitigations_blocked,
# data_collection_enabled, internet_web_proxy). MitigationsBlocked replaces
# the whole list, so the controller sends the complete new list together
# with the list it read ('expected_blocked'); when the list changed in
# between, this refuses rather than overwrite someone else's change.
# The EEMS properties exist only from the September 2021 CUs on: a build
# without them answers null for each, and refuses to set them.
# It refuses before any EEMS parameter is used on a build without them, so
# those parameters are only ever sent to:
# Exchange: 2016, 2019, SE
# Uses: ConvertTo-NullableBoolean, ConvertTo-StringList, Get-PropertyValue, Open-ExchangeSession
param($HostArgs)

function ConvertTo-IdSet {
    param($Items)
    $ids = @()
    foreach ($item in (ConvertTo-StringList -Value $Items)) {
        $ids += $item.ToLowerInvariant()
    }
    @($ids | Sort-Object -Unique)
}

$settings = Get-PropertyValue -InputObject $HostArgs -Name 'settings'
$names = @()
if ($null -ne $settings) {
    $names = @($settings.PSObject.Properties | ForEach-Object { $_.Name })
}
# An empty expected list still means "check": Get-PropertyValue would unroll
# it to $null, so read the argument's presence directly.
$expectedBlocked = $null
$expectedArgument = $HostArgs.PSObject.Properties['expected_blocked']
if ($null -ne $expectedArgument -and $null -ne $expectedArgument.Value) {
    $expectedBlocked = @($expectedArgument.Value)
}
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$fqdn = '{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain
$session = Open-ExchangeSession -Ems (Get-PropertyValue -InputObject $HostArgs -Name 'ems') -Fqdn $fqdn -CommandName 'Get-ExchangeServer', 'Set-ExchangeServer'
try {
    $server = Get-ExchangeServer -Identity $env:COMPUTERNAME
    if ($names.Count -gt 0 -and $null -eq (Get-PropertyValue -InputObject $server -Name 'MitigationsEnabled')) {
        throw ('This Exchange build ({0}) has no Emergency Mitigation Service settings (they came with the September 2021 CUs); nothing was changed.' -f [string](Get-PropertyValue -InputObject $server -Name 'AdminDisplayVersion'))
    }
    $parameters = @{ Identity = $env:COMPUTERNAME; ErrorAction = 'Stop' }
    $steps = @()
    if ($names -contains 'mitigations_enabled') {
        $parameters.MitigationsEnabled = [bool](ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $settings -Name 'mitigations_enabled'))
        $steps += [ordered]@{ step = 'MitigationsEnabled'; outcome = 'set' }
    }
    if ($names -contains 'mitigations_blocked') {
        if ($null -ne $expectedBlocked) {
            $current = ConvertTo-IdSet -Items (Get-PropertyValue -InputObject $server -Name 'MitigationsBlocked')
            $expected = ConvertTo-IdSet -Items $expectedBlocked
            if (($current -join ',') -ne ($expected -join ',')) {
                throw ('MitigationsBlocked changed since it was read (now: {0}); run the task again.' -f ($current -join ', '))
            }
        }
        $parameters.MitigationsBlocked = [string[]](ConvertTo-StringList -Value (Get-PropertyValue -InputObject $settings -Name 'mitigations_blocked'))
        $steps += [ordered]@{ step = 'MitigationsBlocked'; outcome = 'set' }
    }
    if ($names -contains 'data_collection_enabled') {
        $parameters.DataCollectionEnabled = [bool](ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $settings -Name 'data_collection_enabled'))
        $steps += [ordered]@{ step = 'DataCollectionEnabled'; outcome = 'set' }
    }
    if ($names -contains 'internet_web_proxy') {
        $proxy = [string](Get-PropertyValue -InputObject $settings -Name 'internet_web_proxy')
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
$serverMitigations = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $server -Name 'MitigationsEnabled')
$blocked = $null
if ($null -ne $serverMitigations) {
    $blocked = ConvertTo-StringList -Value (Get-PropertyValue -InputObject $server -Name 'MitigationsBlocked')
}
$data = [ordered]@{
    server_mitigations_enabled = $serverMitigations
    mitigations_blocked = $blocked
    data_collection_enabled = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $server -Name 'DataCollectionEnabled')
    internet_web_proxy = [string](Get-PropertyValue -InputObject $server -Name 'InternetWebProxy')
}
@{ changed = $changed; data = $data; steps = $steps }
