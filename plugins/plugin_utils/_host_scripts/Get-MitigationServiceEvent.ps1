# Returns the Mitigation Service's Application-log events (1005, 1006, 1008)
# written at or after a given time, newest first, with the host's own clock,
# so the controller can tell fresh evidence from old. Changes nothing and
# needs no Exchange cmdlets, so it is cheap to poll.
# Uses: Get-PropertyValue, Read-MitigationServiceEvent
param($HostArgs)

$styles = [System.Globalization.DateTimeStyles]::AdjustToUniversal -bor [System.Globalization.DateTimeStyles]::AssumeUniversal
$since = [DateTime]::Parse([string]$HostArgs.since, [System.Globalization.CultureInfo]::InvariantCulture, $styles)
# max_events is optional: the controller usually sends only "since", and
# reading an absent property of the JSON object throws under StrictMode.
$maxEvents = [int](Get-PropertyValue -InputObject $HostArgs -Name 'max_events' -Default 50)
$events = @(Read-MitigationServiceEvent -MaxEvents $maxEvents -Since $since)
$data = [ordered]@{
    now = (Get-Date).ToUniversalTime().ToString('o')
    since = $since.ToString('o')
    events = $events
}
@{ changed = $false; data = $data }
