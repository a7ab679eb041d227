# Uses: Get-PropertyValue
# Opens the Exchange Management Shell for this operation and imports only
# the cmdlets it names. The supported route is an explicit session to the
# server's own /PowerShell endpoint with the credential sent as data: a WinRM
# network logon cannot pass its own credential on (the second hop).
# Without a credential New-PSSession fails with that second-hop error, which
# the caller carries back so the controller can explain it.
# Returns the session (to be removed by the caller) or $null for the snap-in.
function Open-ExchangeSession {
    param($Ems, [string]$Fqdn, [string[]]$CommandName)
    $mode = Get-PropertyValue -InputObject $Ems -Name 'mode'
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
