# Whether a dotted build ("15.02.0986.005") is at or past the threshold of
# its own version line (major.minor) in a list of dotted builds; a line with
# no threshold never is (Exchange 2013 has none of the newer Setup switches).
# Both are file or catalog versions, never Exchange cmdlet values.
function Test-BuildThreshold {
    param([string]$Version, $Thresholds)
    $have = $null
    if (-not [System.Version]::TryParse($Version, [ref]$have)) {
        return $false
    }
    foreach ($text in @($Thresholds)) {
        $need = $null
        if ($null -ne $text -and [System.Version]::TryParse([string]$text, [ref]$need) -and $need.ToString(2) -eq $have.ToString(2)) {
            return ($have -ge $need)
        }
    }
    $false
}
