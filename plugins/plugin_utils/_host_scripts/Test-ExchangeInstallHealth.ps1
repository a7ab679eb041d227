# After an install: the ExSetup.exe build, the Exchange services, web.config
# files still holding the %ExchangeInstallDir% token (left when an SU ran
# without elevation) and the server component states with who set them
# inactive. Reads only.
# The LocalStates/RemoteStates entries may arrive as objects, property bags
# or text; ConvertFrom-RequesterDetail reads each.
# Uses: ConvertFrom-RequesterDetail, Get-ExSetupVersion, Get-PropertyValue, Open-ExchangeSession
param($HostArgs)

$setup = Get-ExSetupVersion
$installPath = $setup.install_path
$health = [ordered]@{ exsetup_version = $setup.exsetup_version; services = @(); web_config_tokens = @(); components = $null; ems_error = $null }
if ($installPath) {
    $configRoots = @('FrontEnd\HttpProxy', 'ClientAccess') | ForEach-Object { Join-Path -Path $installPath -ChildPath $_ } | Where-Object { Test-Path -LiteralPath $_ }
    $configFiles = @()
    if ($configRoots) {
        $configFiles = @(Get-ChildItem -LiteralPath $configRoots -Recurse -Include 'web.config', 'SharedWebConfig.config' -File -ErrorAction SilentlyContinue)
    }
    foreach ($file in $configFiles) {
        if (Select-String -LiteralPath $file.FullName -SimpleMatch -Pattern '%ExchangeInstallDir%' -Quiet) {
            $health.web_config_tokens += $file.FullName
        }
    }
}
foreach ($service in Get-Service -Name 'MSExchange*', 'W3SVC', 'WinRM' -ErrorAction SilentlyContinue) {
    $health.services += [ordered]@{ name = $service.Name; start_mode = [string]$service.StartType; state = [string]$service.Status }
}

$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$session = $null
try {
    $session = Open-ExchangeSession -Ems (Get-PropertyValue -InputObject $HostArgs -Name 'ems') -Fqdn ('{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain) -CommandName 'Get-ServerComponentState'
    $components = @()
    foreach ($component in Get-ServerComponentState -Identity $env:COMPUTERNAME) {
        $requesters = @()
        $entries = @(Get-PropertyValue -InputObject $component -Name 'LocalStates') + @(Get-PropertyValue -InputObject $component -Name 'RemoteStates')
        foreach ($entry in $entries) {
            $detail = ConvertFrom-RequesterDetail -Value $entry
            if ($null -ne $detail -and $detail.state -eq 'Inactive' -and $detail.requester -and $requesters -notcontains $detail.requester) {
                $requesters += $detail.requester
            }
        }
        $components += [ordered]@{ component = [string](Get-PropertyValue -InputObject $component -Name 'Component'); state = [string](Get-PropertyValue -InputObject $component -Name 'State'); requesters = $requesters }
    }
    $health.components = $components
}
catch {
    $health.ems_error = $_.Exception.Message
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}
@{ changed = $false; data = $health }
