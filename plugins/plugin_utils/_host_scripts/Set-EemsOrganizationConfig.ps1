# Sets the organisation-wide EEMS flag (Set-OrganizationConfig
# -MitigationsEnabled) when it differs from the wanted value. It reads the
# flag first, so a second host of the same organisation (or a run racing
# this one) finds it set and changes nothing.
# Uses: Open-ExchangeSession
param($HostArgs)

$wanted = [bool]$HostArgs.mitigations_enabled
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$fqdn = '{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain
$session = Open-ExchangeSession -Ems $HostArgs.ems -Fqdn $fqdn -CommandName 'Get-OrganizationConfig', 'Set-OrganizationConfig'
try {
    $organization = Get-OrganizationConfig
    $before = [bool]$organization.MitigationsEnabled
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
    $after = [bool](Get-OrganizationConfig).MitigationsEnabled
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}
$data = [ordered]@{ organization_name = [string]$organization.Name; before = $before; after = $after }
@{ changed = $changed; data = $data; steps = $steps }
