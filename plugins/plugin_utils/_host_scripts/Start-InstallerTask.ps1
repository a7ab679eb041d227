# Starts one Exchange installer as a scheduled task and returns at once.
# Why a task: Setup needs Active Directory, which a WinRM network logon cannot
# reach on the user's behalf (the second hop), while a task registered with
# the account's password runs as a full logon; and a task keeps running when
# the WinRM connection drops or the controller goes away.
# Kinds: cu (Setup /Mode:Upgrade from the mounted ISO), prepare_schema and
# prepare_ad (Setup from the ISO), su (msiexec /p with the .msp, elevated and
# quiet), dotnet (the .NET offline installer, quiet). The command lines are
# fixed here; only the installer path comes from the arguments, and it is
# refused if it could break out of its quotes. Setup switches are picked
# here from fixed text by the arguments' values, never taken from them.
# Exchange 2013 CUs ship as a self-extracting .exe, not an ISO: the task
# first unpacks it quietly into a folder beside it, then runs Setup from
# there with the same switches. The unpack switches changed with the
# package format (see the catalog's installers.cu "Exchange 2013" entry for
# the sources): 'x' up to CU20, 'rar' for CU21, 'extract' for CU23; the
# controller sends which one ('unpack'), and without one the package is not
# unpacked blindly (a wrong switch can leave a dialog waiting for ever).
# A record of the run (task id, log file, where the log started) is kept
# beside the installers so that Get-InstallerTaskState can judge this run
# alone, after a dropped connection or a restart.
# On an Edge Transport server: no AD preparation (it is outside the domain
# and keeps its configuration in its own AD LDS instance; AD is prepared from
# a domain member), and no Extended Protection opt-out (EP is an IIS setting
# and Edge has no IIS; CSS-Exchange HealthChecker checks EP only where
# IsEdgeServer is false, Analyzer/Security/Invoke-AnalyzerSecurityExtendedProtectionConfigState.ps1).
# Uses: Get-PropertyValue, Test-BuildThreshold, Test-EdgeTransportRole
param($HostArgs)
$taskName = 'Install Exchange update'
$taskPath = '\onprem.exchange\'
$kind = [string]$HostArgs.kind
$installer = [string]$HostArgs.installer_path
$stagingDir = [string]$HostArgs.staging_dir
if (@('cu', 'prepare_schema', 'prepare_ad', 'su', 'dotnet') -notcontains $kind) {
    throw ('Unknown installer kind {0}.' -f $kind)
}
$protection = [string](Get-PropertyValue -InputObject $HostArgs -Name 'extended_protection' -Default 'setup_default')
if (@('setup_default', 'off', 'off_frontend_ews') -notcontains $protection) {
    throw ('Unknown extended_protection choice {0}.' -f $protection)
}
$edge = [bool](Test-EdgeTransportRole)
if ($edge -and @('prepare_schema', 'prepare_ad') -contains $kind) {
    throw 'This is an Edge Transport server: it is outside the domain and never prepares Active Directory; prepare it from a Mailbox server.'
}
$licenceChoice = [string](Get-PropertyValue -InputObject $HostArgs -Name 'licence' -Default 'diagnostic_data')
if (@('diagnostic_data', 'legacy', 'by_media') -notcontains $licenceChoice) {
    throw ('Unknown licence choice {0}.' -f $licenceChoice)
}
$unpack = [string](Get-PropertyValue -InputObject $HostArgs -Name 'unpack' -Default '')
if (@('', 'x', 'rar', 'extract') -notcontains $unpack) {
    throw ('Unknown unpack choice {0}.' -f $unpack)
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
$switches = @()
$mediaVersion = $null
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
    $extractTo = $null
    if ($installer.EndsWith('.exe', [System.StringComparison]::OrdinalIgnoreCase)) {
        $extractTo = Join-Path -Path (Split-Path -Path $installer -Parent) -ChildPath ([System.IO.Path]::GetFileNameWithoutExtension($installer))
        $mediaRoot = $extractTo
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
        $mediaRoot = '{0}:\' -f $letter
    }
    # The media's own version (ExSetup.exe on the media carries the CU's
    # build, as the installed one does) decides which switches it knows.
    $mediaVersion = $null
    foreach ($candidate in 'Setup\ServerRoles\Common\ExSetup.exe', 'Setup.exe') {
        $file = Join-Path -Path $mediaRoot -ChildPath $candidate
        if ($null -eq $mediaVersion -and (Test-Path -LiteralPath $file -PathType Leaf)) {
            $mediaVersion = [string](Get-Item -LiteralPath $file).VersionInfo.FileVersion
        }
    }
    if ($null -eq $mediaVersion -and $null -ne $extractTo) {
        # Not unpacked yet: only Exchange 2013 CUs come as an .exe.
        $mediaVersion = '15.0.0.0'
    }
    $rules = Get-PropertyValue -InputObject $HostArgs -Name 'media_rules'
    if ($licenceChoice -eq 'by_media') {
        if ($null -eq $mediaVersion) {
            throw ('Cannot read the Setup version of {0}, so the licence switch it expects is unknown.' -f $installer)
        }
        $licenceChoice = 'legacy'
        if (Test-BuildThreshold -Version $mediaVersion -Thresholds (Get-PropertyValue -InputObject $rules -Name 'diagnostic_data_from')) {
            $licenceChoice = 'diagnostic_data'
        }
    }
    # The _DiagnosticData form exists from 2019 CU11 / 2016 CU22 and in SE;
    # older Setup knows only the plain switch.
    $switches = @(@{ cu = '/Mode:Upgrade'; prepare_schema = '/PrepareSchema'; prepare_ad = '/PrepareAD' }[$kind])
    if ($licenceChoice -eq 'diagnostic_data') {
        $switches += '/IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF'
    }
    else {
        $switches += '/IAcceptExchangeServerLicenseTerms'
    }
    # Extended Protection opt-outs for sites that offload or bridge SSL; only
    # the Setup that turns EP on by itself (2019 CU14 and later, SE) has them.
    if ($kind -eq 'cu' -and $protection -ne 'setup_default' -and -not $edge) {
        if ($null -eq $mediaVersion) {
            throw ('Cannot read the Setup version of {0}, so whether it takes the Extended Protection opt-out is unknown.' -f $installer)
        }
        if (Test-BuildThreshold -Version $mediaVersion -Thresholds (Get-PropertyValue -InputObject $rules -Name 'extended_protection_from')) {
            $switches += @{ off = '/DoNotEnableEP'; off_frontend_ews = '/DoNotEnableEP_FEEWS' }[$protection]
        }
    }
    $setupPath = Join-Path -Path $mediaRoot -ChildPath 'Setup.exe'
    if ($null -ne $extractTo -and -not (Test-Path -LiteralPath $setupPath -PathType Leaf)) {
        if ($unpack -eq '') {
            throw ('The unpack switches of {0} are not known, so it is not unpacked blindly. Unpack it into {1} by hand (Setup.exe directly in that folder) and run the task again.' -f $installer, $extractTo)
        }
        $unpackArguments = @{
            x = '/X:"{0}" /Q'
            rar = '"-d{0}" -s'
            extract = '/extract:"{0}" /q'
        }[$unpack] -f $extractTo
        # Unpack, then Setup, in one task run; && keeps Setup from starting
        # when the unpacking failed, and the task's result is the failing step's.
        $execute = Join-Path -Path $env:SystemRoot -ChildPath 'System32\cmd.exe'
        $arguments = '/d /s /c ""{0}" {1} && "{2}" {3}"' -f $installer, $unpackArguments, $setupPath, ($switches -join ' ')
    }
    else {
        $execute = $setupPath
        $arguments = $switches -join ' '
    }
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
    data = [ordered]@{ task_id = $record.task_id; already_running = $false; log_path = $logPath; kind = $kind; setup_switches = $switches; media_version = $mediaVersion }
    steps = @([ordered]@{ name = 'installer_started'; changed = $true; detail = ('{0} {1}' -f $kind, $installer) })
}
