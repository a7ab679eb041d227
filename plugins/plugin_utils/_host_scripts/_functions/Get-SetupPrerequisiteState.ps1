# The software Exchange Setup's readiness check needs besides .NET and URL
# Rewrite, as installed: the Visual C++ 2012 and 2013 runtimes and UCMA 4.0.
# The controller judges (plugin_utils/_setup_prerequisites.py, with the
# sources in _data/setup_prerequisites.yml); this only reads.
# - vc_redistributables: every entry of the 64-bit Uninstall key whose
#   DisplayName is like "Microsoft Visual C++ 2012*" or "...2013*", the match
#   CSS-Exchange Health Checker uses (Shared/VisualCRedistributableVersionFunctions.ps1),
#   with its DisplayVersion and its Version DWORD (major << 24 | minor << 16 | build).
# - ucma: SetupAssist's key HKLM\SOFTWARE\Microsoft\UCMA\{902F4F35-D5DC-4363-8671-D5EF0D26C21D}
#   and its Version value (Setup/SetupAssist/Checks/LocalServer/Test-PrerequisiteInstalled.ps1),
#   else an Uninstall entry naming "Unified Communications Managed API 4.0".
# Missing keys and values read as absent, never as an error.
function Get-SetupPrerequisiteState {
    $runtimes = @()
    $ucma = [ordered]@{ installed = $false; version = $null; source = $null }
    $root = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall'
    foreach ($key in @(Get-ChildItem -LiteralPath $root -ErrorAction SilentlyContinue)) {
        $name = [string]$key.GetValue('DisplayName')
        if ($name -like 'Microsoft Visual C++ 2012*' -or $name -like 'Microsoft Visual C++ 2013*') {
            $number = $key.GetValue('Version')
            if ($null -ne $number) {
                $number = [long]$number
            }
            $display = $key.GetValue('DisplayVersion')
            if ($null -ne $display) {
                $display = [string]$display
            }
            $runtimes += [ordered]@{ display_name = $name; display_version = $display; version_number = $number }
        }
        elseif (-not $ucma.installed -and $name -like '*Unified Communications Managed API 4.0*') {
            $version = $key.GetValue('DisplayVersion')
            $ucma.installed = $true
            $ucma.version = if ($null -ne $version) { [string]$version } else { $null }
            $ucma.source = 'uninstall'
        }
    }
    $product = Get-Item -LiteralPath 'HKLM:\SOFTWARE\Microsoft\UCMA\{902F4F35-D5DC-4363-8671-D5EF0D26C21D}' -ErrorAction SilentlyContinue
    if ($null -ne $product) {
        $version = $product.GetValue('Version')
        $ucma.installed = $true
        $ucma.version = if ($null -ne $version) { [string]$version } else { $ucma.version }
        $ucma.source = 'ucma_key'
    }
    [ordered]@{ vc_redistributables = $runtimes; ucma = $ucma }
}
