# Uses: Get-PropertyValue
# Copies one file from the package repository to a local path. The server
# reads the repository itself: the controller may not reach it, and a UNC
# share is only reachable from Windows. A WinRM network logon cannot pass its
# credential on to a share or a web server (the second hop), so a repository
# credential, when one is needed, travels as data in $Repository.
function Copy-RepositoryFile {
    param($Repository, [string]$Name, [string]$Destination)
    $url = [string](Get-PropertyValue -InputObject $Repository -Name 'url')
    $username = Get-PropertyValue -InputObject $Repository -Name 'username'
    $secret = Get-PropertyValue -InputObject $Repository -Name 'password'
    $credential = $null
    if ($username -and $secret) {
        $password = ConvertTo-SecureString -String ([string]$secret) -AsPlainText -Force
        $credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList ([string]$username), $password
    }
    if ($url -match '^https?://') {
        # Windows PowerShell 5.1 still offers TLS 1.0 first; repositories refuse it.
        [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
        # The progress bar slows Invoke-WebRequest down by orders of magnitude.
        $ProgressPreference = 'SilentlyContinue'
        $request = @{ Uri = ($url.TrimEnd('/') + '/' + [uri]::EscapeDataString($Name)); OutFile = $Destination; UseBasicParsing = $true; ErrorAction = 'Stop' }
        if ($null -ne $credential) {
            $request.Credential = $credential
        }
        Invoke-WebRequest @request
        return
    }
    if ($url -match '^\\\\[^\\]+\\[^\\]+') {
        $root = $url.TrimEnd('\')
        $drive = $null
        if ($null -ne $credential) {
            $drive = New-PSDrive -Name ('ExRepo{0}' -f $PID) -PSProvider FileSystem -Root $root -Credential $credential -ErrorAction Stop
        }
        try {
            Copy-Item -LiteralPath (Join-Path -Path $root -ChildPath $Name) -Destination $Destination -ErrorAction Stop
        }
        finally {
            if ($null -ne $drive) {
                Remove-PSDrive -Name $drive.Name -Force
            }
        }
        return
    }
    throw ('The repository {0} is neither an http(s):// URL nor a \\server\share path.' -f $url)
}
