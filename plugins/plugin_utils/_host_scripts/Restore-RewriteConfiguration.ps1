# Puts back the files of one rewrite backup (by id, or the newest) exactly as
# they were copied: the web.config files, and applicationHost.config when the
# backup holds it (Set-RewriteRules copies it only when a change was made
# there). Each file is checked against the SHA256 recorded when the backup
# was made. A file that already matches is left alone, so restoring twice
# changes nothing the second time.
# Uses: Get-PropertyValue
param($HostArgs)

$backupRoot = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\config\onprem.exchange\rewrite-backups'
$folders = @(Get-ChildItem -LiteralPath $backupRoot -Directory -ErrorAction SilentlyContinue | Sort-Object -Property Name)
if ($folders.Count -eq 0) {
    throw 'No rewrite configuration backup exists on this server.'
}
$wanted = [string](Get-PropertyValue -InputObject $HostArgs -Name 'backup' -Default '')
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
$records = @(Get-PropertyValue -InputObject $manifest -Name 'files' -Default @())
# applicationHost.config holds all of IIS's configuration, not only rewrite
# rules: put it back only when nothing but our own change has touched it
# since (its SHA256 is still the one recorded after the change), otherwise
# the restore would undo someone else's changes (an update's, an admin's).
# Checked before any file is written.
$appHostPath = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\config\applicationHost.config'
foreach ($record in $records) {
    $target = [string](Get-PropertyValue -InputObject $record -Name 'file' -Default '')
    if ($target -ne $appHostPath -or -not (Test-Path -LiteralPath $target)) {
        continue
    }
    $current = (Get-FileHash -LiteralPath $target -Algorithm SHA256).Hash.ToLowerInvariant()
    $before = [string](Get-PropertyValue -InputObject $record -Name 'sha256' -Default '')
    $after = [string](Get-PropertyValue -InputObject $record -Name 'after_sha256' -Default '')
    if ($current -ne $before -and $current -ne $after) {
        throw ('{0} has changed since backup {1} was made and changed it; restoring it would undo those other changes too. Nothing was restored. Compare it with its copy in {2} and put the rewrite entries back by hand.' -f $target, [string]$folder.Name, $folder.FullName)
    }
}
$restored = @()
$steps = @()
foreach ($record in $records) {
    $target = [string](Get-PropertyValue -InputObject $record -Name 'file' -Default '')
    $expected = [string](Get-PropertyValue -InputObject $record -Name 'sha256' -Default '')
    if ([bool](Get-PropertyValue -InputObject $record -Name 'existed' -Default $false)) {
        $copy = Join-Path -Path $folder.FullName -ChildPath ([string](Get-PropertyValue -InputObject $record -Name 'copy' -Default ''))
        $current = $null
        if (Test-Path -LiteralPath $target) {
            $current = (Get-FileHash -LiteralPath $target -Algorithm SHA256).Hash.ToLowerInvariant()
        }
        if ($current -ne $expected) {
            Copy-Item -LiteralPath $copy -Destination $target -Force
            $after = (Get-FileHash -LiteralPath $target -Algorithm SHA256).Hash.ToLowerInvariant()
            if ($after -ne $expected) {
                throw ('{0} does not match the backup after restoring it (SHA256 {1}, expected {2}).' -f $target, $after, $expected)
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
    backup = [ordered]@{
        id = [string](Get-PropertyValue -InputObject $manifest -Name 'id' -Default $folder.Name)
        time = [string](Get-PropertyValue -InputObject $manifest -Name 'time' -Default '')
        path = $folder.FullName
    }
    restored_files = $restored
}
@{ changed = ($restored.Count -gt 0); data = $data; steps = $steps }
