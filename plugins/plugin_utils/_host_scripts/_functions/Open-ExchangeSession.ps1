# Uses: Get-PropertyValue, Test-EdgeTransportRole
# Opens the Exchange Management Shell for this operation and imports only
# the cmdlets it names. The supported route is an explicit session to the
# server's own /PowerShell endpoint with the credential sent as data: a WinRM
# network logon cannot pass its own credential on (the second hop).
# Without a credential New-PSSession fails with that second-hop error, which
# the caller carries back so the controller can explain it.
# An Edge Transport server has no /PowerShell endpoint and is usually not in
# the domain: its cmdlets come from the Edge management snap-ins loaded in
# this process, which reach only the server's own AD LDS instance. The mode
# 'auto' (the default) picks that on Edge and the remote session elsewhere.
# Returns the session (to be removed by the caller) or $null for a snap-in.
function Open-ExchangeSession {
    param($Ems, [string]$Fqdn, [string[]]$CommandName)
    $mode = [string](Get-PropertyValue -InputObject $Ems -Name 'mode' -Default 'auto')
    if (Test-EdgeTransportRole) {
        if ($mode -eq 'remote') {
            throw 'This is an Edge Transport server: it has no /PowerShell endpoint, so ems_mode=remote cannot reach its Exchange cmdlets. Use ems_mode=auto (the default), which loads the Edge management snap-ins on the server itself.'
        }
        # The Edge shell's console file names its snap-ins; CSS-Exchange's
        # Shared/Confirm-ExchangeShell.ps1 loads Edge the same way (it reads
        # $env:ExchangeInstallPath\Bin\exShell.psc1 and adds each PSSnapIn).
        $consoleFile = Join-Path -Path $env:ExchangeInstallPath -ChildPath 'Bin\exShell.psc1'
        $console = [xml](Get-Content -LiteralPath $consoleFile -ErrorAction Stop)
        foreach ($snapIn in @($console.SelectNodes('/PSConsoleFile/PSSnapIns/PSSnapIn'))) {
            Add-PSSnapin -Name ([string]$snapIn.GetAttribute('Name')) -ErrorAction Stop
        }
        return $null
    }
    if ($mode -eq 'snapin') {
        # Unsupported by Microsoft; used only when the inventory opts in.
        Add-PSSnapin -Name Microsoft.Exchange.Management.PowerShell.SnapIn -ErrorAction Stop
        return $null
    }
    $sessionParameters = @{
        ConfigurationName = 'Microsoft.Exchange'
        ConnectionUri = 'http://{0}/PowerShell/' -f $Fqdn
        Authentication = 'Kerberos'
        ErrorAction = 'Stop'
    }
    $username = Get-PropertyValue -InputObject $Ems -Name 'username'
    $secret = Get-PropertyValue -InputObject $Ems -Name 'password'
    if ($username -and $secret) {
        $password = ConvertTo-SecureString -String ([string]$secret) -AsPlainText -Force
        $sessionParameters.Credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList ([string]$username), $password
    }
    $session = New-PSSession @sessionParameters
    Import-PSSession -Session $session -CommandName $CommandName -DisableNameChecking -AllowClobber | Out-Null
    $session
}
