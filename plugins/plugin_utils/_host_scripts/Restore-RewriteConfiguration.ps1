# Puts back the web.config files of one rewrite backup (by id, or the newest)
# exactly as they were copied, and checks each against the SHA256 recorded
# when the backup was made. A file that already matches is left alone, so
# restoring twice changes nothing the second time.
param($HostArgs)

$backupRoot = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\config\onprem.exchange\rewrite-backups'
$folders = @(Get-ChildItem -LiteralPath $backupRoot -Directory -ErrorAction SilentlyContinue | Sort-Object -Property Name)
if ($folders.Count -eq 0) {
    throw 'No rewrite configuration backup exists on this server.'
}
$wanted = [string]$HostArgs.backup
if (-not $wanted -or $wanted -eq 'latest') {
    $folder = $folders[-1]
}
else {
    $folder = $folders | Where-Object { $_.Name -eq $wanted } | Select-Object -First 1
    if ($null -eq $folder) {
        throw ('Backup {0} does not exist. Backups on this server: {1}' -f $wanted, (($folders | ForEach-Object { $_.Name }) -join ', '))
    }
}
$manifest = Get-Content -LiteralPath (Join-Path -Path $folder.FullName -ChildPath 'backup.json') -Raw | ConvertFrom-Json
$restored = @()
$steps = @()
foreach ($record in @($manifest.files)) {
    $target = [string]$record.file
    if ([bool]$record.existed) {
        $copy = Join-Path -Path $folder.FullName -ChildPath ([string]$record.copy)
        $current = $null
        if (Test-Path -LiteralPath $target) {
            $current = (Get-FileHash -LiteralPath $target -Algorithm SHA256).Hash.ToLowerInvariant()
        }
        if ($current -ne [string]$record.sha256) {
            Copy-Item -LiteralPath $copy -Destination $target -Force
            $after = (Get-FileHash -LiteralPath $target -Algorithm SHA256).Hash.ToLowerInvariant()
            if ($after -ne [string]$record.sha256) {
                throw ('{0} does not match the backup after restoring it (SHA256 {1}, expected {2}).' -f $target, $after, [string]$record.sha256)
            }
            $restored += $target
            $steps += [ordered]@{ step = 'restore'; file = $target; ok = $true }
        }
    }
    elseif (Test-Path -LiteralPath $target) {
        # The file did not exist when the backup was made.
        Remove-Item -LiteralPath $target -Force
        $restored += $target
        $steps += [ordered]@{ step = 'delete'; file = $target; ok = $true }
    }
}
$data = [ordered]@{
    backup = [ordered]@{ id = [string]$manifest.id; time = [string]$manifest.time; path = $folder.FullName }
    restored_files = $restored
}
@{ changed = ($restored.Count -gt 0); data = $data; steps = $steps }
