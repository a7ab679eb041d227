# What Active Directory preparation a new CU may need, read only through
# Exchange cmdlets over the EMS session: an LDAP bind from this WinRM logon
# would need the logon's credential a second time (the second hop), which a
# network logon cannot pass on.
#   organization_version  Get-OrganizationConfig's ObjectVersion: the
#                         objectVersion of the organisation container that
#                         /PrepareAD raises (HealthChecker's real exports
#                         carry it: CSS-Exchange, Diagnostics/HealthChecker/
#                         Tests/DataCollection/E19/Exchange/GetOrganizationConfig.xml)
#   servers               every Exchange server with its CU build, from
#                         AdminDisplayVersion in whatever form it arrives
#   schema_version        $null: the rangeUpper of ms-Exch-Schema-Version-Pt
#                         is shown by no Exchange cmdlet, only by an LDAP
#                         read; 'unreadable' says so. Setup checks the schema
#                         itself when it runs.
# Reads only.
# Uses: ConvertTo-VersionText, Get-IdentityName, Get-PropertyValue, Open-ExchangeSession
param($HostArgs)

$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$session = Open-ExchangeSession -Ems (Get-PropertyValue -InputObject $HostArgs -Name 'ems') -Fqdn ('{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain) -CommandName 'Get-ExchangeServer', 'Get-OrganizationConfig'
try {
    $servers = @()
    foreach ($server in Get-ExchangeServer) {
        $servers += [ordered]@{
            name = [string](Get-IdentityName -Value (Get-PropertyValue -InputObject $server -Name 'Name'))
            build = ConvertTo-VersionText -Value (Get-PropertyValue -InputObject $server -Name 'AdminDisplayVersion')
        }
    }
    $organization = Get-OrganizationConfig
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}
$organizationVersion = Get-PropertyValue -InputObject $organization -Name 'ObjectVersion'
if ($null -ne $organizationVersion) {
    $organizationVersion = [int]"$organizationVersion"
}
@{
    changed = $false
    data = [ordered]@{
        organization = [string](Get-PropertyValue -InputObject $organization -Name 'Name')
        schema_version = $null
        organization_version = $organizationVersion
        servers = $servers
        unreadable = [ordered]@{
            schema_version = 'The schema level (rangeUpper of ms-Exch-Schema-Version-Pt) is shown by no Exchange cmdlet; reading it needs an LDAP bind, which from a WinRM logon is the second hop. Setup checks it itself; compare it with Microsoft''s table "Exchange Server Active Directory versions" if you need it.'
        }
    }
}
