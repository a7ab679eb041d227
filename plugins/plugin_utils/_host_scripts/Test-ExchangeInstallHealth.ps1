# After an install: the ExSetup.exe build, the Exchange services, web.config
# files still holding the %ExchangeInstallDir% token (left when an SU ran
# without elevation) and the server component states with who set them
# inactive. Reads only.
# Uses: Open-ExchangeSession
param($HostArgs)

$setupKey = 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup'
$installPath = (Get-ItemProperty -Path $setupKey -ErrorAction SilentlyContinue).MsiInstallPath
$health = [ordered]@{ exsetup_version = $null; services = @(); web_config_tokens = @(); components = $null; ems_error = $null }
if ($installPath) {
    $exSetup = Join-Path -Path $installPath -ChildPath 'Bin\ExSetup.exe'
    if (Test-Path -LiteralPath $exSetup) {
        $health.exsetup_version = (Get-Item -LiteralPath $exSetup).VersionInfo.FileVersion
    }
    $configRoots = @('FrontEnd\HttpProxy', 'ClientAccess') | ForEach-Object { Join-Path -Path $installPath -ChildPath $_ } | Where-Object { Test-Path -LiteralPath $_ }
    $configFiles = @(Get-ChildItem -LiteralPath $configRoots -Recurse -Include 'web.config', 'SharedWebConfig.config' -File -ErrorAction SilentlyContinue)
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
    $session = Open-ExchangeSession -Ems $HostArgs.ems -Fqdn ('{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain) -CommandName 'Get-ServerComponentState'
    $components = @()
    foreach ($component in Get-ServerComponentState -Identity $env:COMPUTERNAME) {
        $requesters = @(@($component.LocalStates) + @($component.RemoteStates) | Where-Object { $_.State -eq 'Inactive' } | ForEach-Object { [string]$_.Requester } | Select-Object -Unique)
        $components += [ordered]@{ component = [string]$component.Component; state = [string]$component.State; requesters = $requesters }
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
