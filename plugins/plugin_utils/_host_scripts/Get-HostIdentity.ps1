# Connection check: who is this host and since when has it been up.
# A fresh token from the controller is echoed back so a stale or replayed
# answer can never pass for a live one.
# Uses: Get-HostFqdn
param($HostArgs)
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
@{
    changed = $false
    data = [ordered]@{
        computer_name = $env:COMPUTERNAME
        fqdn = Get-HostFqdn
        domain = $computer.Domain
        os_caption = $os.Caption
        os_version = $os.Version
        last_boot = $os.LastBootUpTime.ToUniversalTime().ToString('o')
        local_time = (Get-Date).ToUniversalTime().ToString('o')
        powershell_version = $PSVersionTable.PSVersion.ToString()
        token = [string]$HostArgs.token
    }
}
