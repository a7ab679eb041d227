# Starts one Exchange installer as a scheduled task and returns at once.
# Why a task: Setup needs Active Directory, which a WinRM network logon cannot
# reach on the user's behalf (the second hop), while a task registered with
# the account's password runs as a full logon; and a task keeps running when
# the WinRM connection drops or the controller goes away.
# Kinds: cu (Setup /Mode:Upgrade from the mounted ISO), prepare_schema and
# prepare_ad (Setup from the ISO), su (msiexec /p with the .msp, elevated and
# quiet), dotnet (the .NET offline installer, quiet). The command lines are
# fixed here; only the installer path comes from the arguments, and it is
# refused if it could break out of its quotes.
# A record of the run (task id, log file, where the log started) is kept
# beside the installers so that Get-InstallerTaskState can judge this run
# alone, after a dropped connection or a restart.
param($HostArgs)
$taskName = 'Install Exchange update'
$taskPath = '\onprem.exchange\'
$kind = [string]$HostArgs.kind
$installer = [string]$HostArgs.installer_path
$stagingDir = [string]$HostArgs.staging_dir
if (@('cu', 'prepare_schema', 'prepare_ad', 'su', 'dotnet') -notcontains $kind) {
    throw ('Unknown installer kind {0}.' -f $kind)
}
if ($installer.IndexOfAny([char[]]'"%') -ge 0 -or $stagingDir.IndexOfAny([char[]]'"%') -ge 0) {
    throw 'The installer path and staging folder must not contain double quotes or percent signs.'
}
if (-not (Test-Path -LiteralPath $installer -PathType Leaf)) {
    throw ('The installer {0} is not staged on this server; stage it with onprem.exchange.update_stage first.' -f $installer)
}
$recordPath = Join-Path -Path $stagingDir -ChildPath 'onprem-exchange-installer.json'

$existing = Get-ScheduledTask -TaskName $taskName -TaskPath $taskPath -ErrorAction SilentlyContinue
if ($null -ne $existing -and $existing.State -eq 'Running') {
    # Never start a second installer; hand back the running one to poll.
    $record = Get-Content -LiteralPath $recordPath -Raw -ErrorAction Stop | ConvertFrom-Json
    if ($record.installer -ne $installer -or $record.kind -ne $kind) {
        throw ('Another installer is running on this server: {0} ({1}) since {2}.' -f $record.installer, $record.kind, $record.started)
    }
    return @{ changed = $false; data = [ordered]@{ task_id = $record.task_id; already_running = $true; log_path = $record.log_path; kind = $kind } }
}

$logOffset = 0
if ($kind -eq 'su' -or $kind -eq 'dotnet') {
    $execute = Join-Path -Path $env:SystemRoot -ChildPath 'System32\msiexec.exe'
    $logPath = $installer + '.log'
    Remove-Item -LiteralPath $logPath -Force -ErrorAction SilentlyContinue
    if ($kind -eq 'su') {
        $arguments = '/p "{0}" /qn /norestart /l*v "{1}"' -f $installer, $logPath
    }
    else {
        $execute = $installer
        $arguments = '/q /norestart /log "{0}"' -f $logPath
    }
}
else {
    $image = Get-DiskImage -ImagePath $installer
    if (-not $image.Attached) {
        $image = Mount-DiskImage -ImagePath $installer -StorageType ISO -PassThru
    }
    $letter = ($image | Get-Volume).DriveLetter
    if (-not $letter) {
        throw ('The ISO {0} is mounted but has no drive letter.' -f $installer)
    }
    $execute = '{0}:\Setup.exe' -f $letter
    # The _DiagnosticData form exists from 2019 CU11 / 2016 CU22 and in SE.
    $licence = '/IAcceptExchangeServerLicenseTerms'
    if ([string]$HostArgs.licence -eq 'diagnostic_data') {
        $licence = '/IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF'
    }
    $mode = @{ cu = '/Mode:Upgrade'; prepare_schema = '/PrepareSchema'; prepare_ad = '/PrepareAD' }[$kind]
    $arguments = '{0} {1}' -f $mode, $licence
    $logPath = Join-Path -Path $env:SystemDrive -ChildPath 'ExchangeSetupLogs\ExchangeSetup.log'
    if (Test-Path -LiteralPath $logPath) {
        # Setup appends to one log; judge only what this run writes.
        $logOffset = (Get-Item -LiteralPath $logPath).Length
    }
}

$action = New-ScheduledTaskAction -Execute $execute -Argument $arguments
$settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit (New-TimeSpan -Hours 8) -MultipleInstances IgnoreNew -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
$password = [string]$HostArgs.password
Register-ScheduledTask -TaskName $taskName -TaskPath $taskPath -Action $action -Settings $settings -User ([string]$HostArgs.username) -Password $password -RunLevel Highest -Force -ErrorAction Stop | Out-Null
$password = $null

$record = [ordered]@{
    task_id = [guid]::NewGuid().ToString()
    kind = $kind
    installer = $installer
    update = [string]$HostArgs.update
    expected_build = [string]$HostArgs.expected_build
    log_path = $logPath
    log_offset = $logOffset
    started = (Get-Date).ToUniversalTime().ToString('o')
}
New-Item -ItemType Directory -Path $stagingDir -Force | Out-Null
Set-Content -LiteralPath $recordPath -Value (ConvertTo-Json -InputObject $record) -Encoding UTF8
Start-ScheduledTask -TaskName $taskName -TaskPath $taskPath
@{
    changed = $true
    data = [ordered]@{ task_id = $record.task_id; already_running = $false; log_path = $logPath; kind = $kind }
    steps = @([ordered]@{ name = 'installer_started'; changed = $true; detail = ('{0} {1}' -f $kind, $installer) })
}
