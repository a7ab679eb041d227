# The server fetches one installer from the package repository itself (HTTP(S)
# or a UNC share): nothing large crosses WinRM. The file lands under a
# .partial name and gets its staged name only when size, SHA256 and the
# Authenticode signer all match; otherwise it is deleted, so nothing can ever
# be installed from it.
# Uses: Copy-RepositoryFile, Get-InstallerSignature
param($HostArgs)

$repository = $HostArgs.repository
$url = [string]$repository.url
$name = [string]$HostArgs.name
$stagingDir = [string]$HostArgs.staging_dir
$final = Join-Path -Path $stagingDir -ChildPath ([string]$HostArgs.staged_name)
$partial = $final + '.partial'
$steps = @()

if (-not (Test-Path -LiteralPath $stagingDir -PathType Container)) {
    New-Item -Path $stagingDir -ItemType Directory -Force | Out-Null
    $steps += [ordered]@{ name = 'create_staging_dir'; changed = $true; detail = $stagingDir }
}
foreach ($stale in $final, $partial) {
    # The controller found this file wrong (or half-downloaded): replace it.
    if (Test-Path -LiteralPath $stale) {
        Remove-Item -LiteralPath $stale -Force
        $steps += [ordered]@{ name = 'remove_stale'; changed = $true; detail = $stale }
    }
}

Copy-RepositoryFile -Repository $repository -Name $name -Destination $partial
$steps += [ordered]@{ name = 'download'; changed = $true; detail = $name }

$size = (Get-Item -LiteralPath $partial).Length
$sha256 = (Get-FileHash -LiteralPath $partial -Algorithm SHA256).Hash.ToLowerInvariant()
$signature = Get-InstallerSignature -Path $partial
$allowed = @($HostArgs.allowed_signers | ForEach-Object { ([string]$_).ToLowerInvariant() })
$reason = $null
if ($size -ne [long]$HostArgs.size) {
    $reason = 'size'
}
elseif ($sha256 -ne ([string]$HostArgs.sha256).ToLowerInvariant()) {
    $reason = 'sha256'
}
elseif ($signature.status -ne 'Valid') {
    $reason = 'signature'
}
elseif ($allowed -notcontains ([string]$signature.signer).ToLowerInvariant()) {
    $reason = 'signer'
}

if ($null -eq $reason) {
    Move-Item -LiteralPath $partial -Destination $final -Force
    $steps += [ordered]@{ name = 'verify'; changed = $true; detail = 'verified' }
}
else {
    Remove-Item -LiteralPath $partial -Force
    $steps += [ordered]@{ name = 'verify'; changed = $true; detail = ('{0} mismatch: removed' -f $reason) }
}

@{
    changed = $true
    data = [ordered]@{
        staged_name = [string]$HostArgs.staged_name
        path = $final
        exists = ($null -eq $reason)
        removed = ($null -ne $reason)
        mismatch = $reason
        size = $size
        sha256 = $sha256
        signature_status = $signature.status
        signer = $signature.signer
    }
    steps = $steps
}
