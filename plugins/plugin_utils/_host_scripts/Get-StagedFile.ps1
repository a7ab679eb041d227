# Reports what is in the staging folder: each wanted file's size, SHA256 and
# Authenticode signature, and the free space of the folder's drive. Reads only;
# the controller judges the files against the repository manifest.
# Uses: Get-InstallerSignature
param($HostArgs)

$stagingDir = [string]$HostArgs.staging_dir
$root = [System.IO.Path]::GetPathRoot($stagingDir)
$drive = New-Object -TypeName System.IO.DriveInfo -ArgumentList $root
$files = @()
foreach ($wanted in @($HostArgs.files)) {
    $path = Join-Path -Path $stagingDir -ChildPath ([string]$wanted.staged_name)
    $report = [ordered]@{ staged_name = [string]$wanted.staged_name; path = $path; exists = $false; size = $null; sha256 = $null; signature_status = $null; signer = $null }
    if (Test-Path -LiteralPath $path -PathType Leaf) {
        $report.exists = $true
        $report.size = (Get-Item -LiteralPath $path).Length
        # Hashing a 6 GB image takes a while: only when the size already matches.
        if ($report.size -eq [long]$wanted.size) {
            $report.sha256 = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
            $signature = Get-InstallerSignature -Path $path
            $report.signature_status = $signature.status
            $report.signer = $signature.signer
        }
    }
    $files += $report
}

@{
    changed = $false
    data = [ordered]@{
        staging_dir = $stagingDir
        staging_dir_exists = (Test-Path -LiteralPath $stagingDir -PathType Container)
        free_disk_gb = [math]::Round($drive.AvailableFreeSpace / 1GB, 2)
        files = $files
    }
}
