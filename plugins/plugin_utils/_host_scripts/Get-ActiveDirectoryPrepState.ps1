# What Active Directory preparation a new CU may need: the schema level
# (rangeUpper of ms-Exch-Schema-Version-Pt), the organisation container's
# objectVersion and the build of every Exchange server in the organisation.
# The first server of an organisation to take a new CU line prepares AD.
# Reads only.
# Uses: Open-ExchangeSession
param($HostArgs)

$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$session = Open-ExchangeSession -Ems $HostArgs.ems -Fqdn ('{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain) -CommandName 'Get-ExchangeServer', 'Get-OrganizationConfig'
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
