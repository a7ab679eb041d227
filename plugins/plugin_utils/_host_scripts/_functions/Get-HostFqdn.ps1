# This computer's fully qualified name. Win32_ComputerSystem.Domain is the
# Active Directory domain on a member server but the workgroup's name on a
# server outside the domain (an Edge Transport server, usually), where the
# primary DNS suffix names it instead: IPGlobalProperties.DomainName
# (learn.microsoft.com/dotnet/api/system.net.networkinformation.ipglobalproperties.domainname).
function Get-HostFqdn {
    $computer = Get-CimInstance -ClassName Win32_ComputerSystem
    $suffix = [string]$computer.Domain
    if (-not $computer.PartOfDomain) {
        $suffix = [string][System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties().DomainName
    }
    if ($suffix) {
        return '{0}.{1}' -f $env:COMPUTERNAME, $suffix
    }
    $env:COMPUTERNAME
}
