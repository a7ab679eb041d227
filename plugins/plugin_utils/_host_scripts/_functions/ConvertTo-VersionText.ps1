# Uses: Get-PropertyValue
# Turns an Exchange version value into text the controller parses, whatever
# form it arrives in. Over a remote EMS session AdminDisplayVersion may be a
# live ServerVersion (Major/Minor/Build/Revision), a deserialized property
# bag with those properties, or only its text "Version 15.2 (Build 1544.4)";
# CSS-Exchange's HealthChecker parses the ToString() form for this reason
# (Diagnostics/HealthChecker/DataCollection/ExchangeInformation).
# Returns "15.2.1544.4" when the parts are readable, else the value's text.
function ConvertTo-VersionText {
    param($Value)
    if ($null -eq $Value) {
        return $null
    }
    if ($Value -is [string]) {
        return $Value
    }
    $parts = @()
    foreach ($name in 'Major', 'Minor', 'Build', 'Revision') {
        $part = Get-PropertyValue -InputObject $Value -Name $name
        if ($null -eq $part) {
            return [string]$Value
        }
        $parts += [string]$part
    }
    $parts -join '.'
}
