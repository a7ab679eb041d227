# After an install: the ExSetup.exe build, the Exchange services, web.config
# files still holding the %ExchangeInstallDir% token (left when an SU ran
# without elevation) and the server component states with who set them
# inactive. Reads only.
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
    Import-PSSession -Session $session -CommandName 'Get-ServerComponentState' -DisableNameChecking -AllowClobber | Out-Null
    $session
}

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
    $session = Open-ExchangeSession -Ems $HostArgs.ems -Fqdn ('{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain)
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
