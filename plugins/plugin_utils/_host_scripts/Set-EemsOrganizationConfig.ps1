# Sets the organisation-wide EEMS flag (Set-OrganizationConfig
# -MitigationsEnabled) when it differs from the wanted value. It reads the
# flag first, so a second host of the same organisation (or a run racing
# this one) finds it set and changes nothing.
# MitigationsEnabled exists only from the September 2021 CUs on: when the
# session's server lacks it, this refuses and changes nothing.
# It refuses before any EEMS parameter is used on a build without them, so
# those parameters are only ever sent to:
# Exchange: 2016, 2019, SE
# Uses: ConvertTo-NullableBoolean, Get-PropertyValue, Open-ExchangeSession
param($HostArgs)

$wanted = [bool](ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $HostArgs -Name 'mitigations_enabled'))
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$fqdn = '{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain
$session = Open-ExchangeSession -Ems (Get-PropertyValue -InputObject $HostArgs -Name 'ems') -Fqdn $fqdn -CommandName 'Get-OrganizationConfig', 'Set-OrganizationConfig'
try {
    $organization = Get-OrganizationConfig
    $before = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $organization -Name 'MitigationsEnabled')
    if ($null -eq $before) {
        throw 'This Exchange build has no organisation MitigationsEnabled setting (it came with the September 2021 CUs); open the session on a newer server. Nothing was changed.'
    }
    $changed = $false
    $steps = @()
    if ($before -ne $wanted) {
        Set-OrganizationConfig -MitigationsEnabled $wanted -ErrorAction Stop
        $changed = $true
        $steps += [ordered]@{ step = 'Set-OrganizationConfig -MitigationsEnabled'; outcome = 'done' }
    }
    else {
        $steps += [ordered]@{ step = 'Set-OrganizationConfig -MitigationsEnabled'; outcome = 'already set' }
    }
    $after = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject (Get-OrganizationConfig) -Name 'MitigationsEnabled')
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}
$data = [ordered]@{ organization_name = [string](Get-PropertyValue -InputObject $organization -Name 'Name'); before = $before; after = $after }
@{ changed = $changed; data = $data; steps = $steps }
