# Reads the package repository's manifest.json as the server sees it
# (the server reads the repository itself; see Copy-RepositoryFile).
# Uses: Copy-RepositoryFile
param($HostArgs)

$url = [string]$HostArgs.repository.url
# Read through a local copy so one function serves manifests and installers.
$copy = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ('exchange-manifest-{0}.json' -f [guid]::NewGuid())
try {
    Copy-RepositoryFile -Repository $HostArgs.repository -Name 'manifest.json' -Destination $copy
    $text = [System.IO.File]::ReadAllText($copy, [System.Text.Encoding]::UTF8)
}
finally {
    Remove-Item -LiteralPath $copy -Force -ErrorAction SilentlyContinue
}

$manifest = ConvertFrom-Json -InputObject $text
$files = @()
foreach ($entry in @($manifest.files)) {
    $files += [ordered]@{ name = [string]$entry.name; size = [long]$entry.size; sha256 = [string]$entry.sha256 }
}
@{ changed = $false; data = [ordered]@{ source = $url; manifest = [ordered]@{ files = $files } } }
