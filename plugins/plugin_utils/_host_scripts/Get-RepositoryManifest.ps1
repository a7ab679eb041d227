# Reads the package repository's manifest.json as the server sees it.
# The server reads it itself: the controller may not reach the repository,
# and a UNC share is only reachable from Windows.
# A WinRM network logon cannot pass its credential on to a share or a proxy
# (second hop), so a repository credential travels as data when one is needed.
param($HostArgs)

$repository = $HostArgs.repository
$url = [string]$repository.url
$credential = $null
if ($repository.username -and $repository.password) {
    $password = ConvertTo-SecureString -String ([string]$repository.password) -AsPlainText -Force
    $credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList ([string]$repository.username), $password
}

if ($url -match '^https?://') {
    # Windows PowerShell 5.1 still offers TLS 1.0 first; repositories refuse it.
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
    $request = @{ Uri = ($url.TrimEnd('/') + '/manifest.json'); UseBasicParsing = $true; ErrorAction = 'Stop' }
    if ($null -ne $credential) {
        $request.Credential = $credential
    }
    $text = (Invoke-WebRequest @request).Content
    if ($text -is [byte[]]) {
        $text = [System.Text.Encoding]::UTF8.GetString($text)
    }
}
elseif ($url -match '^\\\\[^\\]+\\[^\\]+') {
    $root = $url.TrimEnd('\')
    $drive = $null
    if ($null -ne $credential) {
        $drive = New-PSDrive -Name ('ExRepo{0}' -f $PID) -PSProvider FileSystem -Root $root -Credential $credential -ErrorAction Stop
    }
    try {
        $text = Get-Content -LiteralPath (Join-Path -Path $root -ChildPath 'manifest.json') -Raw -ErrorAction Stop
    }
    finally {
        if ($null -ne $drive) {
            Remove-PSDrive -Name $drive.Name -Force
        }
    }
}
else {
    throw ('The repository {0} is neither an http(s):// URL nor a \\server\share path.' -f $url)
}

$manifest = ConvertFrom-Json -InputObject $text
$files = @()
foreach ($entry in @($manifest.files)) {
    $files += [ordered]@{ name = [string]$entry.name; size = [long]$entry.size; sha256 = [string]$entry.sha256 }
}
@{ changed = $false; data = [ordered]@{ source = $url; manifest = [ordered]@{ files = $files } } }
