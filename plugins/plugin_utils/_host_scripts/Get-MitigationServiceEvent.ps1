# Returns the Mitigation Service's Application-log events (1005, 1006, 1008)
# written at or after a given time, newest first, with the host's own clock,
# so the controller can tell fresh evidence from old. Changes nothing and
# needs no Exchange cmdlets, so it is cheap to poll.
param($HostArgs)

$styles = [System.Globalization.DateTimeStyles]::AdjustToUniversal -bor [System.Globalization.DateTimeStyles]::AssumeUniversal
$since = [DateTime]::Parse([string]$HostArgs.since, [System.Globalization.CultureInfo]::InvariantCulture, $styles)
$maxEvents = 50
if ($null -ne $HostArgs.max_events) {
    $maxEvents = [int]$HostArgs.max_events
}
# StartTime is compared with local event times.
$filter = @{ LogName = 'Application'; ProviderName = 'MSExchange Mitigation Service'; Id = 1005, 1006, 1008; StartTime = $since.ToLocalTime() }
$events = @()
foreach ($entry in Get-WinEvent -FilterHashtable $filter -MaxEvents $maxEvents -ErrorAction SilentlyContinue) {
    $events += [ordered]@{
        id = $entry.Id
        level = [string]$entry.LevelDisplayName
        time = $entry.TimeCreated.ToUniversalTime().ToString('o')
        message = [string]$entry.Message
    }
}
$data = [ordered]@{
    now = (Get-Date).ToUniversalTime().ToString('o')
    since = $since.ToString('o')
    events = $events
}
@{ changed = $false; data = $data }
