# A flag read from an Exchange value as $true/$false, or $null when it was
# not there at all (a property older builds lack, read through
# Get-PropertyValue). [bool] alone would turn $null into $false and the text
# "False" into $true.
function ConvertTo-NullableBoolean {
    param($Value)
    if ($null -eq $Value) {
        return $null
    }
    if ($Value -is [bool]) {
        return $Value
    }
    $text = ([string]$Value).Trim()
    if ($text -eq 'True') {
        return $true
    }
    if ($text -eq 'False' -or $text -eq '') {
        return $false
    }
    if ($text -match '^-?\d+$') {
        return ([int64]$text) -ne 0
    }
    [bool]$Value
}
