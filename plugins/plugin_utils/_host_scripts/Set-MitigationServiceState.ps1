# Makes the Mitigation Service (MSExchangeMitigation) start automatically and
# run, and restarts it when asked: a start or restart makes the service check
# for mitigations at once, which is how the controller forces a check.
# Returns 'checked_from', the host time taken just before the start, so the
# controller reads only events the forced check wrote. A service that will
# not start is reported in 'start_error', not thrown, so the controller can
# say why it is not working.
param($HostArgs)

$name = 'MSExchangeMitigation'
$service = Get-Service -Name $name -ErrorAction Stop
$changed = $false
$steps = @()
if ($HostArgs.start_mode -and [string]$service.StartType -ne [string]$HostArgs.start_mode) {
    Set-Service -Name $name -StartupType ([string]$HostArgs.start_mode) -ErrorAction Stop
    $changed = $true
    $steps += [ordered]@{ step = 'StartType'; outcome = [string]$HostArgs.start_mode }
}
$service.Refresh()
$checkedFrom = (Get-Date).ToUniversalTime().ToString('o')
$started = $false
$restarted = $false
$startError = $null
try {
    if ($service.Status -ne 'Running' -and [bool]$HostArgs.start) {
        Start-Service -Name $name -ErrorAction Stop
        $started = $true
        $changed = $true
        $steps += [ordered]@{ step = 'Start-Service'; outcome = 'done' }
    }
    elseif ($service.Status -eq 'Running' -and [bool]$HostArgs.restart) {
        Restart-Service -Name $name -ErrorAction Stop
        $restarted = $true
        $changed = $true
        $steps += [ordered]@{ step = 'Restart-Service'; outcome = 'done' }
    }
}
catch {
    $startError = $_.Exception.Message
    $steps += [ordered]@{ step = 'Start-Service'; outcome = 'failed' }
}
$service.Refresh()
$data = [ordered]@{
    name = $name
    start_mode = [string]$service.StartType
    state = [string]$service.Status
    started = $started
    restarted = $restarted
    checked_from = $checkedFrom
    start_error = $startError
}
@{ changed = $changed; data = $data; steps = $steps }
