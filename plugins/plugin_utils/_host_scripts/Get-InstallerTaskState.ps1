# Short, read-only poll of the installer task started by Start-InstallerTask:
# running or finished, its exit code, the tail of this run's log and the
# verdict lines of the whole run's log (log_markers): a verbose MSI log puts
# hundreds of property lines after "Installation operation completed
# successfully", so its tail alone never shows the verdict. Safe to repeat
# after a dropped connection; a task that is gone or was ended by a restart
# is reported as vanished, never as finished.
param($HostArgs)
$taskName = 'Install Exchange update'
$taskPath = '\onprem.exchange\'
$recordPath = Join-Path -Path ([string]$HostArgs.staging_dir) -ChildPath 'onprem-exchange-installer.json'
$tailLines = [int]$HostArgs.tail_lines
if ($tailLines -lt 1) {
    $tailLines = 200
}
$result = [ordered]@{ state = 'none'; task_id = $null; kind = $null; installer = $null; update = $null; exit_code = $null; started = $null; log_tail = @(); log_markers = @() }
if (-not (Test-Path -LiteralPath $recordPath)) {
    return @{ changed = $false; data = $result }
}
$record = Get-Content -LiteralPath $recordPath -Raw | ConvertFrom-Json
$result.task_id = $record.task_id
$result.kind = $record.kind
$result.installer = $record.installer
$result.update = $record.update
$result.started = $record.started

# Task Scheduler's own codes: still running, never ran, terminated by the
# user or system, and the process killed by a shutdown.
$notAnExitCode = @(267009, 267011, 267014, -2147023673)
$task = Get-ScheduledTask -TaskName $taskName -TaskPath $taskPath -ErrorAction SilentlyContinue
if ($null -eq $task) {
    $result.state = 'vanished'
}
elseif ($task.State -eq 'Running') {
    $result.state = 'running'
}
else {
    $info = Get-ScheduledTaskInfo -InputObject $task
    $started = [datetime]::Parse($record.started).ToUniversalTime()
    if ($info.LastRunTime.ToUniversalTime() -lt $started.AddMinutes(-1) -or $notAnExitCode -contains $info.LastTaskResult) {
        $result.state = 'vanished'
    }
    else {
        $result.state = 'finished'
        $result.exit_code = [int]$info.LastTaskResult
    }
}

if (Test-Path -LiteralPath $record.log_path) {
    $stream = [System.IO.File]::Open($record.log_path, 'Open', 'Read', 'ReadWrite')
    try {
        if ([long]$record.log_offset -le $stream.Length) {
            $stream.Seek([long]$record.log_offset, 'Begin') | Out-Null
        }
        $reader = New-Object -TypeName System.IO.StreamReader -ArgumentList $stream
        $lines = $reader.ReadToEnd() -split "`r?`n" | Where-Object { $_ }
        $result.log_tail = @($lines | Select-Object -Last $tailLines)
        # Fixed verdict texts of msiexec and Exchange Setup; the newest 50.
        $verdicts = 'completed successfully|operation failed|return value 3|is returning|didn''t complete|rolled back'
        $result.log_markers = @($lines | Where-Object { $_ -match $verdicts } | Select-Object -Last 50)
    }
    finally {
        $stream.Dispose()
    }
}
@{ changed = $false; data = $result }
