# What Active Directory preparation a new CU may need: the schema level
# (rangeUpper of ms-Exch-Schema-Version-Pt), the organisation container's
# objectVersion and the build of every Exchange server in the organisation.
# The first server of an organisation to take a new CU line prepares AD.
# Reads only.
param($HostArgs)

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
    $session = New-PSSession @sessionParameters
    Import-PSSession -Session $session -CommandName 'Get-ExchangeServer', 'Get-OrganizationConfig' -DisableNameChecking -AllowClobber | Out-Null
    $session
}

$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$session = Open-ExchangeSession -Ems $HostArgs.ems -Fqdn ('{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain)
try {
    $servers = @()
    foreach ($server in Get-ExchangeServer) {
        $version = $server.AdminDisplayVersion
        $servers += [ordered]@{ name = [string]$server.Name; build = '{0}.{1}.{2}.{3}' -f $version.Major, $version.Minor, $version.Build, $version.Revision }
    }
    $organization = Get-OrganizationConfig
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}
$rootDse = [ADSI]'LDAP://RootDSE'
$schemaVersion = ([ADSI]('LDAP://CN=ms-Exch-Schema-Version-Pt,{0}' -f $rootDse.schemaNamingContext)).rangeUpper
$organizationVersion = ([ADSI]('LDAP://{0}' -f $organization.DistinguishedName)).objectVersion
@{
    changed = $false
    data = [ordered]@{
        organization = [string]$organization.Name
        schema_version = if ($null -ne $schemaVersion) { [int]"$schemaVersion" } else { $null }
        organization_version = if ($null -ne $organizationVersion) { [int]"$organizationVersion" } else { $null }
        servers = $servers
    }
}
