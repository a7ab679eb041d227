# Sets the organisation-wide EEMS flag (Set-OrganizationConfig
# -MitigationsEnabled) when it differs from the wanted value. It reads the
# flag first, so a second host of the same organisation (or a run racing
# this one) finds it set and changes nothing.
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
