# Whether the IIS URL Rewrite module is installed, and its rewrite.dll file
# version (major.minor.build).
function Get-UrlRewriteState {
    $module = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\rewrite.dll'
    if (-not (Test-Path -LiteralPath $module)) {
        return [ordered]@{ installed = $false; version = $null }
    }
    $info = (Get-Item -LiteralPath $module).VersionInfo
    [ordered]@{ installed = $true; version = '{0}.{1}.{2}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart }
}
