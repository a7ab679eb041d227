# Whether the IIS URL Rewrite module is installed, with two versions that
# are numbered apart and must each be compared with their own minimum:
# - product_version: the installed product's version, the DisplayVersion of
#   its Uninstall entry (Windows Installer records the MSI ProductVersion
#   there). URL Rewrite 2.1 is 7.2.1993, the MSI ProductVersion EOMT and
#   EOMTv2 require before installing; both find the installed module the same
#   way, by an Uninstall entry whose DisplayName matches *IIS*, *URL* and *2*
#   ("IIS URL Rewrite Module 2"), and read its DisplayVersion (CSS-Exchange
#   Security/src/EOMT.ps1 and EOMTv2.ps1, Get-InstalledSoftwareVersion).
#   $null when no such entry exists (only per-machine entries are read: the
#   URL Rewrite MSI installs per machine).
# - file_version: rewrite.dll's own file version, all four parts. URL
#   Rewrite 2.1's rewrite.dll reports 7.1.1993.2351, not 7.2.1993.
# installed means rewrite.dll is present: that file is what IIS loads.
function Get-UrlRewriteState {
    $state = [ordered]@{ installed = $false; file_version = $null; product_name = $null; product_version = $null }
    $module = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\rewrite.dll'
    if (Test-Path -LiteralPath $module) {
        $info = (Get-Item -LiteralPath $module).VersionInfo
        $state.installed = $true
        $state.file_version = '{0}.{1}.{2}.{3}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart
    }
    $roots = @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall', 'HKLM:\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\Uninstall')
    foreach ($root in $roots) {
        foreach ($key in @(Get-ChildItem -LiteralPath $root -ErrorAction SilentlyContinue)) {
            $name = [string]$key.GetValue('DisplayName')
            $version = $key.GetValue('DisplayVersion')
            # EOMT's match, or the name with "Rewrite" in it (localized MSIs
            # may name the product differently; both are accepted).
            if ($name -like '*IIS*' -and $name -like '*URL*' -and ($name -like '*2*' -or $name -like '*Rewrite*') -and $null -ne $version) {
                $state.product_name = $name
                $state.product_version = [string]$version
                return $state
            }
        }
    }
    $state
}
