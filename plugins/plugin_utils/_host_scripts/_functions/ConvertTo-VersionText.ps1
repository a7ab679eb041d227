# Uses: Get-PropertyValue
# Turns an Exchange version value into "15.2.1544.4", whatever form it
# arrives in: a live ServerVersion or a deserialized property bag with
# Major/Minor/Build/Revision, or only its text "Version 15.2 (Build 1544.4)".
# CSS-Exchange parses the ToString() text for this reason
# (Shared/Get-ExchangeBuildVersionInformation.ps1); its HealthChecker test
# data shows both the parts and that text (Diagnostics/HealthChecker/Tests/
# DataCollection/E19/Exchange/GetExchangeServer.xml, AdminDisplayVersion).
# A dotted build text passes through; anything else comes back as its text.
function ConvertTo-VersionText {
    param($Value)
    if ($null -eq $Value) {
        return $null
    }
    if (-not ($Value -is [string])) {
        $parts = @()
        foreach ($name in 'Major', 'Minor', 'Build', 'Revision') {
            $part = Get-PropertyValue -InputObject $Value -Name $name
            if ($null -eq $part) {
                break
            }
            $parts += [string]$part
        }
        if ($parts.Count -eq 4) {
            return $parts -join '.'
        }
    }
    $text = [string]$Value
    if ($text -match 'Version\s+(\d+)\.(\d+)\s+\(Build\s+(\d+)\.(\d+)\)') {
        return '{0}.{1}.{2}.{3}' -f $Matches[1], $Matches[2], $Matches[3], $Matches[4]
    }
    if ($text -match '^\s*(\d+\.\d+\.\d+\.\d+)\s*$') {
        return $Matches[1]
    }
    $text
}
