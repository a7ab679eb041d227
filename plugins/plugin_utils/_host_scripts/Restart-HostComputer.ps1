# Asks Windows to restart a few seconds from now, so that this answer gets
# back to the controller before the WinRM service stops. shutdown.exe is
# used because Restart-Computer -Force restarts at once and the answer (and
# with it the proof that the request was accepted) would be lost.
# The controller proves the restart by a changed boot time afterwards.
param($HostArgs)
$delay = [int]$HostArgs.delay_seconds
if ($delay -lt 1 -or $delay -gt 600) {
    $delay = 2
}
$reason = [string]$HostArgs.reason
if ($reason.Length -gt 200) {
    $reason = $reason.Substring(0, 200)
}
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$bootBefore = $os.LastBootUpTime.ToUniversalTime().ToString('o')
# p:2:17 = planned, operating system, hot fix: what a patch restart is.
$output = & "$env:SystemRoot\System32\shutdown.exe" /r /t $delay /d p:2:17 /c ('onprem.exchange: ' + $reason) 2>&1
if ($LASTEXITCODE -ne 0) {
    throw ('shutdown.exe refused the restart (exit code {0}): {1}' -f $LASTEXITCODE, (($output | Out-String).Trim()))
}
@{
    changed = $true
    data = [ordered]@{ last_boot = $bootBefore; delay_seconds = $delay }
    steps = @([ordered]@{ name = 'restart_requested'; changed = $true; detail = ('restart in {0} s' -f $delay) })
}
