# Whether a dotted build ("15.02.0986.005") is at or past the threshold of
# its own version line (major.minor) in a list of dotted builds; a line with
# no threshold never is (Exchange 2013 has none of the newer Setup switches).
function Test-BuildThreshold {
    param([string]$Version, $Thresholds)
    $have = $null
    if (-not [System.Version]::TryParse($Version, [ref]$have)) {
        return $false
    }
    foreach ($text in @($Thresholds)) {
        $need = $null
        if ($null -ne $text -and [System.Version]::TryParse([string]$text, [ref]$need) -and $need.Major -eq $have.Major -and $need.Minor -eq $have.Minor) {
            return ($have -ge $need)
        }
    }
    $false
}
