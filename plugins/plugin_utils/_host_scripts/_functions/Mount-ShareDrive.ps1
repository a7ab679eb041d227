# Maps a file share's UNC root with the account given as data, for one host
# call: a WinRM network logon cannot pass its own credential on to the file
# server (the second hop). New-PSDrive -Credential takes a UNC root for the
# FileSystem provider (Microsoft Learn, New-PSDrive, -Credential and -Root).
# Without an account it maps nothing ($null) and the logon's own access is
# used. The caller removes the drive it got (Remove-PSDrive) when done.
function Mount-ShareDrive {
    param([string]$Root, $Username, $Secret, [string]$Prefix)
    if (-not ($Username -and $Secret)) {
        return $null
    }
    $password = ConvertTo-SecureString -String ([string]$Secret) -AsPlainText -Force
    $credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList ([string]$Username), $password
    New-PSDrive -Name ('{0}{1}' -f $Prefix, $PID) -PSProvider FileSystem -Root $Root -Credential $credential -ErrorAction Stop
}
