# Installs the IIS URL Rewrite module from the internal package repository.
# The server downloads the repository's manifest.json and the MSI itself;
# the MSI is run only when its size and SHA256 match the manifest and its
# Authenticode signature is valid and from an accepted signer. Then msiexec
# installs it quietly and the module is detected again, because msiexec's
# exit code alone does not prove the module is there. The installed product
# version is compared with min_version (the MSI ProductVersion, 7.2.1993 for
# URL Rewrite 2.1) and, only when no Uninstall entry names the product,
# rewrite.dll's file version with min_file_version (7.1.1993 for 2.1): the
# two are numbered apart (see Get-UrlRewriteState).
# Uses: Copy-RepositoryFile, Get-PropertyValue, Get-UrlRewriteState
param($HostArgs)

function Test-VersionAtLeast {
    param($Text, [string]$Minimum)
    $parsed = $null
    if ($null -eq $Text -or -not [version]::TryParse([string]$Text, [ref]$parsed)) {
        return $false
    }
    $parsed -ge [version]$Minimum
}

$baseUrl = [string](Get-PropertyValue -InputObject $HostArgs -Name 'repository_url' -Default '')
$package = [string](Get-PropertyValue -InputObject $HostArgs -Name 'package' -Default '')
$minimum = [string](Get-PropertyValue -InputObject $HostArgs -Name 'min_version' -Default '7.2.1993')
$minimumFile = [string](Get-PropertyValue -InputObject $HostArgs -Name 'min_file_version' -Default '7.1.1993')
$signers = @(Get-PropertyValue -InputObject $HostArgs -Name 'signers' -Default @() | ForEach-Object { [string]$_ })
if ($baseUrl -notmatch '^https?://') {
    throw ('repository_url must be an http(s) URL, not ''{0}''.' -f $baseUrl)
}
# The name becomes a file name and an msiexec argument: allow nothing else.
if ($package -notmatch '^[A-Za-z0-9._-]+\.msi$') {
    throw ('package ''{0}'' must be a plain .msi file name.' -f $package)
}
if (-not $baseUrl.EndsWith('/')) {
    $baseUrl += '/'
}
$repository = [ordered]@{ url = $baseUrl }
$work = Join-Path -Path $env:windir -ChildPath 'Temp\onprem.exchange'
New-Item -Path $work -ItemType Directory -Force | Out-Null
$msi = Join-Path -Path $work -ChildPath $package
$log = Join-Path -Path $work -ChildPath 'UrlRewriteInstall.log'
$steps = @()
$before = Get-UrlRewriteState

$manifestCopy = Join-Path -Path $work -ChildPath 'manifest.json'
Copy-RepositoryFile -Repository $repository -Name 'manifest.json' -Destination $manifestCopy
$manifest = ConvertFrom-Json -InputObject ([System.IO.File]::ReadAllText($manifestCopy, [System.Text.Encoding]::UTF8))
Remove-Item -LiteralPath $manifestCopy -Force -ErrorAction SilentlyContinue
$entry = @(Get-PropertyValue -InputObject $manifest -Name 'files' -Default @()) | Where-Object { (Get-PropertyValue -InputObject $_ -Name 'name') -eq $package } | Select-Object -First 1
if ($null -eq $entry) {
    throw ('Package {0} is not in the repository manifest {1}manifest.json.' -f $package, $baseUrl)
}
$expectedSize = Get-PropertyValue -InputObject $entry -Name 'size'
$expectedHash = [string](Get-PropertyValue -InputObject $entry -Name 'sha256' -Default '')
Copy-RepositoryFile -Repository $repository -Name $package -Destination $msi
$size = (Get-Item -LiteralPath $msi).Length
$digest = (Get-FileHash -LiteralPath $msi -Algorithm SHA256).Hash.ToLowerInvariant()
$steps += [ordered]@{ step = 'download'; size = $size; sha256 = $digest }
if ($null -eq $expectedSize -or $size -ne [long]$expectedSize -or $digest -ne $expectedHash.ToLowerInvariant()) {
    Remove-Item -LiteralPath $msi -Force
    throw ('Verification failed for {0}: size {1}, SHA256 {2}; the manifest says size {3}, SHA256 {4}. The file was deleted and nothing was installed.' -f $package, $size, $digest, $expectedSize, $expectedHash)
}
$signature = Get-AuthenticodeSignature -FilePath $msi
$signer = $null
if ($null -ne $signature.SignerCertificate) {
    $signer = [string]$signature.SignerCertificate.Subject
}
if ([string]$signature.Status -ne 'Valid' -or $signers -notcontains $signer) {
    Remove-Item -LiteralPath $msi -Force
    throw ('The Authenticode signature of {0} is {1} with signer ''{2}'', which is not an accepted signer. Nothing was installed.' -f $package, [string]$signature.Status, $signer)
}
$steps += [ordered]@{ step = 'verify'; sha256 = $digest; signer = $signer; ok = $true }
$process = Start-Process -FilePath 'msiexec.exe' -ArgumentList @('/i', ('"{0}"' -f $msi), '/quiet', '/norestart', '/log', ('"{0}"' -f $log)) -Wait -PassThru
# 3010: installed, a restart is needed to finish.
if ($process.ExitCode -ne 0 -and $process.ExitCode -ne 3010) {
    throw ('msiexec.exe /i {0} /quiet /norestart ended with exit code {1}; see the installer log {2}.' -f $package, $process.ExitCode, $log)
}
$steps += [ordered]@{ step = 'msiexec'; exit_code = $process.ExitCode }
$after = Get-UrlRewriteState
if ($null -ne $after.product_version) {
    $ok = $after.installed -and (Test-VersionAtLeast -Text $after.product_version -Minimum $minimum)
}
else {
    $ok = Test-VersionAtLeast -Text $after.file_version -Minimum $minimumFile
}
if (-not $ok) {
    throw ('After installing {0} the URL Rewrite module reports product version {1} (needs {2} or later) and rewrite.dll file version {3} (needs {4} or later).' -f $package, $after.product_version, $minimum, $after.file_version, $minimumFile)
}
@{ changed = $true; data = [ordered]@{ before = $before; after = $after }; steps = $steps }
