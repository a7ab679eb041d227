# Uses: Get-PropertyValue
# One entry of a server component's LocalStates/RemoteStates as
# [ordered]@{ requester; state }, whatever form it arrives in: a live object
# or property bag with Requester/State, or only its text. HealthChecker's
# real exports show both: 2016/2019 entries carry Requester/State and the text
# "Requestor:Functional; State:Active; Timestamp:..." (note the spelling),
# 2013 entries only the type name as text (CSS-Exchange, Diagnostics/
# HealthChecker/Tests/DataCollection/E16/Exchange/GetServerComponentState.xml
# and, before commit de315afe, .../E15/Exchange/GetServerComponentState.xml).
# Returns $null when neither can be read.
function ConvertFrom-RequesterDetail {
    param($Value)
    if ($null -eq $Value) {
        return $null
    }
    $requester = $null
    $state = $null
    if (-not ($Value -is [string])) {
        $requester = Get-PropertyValue -InputObject $Value -Name 'Requester'
        $state = Get-PropertyValue -InputObject $Value -Name 'State'
    }
    $text = [string]$Value
    if ($null -eq $requester -and $text -match 'Request[eo]r\s*:\s*([^;]+)') {
        $requester = $Matches[1].Trim()
    }
    if ($null -eq $state -and $text -match '(^|;)\s*State\s*:\s*([^;]+)') {
        $state = $Matches[2].Trim()
    }
    if ($null -eq $requester -and $null -eq $state) {
        return $null
    }
    [ordered]@{ requester = [string]$requester; state = [string]$state }
}
