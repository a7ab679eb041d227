# The Mitigation Service's Application-log events (1005, 1006, 1008), newest
# first, with UTC times; optionally only those at or after $Since (UTC).
function Read-MitigationServiceEvent {
    param([int]$MaxEvents = 20, $Since = $null)
    $filter = @{ LogName = 'Application'; ProviderName = 'MSExchange Mitigation Service'; Id = 1005, 1006, 1008 }
    if ($null -ne $Since) {
        # StartTime is compared with local event times.
        $filter.StartTime = $Since.ToLocalTime()
    }
    $events = @()
    foreach ($entry in Get-WinEvent -FilterHashtable $filter -MaxEvents $MaxEvents -ErrorAction SilentlyContinue) {
        $events += [ordered]@{
            id = $entry.Id
            level = [string]$entry.LevelDisplayName
            time = $entry.TimeCreated.ToUniversalTime().ToString('o')
            message = [string]$entry.Message
        }
    }
    $events
}
