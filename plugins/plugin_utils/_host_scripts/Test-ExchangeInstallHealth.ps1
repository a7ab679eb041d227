# After an install: the ExSetup.exe build, the Exchange services, web.config
# files still holding the %ExchangeInstallDir% token (left when an SU ran
# without elevation) and the server component states with who set them
# inactive, and whether Setup stopped part-way: its watermark in the registry
# and the verdict line of the last run in ExchangeSetup.log ("...setup
# operation completed successfully" or "...didn't complete"), which Setup
# writes at the end of every run. Reads only.
# The LocalStates/RemoteStates entries may arrive as objects, property bags
# or text; ConvertFrom-RequesterDetail reads each.
# Uses: ConvertFrom-RequesterDetail, Get-ExSetupVersion, Get-PropertyValue, Get-SetupWatermark, Open-ExchangeSession
param($HostArgs)

$setup = Get-ExSetupVersion
$installPath = $setup.install_path
$health = [ordered]@{ exsetup_version = $setup.exsetup_version; services = @(); web_config_tokens = @(); components = $null; ems_error = $null; setup_watermark = (Get-SetupWatermark); setup_log = $null }
$setupLog = Join-Path -Path $env:SystemDrive -ChildPath 'ExchangeSetupLogs\ExchangeSetup.log'
if (Test-Path -LiteralPath $setupLog -PathType Leaf) {
    # The verdict closes each run; the last few thousand lines hold the last run's.
    $verdict = Get-Content -LiteralPath $setupLog -Tail 4000 -ErrorAction SilentlyContinue | Where-Object { $_ -match 'setup operation (completed successfully|didn.t complete)' } | Select-Object -Last 1
    $health.setup_log = [ordered]@{ path = $setupLog; last_verdict_line = $verdict }
}
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
