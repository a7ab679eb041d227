# Returns the Mitigation Service's Application-log events (1005, 1006, 1008)
# written at or after a given time, newest first, with the host's own clock,
# so the controller can tell fresh evidence from old. Changes nothing and
# needs no Exchange cmdlets, so it is cheap to poll.
# Uses: Read-MitigationServiceEvent
param($HostArgs)

$styles = [System.Globalization.DateTimeStyles]::AdjustToUniversal -bor [System.Globalization.DateTimeStyles]::AssumeUniversal
$since = [DateTime]::Parse([string]$HostArgs.since, [System.Globalization.CultureInfo]::InvariantCulture, $styles)
$maxEvents = 50
if ($null -ne $HostArgs.max_events) {
    $maxEvents = [int]$HostArgs.max_events
}
$events = @(Read-MitigationServiceEvent -MaxEvents $maxEvents -Since $since)
$data = [ordered]@{
    now = (Get-Date).ToUniversalTime().ToString('o')
    since = $since.ToString('o')
    events = $events
}
@{ changed = $false; data = $data }
