# Uses: Get-PropertyValue
# The installed build: the file version of ExSetup.exe carries the SU level,
# AdminDisplayVersion only the CU. The MSI values give the CU level Setup
# itself recorded.
function Get-ExSetupVersion {
    $setupKey = 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup'
    $setup = Get-ItemProperty -Path $setupKey -ErrorAction SilentlyContinue
    $installPath = Get-PropertyValue -InputObject $setup -Name 'MsiInstallPath'
    $result = [ordered]@{ install_path = $installPath; exsetup_path = $null; exsetup_version = $null; msi_build = $null }
    if ($installPath) {
        $exSetup = Join-Path -Path $installPath -ChildPath 'Bin\ExSetup.exe'
        if (Test-Path -LiteralPath $exSetup) {
            $result.exsetup_path = $exSetup
            $result.exsetup_version = (Get-Item -LiteralPath $exSetup).VersionInfo.FileVersion
        }
        $parts = @()
        foreach ($name in 'MsiProductMajor', 'MsiProductMinor', 'MsiBuildMajor', 'MsiBuildMinor') {
            $parts += [string](Get-PropertyValue -InputObject $setup -Name $name)
        }
        $result.msi_build = $parts -join '.'
    }
    $result
}
